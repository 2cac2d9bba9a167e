/* xbuild one-file launcher (Linux glibc): the executable IS the application.
 *
 * The file is this launcher followed by a zip archive (the payload, see
 * runtime/README.md). The launcher does not link libpython: it reads libpython and the
 * libraries it needs from the payload into memfd_create() files, dlopen()s them as
 * /proc/self/fd/N in dependency order, resolves the few Py* functions it calls with
 * dlsym(), and starts CPython isolated with sys.path = [<exe>, <exe>/<stdlib>]:
 * zipimport reads the bytecode straight from the executable. A builtin module,
 * _xbuild_onefile, lets the Python side (runtime/onefile_boot.py) dlopen the
 * dependencies of extension modules and ask for the extract-once cache.
 *
 * When memfd is refused (ENOSYS, EPERM, SELinux denying the map, no /proc, or the
 * test switch XBUILD_ONEFILE_NO_MEMFD=1), the native files are extracted once into
 * $XDG_CACHE_HOME/xbuild-onefile/<payload hash>/ (else ~/.cache/...): under an flock,
 * into <hash>.work-<pid>, with a marker written last, then renamed into place. A later
 * start only checks the marker. Never /tmp.
 *
 * Compiled per target and entry point by zig with XBUILD_ENTRY_MODULE/HEAD/TAIL,
 * and XBUILD_STDLIB, against the runtime's headers only.
 *
 * XBUILD_ONEFILE_STATIC (fully static runtimes, musl): the launcher is linked with the
 * whole interpreter (the runtime's static_link), so there is no libpython to load and
 * nothing native in the payload: the Py* pointers name the linked functions, and only
 * the bytecode comes from the appended archive. No loader, no libc on the machine.
 */
#define _GNU_SOURCE
#include <Python.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>
#include <wchar.h>

#define WIDEN2(x) L##x
#define WIDEN(x) WIDEN2(x)

#if !defined(XBUILD_ENTRY_MODULE) || !defined(XBUILD_ENTRY_HEAD) || !defined(XBUILD_ENTRY_TAIL) || !defined(XBUILD_STDLIB)
#error "XBUILD_ENTRY_MODULE, XBUILD_ENTRY_HEAD, XBUILD_ENTRY_TAIL and XBUILD_STDLIB must be defined"
#endif

#define TRAILER_SIZE 128 /* the zip comment: "xbuild-onefile 1 <manifest offset> <size> <hash>", space padded */
#define MAX_ENTRIES 4096
#define MFD_CLOEXEC_ 0x0001U
#define MFD_NOEXEC_SEAL_ 0x0008U

/* The Py* functions this launcher calls, resolved from the memfd-loaded libpython. */
#define PY_FUNCTIONS(X) \
    X(PyPreConfig_InitIsolatedConfig) X(Py_PreInitialize) X(PyConfig_InitIsolatedConfig) X(PyConfig_SetString) \
    X(PyConfig_SetBytesArgv) X(PyWideStringList_Append) X(Py_InitializeFromConfig) X(PyConfig_Clear) X(Py_RunMain) \
    X(PyStatus_Exception) X(PyStatus_IsExit) X(Py_ExitStatusException) X(PyStatus_Error) X(Py_DecodeLocale) \
    X(PyMem_RawFree) X(PyImport_AppendInittab) X(PyModule_Create2) X(PyUnicode_AsUTF8) X(PyUnicode_DecodeFSDefault) \
    X(PyErr_SetString) X(PyBool_FromLong) X(PyLong_FromLongLong)
#define DECLARE(name) static __typeof__(&name) p_##name;
PY_FUNCTIONS(DECLARE)
static PyObject **p_PyExc_OSError;
static PyObject *p_None;

struct entry {
    long long offset;
    long long size;
    unsigned mode;
    char path[PATH_MAX];
};

static int exe_fd = -1;
static long long payload_base;
static char exe_path[PATH_MAX];
static char payload_hash[80];
static struct entry boot[64];   /* libpython's dependencies then libpython, in load order */
static int n_boot;
static struct entry *files;     /* everything the cache holds */
static int n_files;
static int use_memfd = 1;
static char cache_dir[PATH_MAX]; /* set once the cache is whole */

static void fail(const char *what, const char *detail) {
    fprintf(stderr, "%s: %s%s%s\n", XBUILD_ENTRY_MODULE, what, detail ? ": " : "", detail ? detail : "");
}

/* ---- reading the payload ---------------------------------------------------- */

static int read_at(void *buf, size_t size, off_t offset) {
    size_t done = 0;
    while (done < size) {
        ssize_t n = pread(exe_fd, (char *)buf + done, size - done, offset + (off_t)done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        done += (size_t)n;
    }
    return 0;
}

/* The manifest (a stored member) lists the boot libraries and the cache's files:
 *   boot <offset> <size> <mode> <path>
 *   file <offset> <size> <mode> <path>   */
static int read_manifest(void) {
    struct stat st;
    if (fstat(exe_fd, &st) != 0 || st.st_size < TRAILER_SIZE) return -1;
    char trailer[TRAILER_SIZE + 1];
    if (read_at(trailer, TRAILER_SIZE, st.st_size - TRAILER_SIZE) != 0) return -1;
    trailer[TRAILER_SIZE] = '\0';
    long long moff, msize, zsize;
    if (sscanf(trailer, "xbuild-onefile 1 %lld %lld %79s %lld", &moff, &msize, payload_hash, &zsize) != 4) return -1;
    if (zsize <= 0 || zsize > st.st_size) return -1;
    payload_base = st.st_size - zsize; /* offsets count from the zip's first byte */
    moff += payload_base;
    if (moff < 0 || msize <= 0 || moff + msize > st.st_size) return -1;
    char *text = malloc((size_t)msize + 1);
    if (text == NULL || read_at(text, (size_t)msize, moff) != 0) return -1;
    text[msize] = '\0';
    files = calloc(MAX_ENTRIES, sizeof(struct entry));
    if (files == NULL) return -1;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char kind[8];
        struct entry e;
        if (sscanf(line, "%7s %lld %lld %o %4095s", kind, &e.offset, &e.size, &e.mode, e.path) != 5) return -1;
        if (strstr(e.path, "..") || e.path[0] == '/') return -1;
        e.offset += payload_base;
        if (e.offset < payload_base || e.size < 0 || e.offset + e.size > st.st_size) return -1;
        if (strcmp(kind, "boot") == 0 && n_boot < 64) boot[n_boot++] = e;
        else if (strcmp(kind, "file") == 0 && n_files < MAX_ENTRIES) files[n_files++] = e;
        else return -1;
    }
    free(text);
#ifdef XBUILD_ONEFILE_STATIC
    return n_boot == 0 ? 0 : -1; /* nothing to load: the interpreter is linked in */
#else
    return n_boot > 0 ? 0 : -1;
#endif
}

static int copy_out(int fd, const struct entry *e) {
    off_t offset = (off_t)e->offset;
    long long left = e->size;
    while (left > 0) {
        ssize_t n = sendfile(fd, exe_fd, &offset, left > 0x40000000 ? 0x40000000 : (size_t)left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        left -= n;
    }
    return 0;
}

/* ---- memfd ----------------------------------------------------------------- */

static int memfd_of(const struct entry *e, char *fdpath, size_t size) {
    const char *name = strrchr(e->path, '/');
    name = name ? name + 1 : e->path;
    int fd = (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC_ | MFD_NOEXEC_SEAL_);
    if (fd < 0 && errno == EINVAL) fd = (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC_); /* before Linux 6.3 */
    if (fd < 0) return -1;
    if (copy_out(fd, e) != 0) {
        close(fd);
        return -1;
    }
    snprintf(fdpath, size, "/proc/self/fd/%d", fd);
    return fd;
}

/* ---- the extract-once cache -------------------------------------------------- */

static int mkdirs(char *path) {
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        int r = mkdir(path, 0755);
        *p = '/';
        if (r != 0 && errno != EEXIST) return -1;
    }
    return (mkdir(path, 0755) == 0 || errno == EEXIST) ? 0 : -1;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

static void remove_tree(const char *path) { nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS); }

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static int cache_root(char *out, size_t size) {
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int n;
    if (xdg && xdg[0] == '/') n = snprintf(out, size, "%s/xbuild-onefile", xdg);
    else if (home && home[0] == '/') n = snprintf(out, size, "%s/.cache/xbuild-onefile", home);
    else return -1;
    return (n > 0 && (size_t)n < size) ? 0 : -1;
}

static int extract_into(const char *work) {
    char path[PATH_MAX];
    for (int i = 0; i < n_files; i++) {
        const struct entry *e = &files[i];
        if (snprintf(path, sizeof path, "%s/%s", work, e->path) >= (int)sizeof path) return -1;
        char *slash = strrchr(path, '/');
        *slash = '\0';
        if (mkdirs(path) != 0) return -1;
        *slash = '/';
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, e->mode & 0777 ? e->mode & 0777 : 0644);
        if (fd < 0) return -1;
        struct stat st;
        int bad = copy_out(fd, e) != 0 || fstat(fd, &st) != 0 || st.st_size != e->size;
        if (close(fd) != 0 || bad) return -1;
    }
    if (snprintf(path, sizeof path, "%s/.xbuild-complete", work) >= (int)sizeof path) return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    int bad = write(fd, payload_hash, strlen(payload_hash)) < 0 || fsync(fd) != 0;
    return (close(fd) != 0 || bad) ? -1 : 0;
}

/* The cache folder, whole; extracted (under a lock) by the first start that needs it. */
static const char *ensure_cache(void) {
    if (cache_dir[0]) return cache_dir;
    char root[PATH_MAX], final[PATH_MAX], marker[PATH_MAX], lock[PATH_MAX], work[PATH_MAX];
    if (cache_root(root, sizeof root) != 0) { errno = ENOENT; return NULL; }
    snprintf(final, sizeof final, "%s/%s", root, payload_hash);
    snprintf(marker, sizeof marker, "%s/.xbuild-complete", final);
    if (exists(marker)) {
        strcpy(cache_dir, final);
        return cache_dir;
    }
    if (mkdirs(root) != 0) return NULL;
    snprintf(lock, sizeof lock, "%s/%s.lock", root, payload_hash);
    int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lfd < 0) return NULL;
    while (flock(lfd, LOCK_EX) != 0) {
        if (errno != EINTR) { close(lfd); return NULL; }
    }
    const char *result = NULL;
    if (exists(marker)) {
        result = final; /* another start finished it while we waited */
    } else {
        /* Under the lock nobody else is extracting: anything here is from a killed run. */
        remove_tree(final);
        snprintf(work, sizeof work, "%s/%s.work", root, payload_hash);
        remove_tree(work);
        if (mkdirs(work) == 0 && extract_into(work) == 0 && rename(work, final) == 0) result = final;
        else { int saved = errno; remove_tree(work); errno = saved; }
    }
    close(lfd); /* releases the lock */
    if (result) strcpy(cache_dir, result);
    return result;
}

/* ---- loading libpython --------------------------------------------------------- */

#ifdef XBUILD_ONEFILE_STATIC
static void *load_boot(void) { return (void *)&Py_RunMain; } /* linked in */

static int resolve(void *lib) {
    (void)lib;
#define RESOLVE(name) p_##name = &name;
    PY_FUNCTIONS(RESOLVE)
    p_PyExc_OSError = &PyExc_OSError;
    p_None = Py_None;
    return 0;
}
#else
static void *load_boot(void) {
    void *handle = NULL;
    char path[PATH_MAX];
    if (use_memfd) {
        for (int i = 0; i < n_boot; i++) {
            int fd = memfd_of(&boot[i], path, sizeof path);
            if (fd < 0) break;
            /* The fd stays open: glibc knows loaded objects by path name, so a closed fd's
             * number (hence "/proc/self/fd/N") must never name another library. */
            handle = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
            if (handle == NULL) { close(fd); break; } /* e.g. SELinux denies mapping memfd pages executable */
            if (i == n_boot - 1) return handle;
        }
        use_memfd = 0; /* the libraries already loaded stay; the rest come from the cache */
    }
    const char *dir = ensure_cache();
    if (dir == NULL) {
        fail("cannot load from memory and cannot write the cache folder ($XDG_CACHE_HOME or ~/.cache)", strerror(errno));
        return NULL;
    }
    for (int i = 0; i < n_boot; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, boot[i].path);
        handle = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
        if (handle == NULL) {
            fail("cannot load the bundled Python runtime", dlerror());
            return NULL;
        }
    }
    return handle;
}

static int resolve(void *lib) {
#define RESOLVE(name) if ((p_##name = (__typeof__(&name))dlsym(lib, #name)) == NULL) { fail("libpython lacks", #name); return -1; }
    PY_FUNCTIONS(RESOLVE)
    p_PyExc_OSError = (PyObject **)dlsym(lib, "PyExc_OSError");
    p_None = (PyObject *)dlsym(lib, "_Py_NoneStruct");
    return (p_PyExc_OSError && p_None) ? 0 : -1;
}
#endif

/* ---- the _xbuild_onefile module --------------------------------------------------- */

static PyObject *m_dlopen(PyObject *self, PyObject *arg) {
    (void)self;
    const char *path = p_PyUnicode_AsUTF8(arg);
    if (path == NULL) return NULL;
    if (dlopen(path, RTLD_NOW | RTLD_LOCAL) == NULL) {
        p_PyErr_SetString(*p_PyExc_OSError, dlerror());
        return NULL;
    }
    return p_PyBool_FromLong(1);
}

static PyObject *m_cache(PyObject *self, PyObject *unused) {
    (void)self; (void)unused;
    const char *dir = ensure_cache();
    if (dir == NULL) {
        p_PyErr_SetString(*p_PyExc_OSError, "cannot write the extract-once cache ($XDG_CACHE_HOME or ~/.cache)");
        return NULL;
    }
    return p_PyUnicode_DecodeFSDefault(dir);
}

static PyObject *m_memfd(PyObject *self, PyObject *unused) {
    (void)self; (void)unused;
    return p_PyBool_FromLong(use_memfd);
}

#include "onefile_module.h"

/* ---- main -------------------------------------------------------------------------- */

static PyStatus append(PyConfig *config, const wchar_t *base, const wchar_t *rel) {
    wchar_t path[PATH_MAX + 64];
    swprintf(path, sizeof path / sizeof path[0], L"%ls/%ls", base, rel);
    return p_PyWideStringList_Append(&config->module_search_paths, path);
}

int main(int argc, char **argv) {
    exe_fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    ssize_t n = readlink("/proc/self/exe", exe_path, sizeof exe_path - 1);
    if (exe_fd < 0 || n <= 0) {
        fail("cannot read its own executable (is /proc mounted?)", strerror(errno));
        return 127;
    }
    exe_path[n] = '\0';
    if (read_manifest() != 0) {
        fail("the application's payload is missing or damaged; reinstall it", exe_path);
        return 127;
    }
    const char *no_memfd = getenv("XBUILD_ONEFILE_NO_MEMFD"); /* test switch: exercise the cache path */
    if (no_memfd && strcmp(no_memfd, "1") == 0) use_memfd = 0;
    void *lib = load_boot();
    if (lib == NULL || resolve(lib) != 0) return 127;

    PyStatus status;
    PyPreConfig preconfig;
    p_PyPreConfig_InitIsolatedConfig(&preconfig);
    preconfig.utf8_mode = 1;
    status = p_Py_PreInitialize(&preconfig);
    if (p_PyStatus_Exception(status)) {
        if (p_PyStatus_IsExit(status)) return status.exitcode;
        p_Py_ExitStatusException(status);
    }
    wchar_t *exe = p_Py_DecodeLocale(exe_path, NULL);
    if (exe == NULL) return 127;

    if (p_PyImport_AppendInittab("_xbuild_onefile", init_module) != 0) return 127;

    PyConfig config;
    p_PyConfig_InitIsolatedConfig(&config);
    config.site_import = 0;
    config.write_bytecode = 0;
    config.parse_argv = 0;
    config.module_search_paths_set = 1;
    status = p_PyConfig_SetString(&config, &config.executable, exe);
    if (p_PyStatus_Exception(status)) goto error;
    status = p_PyConfig_SetString(&config, &config.home, exe);
    if (p_PyStatus_Exception(status)) goto error;
    status = p_PyConfig_SetBytesArgv(&config, argc, argv);
    if (p_PyStatus_Exception(status)) goto error;
    status = p_PyWideStringList_Append(&config.module_search_paths, exe); /* the app: the archive's root */
    if (p_PyStatus_Exception(status)) goto error;
    status = append(&config, exe, WIDEN(XBUILD_STDLIB));
    if (p_PyStatus_Exception(status)) goto error;
    status = p_PyConfig_SetString(&config, &config.run_command,
        L"import sys, _xbuild_onefile_boot\n"
        L"from " WIDEN(XBUILD_ENTRY_MODULE) L" import " WIDEN(XBUILD_ENTRY_HEAD) L" as _entry\n"
        L"sys.exit(_entry" WIDEN(XBUILD_ENTRY_TAIL) L"())\n");
    if (p_PyStatus_Exception(status)) goto error;
    p_PyMem_RawFree(exe);

    status = p_Py_InitializeFromConfig(&config);
    if (p_PyStatus_Exception(status)) goto error;
    p_PyConfig_Clear(&config);
    return p_Py_RunMain();

error:
    p_PyConfig_Clear(&config);
    if (p_PyStatus_IsExit(status)) return status.exitcode;
    p_Py_ExitStatusException(status);
    return 1;
}
