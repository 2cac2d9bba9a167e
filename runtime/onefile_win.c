/* xbuild one-file launcher (Windows): the .exe IS the application.
 *
 * The file is this launcher followed by the payload zip (see runtime/README.md), as on
 * Linux. Windows cannot load a DLL from memory in a supported way (MemoryModule-style
 * loaders break on python3XY.dll), so the native files (python3XY.dll, the CRT, the
 * stdlib's and the app's .pyd and their DLLs) are extracted ONCE into
 * %LOCALAPPDATA%\xbuild-onefile\<payload hash>\ (never the temp folder): under a lock
 * (LockFileEx on <hash>.lock), into <hash>.work-<pid>, each file's size checked, a
 * marker written last, then renamed into place. A later start only checks the marker;
 * a folder without it (a killed first run) is removed and extracted again.
 *
 * Then python3XY.dll is loaded from there, the Py* functions it needs are resolved with
 * GetProcAddress, and CPython starts isolated with sys.path = [<exe>, <exe>\Lib,
 * <cache>\rt\DLLs]: zipimport reads Python code from the executable itself;
 * runtime/onefile_boot.py finds the app's extension modules in the cache.
 *
 * Compiled per entry point by zig with XBUILD_ENTRY_MODULE/HEAD/TAIL and XBUILD_STDLIB,
 * against the runtime's headers only (no import library: the DLL is found at run time).
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <Python.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#define WIDEN2(x) L##x
#define WIDEN(x) WIDEN2(x)

#if !defined(XBUILD_ENTRY_MODULE) || !defined(XBUILD_ENTRY_HEAD) || !defined(XBUILD_ENTRY_TAIL) || !defined(XBUILD_STDLIB)
#error "XBUILD_ENTRY_MODULE, XBUILD_ENTRY_HEAD, XBUILD_ENTRY_TAIL and XBUILD_STDLIB must be defined"
#endif

#define TRAILER_SIZE 128 /* the zip comment: "xbuild-onefile 1 <manifest offset> <size> <hash> <zip size>" */
#define MAX_ENTRIES 4096
#define WPATH 32768

#define PY_FUNCTIONS(X) \
    X(PyPreConfig_InitIsolatedConfig) X(Py_PreInitialize) X(PyConfig_InitIsolatedConfig) X(PyConfig_SetString) \
    X(PyConfig_SetArgv) X(PyWideStringList_Append) X(Py_InitializeFromConfig) X(PyConfig_Clear) X(Py_RunMain) \
    X(PyStatus_Exception) X(PyStatus_IsExit) X(Py_ExitStatusException) X(PyImport_AppendInittab) X(PyModule_Create2) \
    X(PyUnicode_AsWideCharString) X(PyUnicode_FromWideChar) X(PyUnicode_DecodeFSDefault) X(PyErr_SetString) \
    X(PyBool_FromLong) X(PyLong_FromLongLong) X(PyMem_Free)
#define DECLARE(name) static __typeof__(&name) p_##name;
PY_FUNCTIONS(DECLARE)
static PyObject **p_PyExc_OSError;

struct entry {
    long long offset;
    long long size;
    char path[MAX_PATH];
};

static HANDLE exe_h = INVALID_HANDLE_VALUE;
static long long payload_base;
static wchar_t exe_path[WPATH];
static char payload_hash[80];
static struct entry boot;       /* python3XY.dll */
static struct entry *files;     /* everything the cache holds */
static int n_files;
static wchar_t cache_dir[WPATH]; /* set once the cache is whole */

static void fail(const char *what, unsigned long code) {
    fprintf(stderr, "%s: %s (Windows error %lu)\n", XBUILD_ENTRY_MODULE, what, code);
}

/* ---- reading the payload ---------------------------------------------------- */

static int read_at(void *buf, DWORD size, long long offset) {
    DWORD done = 0;
    while (done < size) {
        OVERLAPPED ov = {0};
        long long at = offset + done;
        ov.Offset = (DWORD)(at & 0xffffffff);
        ov.OffsetHigh = (DWORD)(at >> 32);
        DWORD got = 0;
        if (!ReadFile(exe_h, (char *)buf + done, size - done, &got, &ov) || got == 0) return -1;
        done += got;
    }
    return 0;
}

/*   boot <offset> <size> <mode> <path>   and   file <offset> <size> <mode> <path>   */
static int read_manifest(void) {
    LARGE_INTEGER st;
    if (!GetFileSizeEx(exe_h, &st) || st.QuadPart < TRAILER_SIZE) return -1;
    char trailer[TRAILER_SIZE + 1];
    if (read_at(trailer, TRAILER_SIZE, st.QuadPart - TRAILER_SIZE) != 0) return -1;
    trailer[TRAILER_SIZE] = '\0';
    long long moff, msize, zsize;
    if (sscanf(trailer, "xbuild-onefile 1 %lld %lld %79s %lld", &moff, &msize, payload_hash, &zsize) != 4) return -1;
    if (zsize <= 0 || zsize > st.QuadPart) return -1;
    payload_base = st.QuadPart - zsize;
    moff += payload_base;
    if (moff < 0 || msize <= 0 || msize > (1 << 24) || moff + msize > st.QuadPart) return -1;
    char *text = malloc((size_t)msize + 1);
    if (text == NULL || read_at(text, (DWORD)msize, moff) != 0) return -1;
    text[msize] = '\0';
    files = calloc(MAX_ENTRIES, sizeof(struct entry));
    if (files == NULL) return -1;
    int have_boot = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char kind[8];
        unsigned mode;
        struct entry e;
        if (sscanf(line, "%7s %lld %lld %o %259s", kind, &e.offset, &e.size, &mode, e.path) != 5) return -1;
        if (strstr(e.path, "..") || e.path[0] == '/' || strchr(e.path, ':')) return -1;
        e.offset += payload_base;
        if (e.offset < payload_base || e.size < 0 || e.offset + e.size > st.QuadPart) return -1;
        for (char *c = e.path; *c; c++) if (*c == '/') *c = '\\';
        if (strcmp(kind, "boot") == 0) { boot = e; have_boot = 1; }
        else if (strcmp(kind, "file") == 0 && n_files < MAX_ENTRIES) files[n_files++] = e;
        else return -1;
    }
    free(text);
    return have_boot ? 0 : -1;
}

/* ---- the extract-once cache -------------------------------------------------- */

static int is_dir(const wchar_t *path) {
    DWORD a = GetFileAttributesW(path);
    return a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY);
}

static int is_file(const wchar_t *path) {
    DWORD a = GetFileAttributesW(path);
    return a != INVALID_FILE_ATTRIBUTES && !(a & FILE_ATTRIBUTE_DIRECTORY);
}

static int mkdirs(wchar_t *path) {
    for (wchar_t *p = path + 3; *p; p++) { /* after "C:\" */
        if (*p != L'\\') continue;
        *p = 0;
        BOOL ok = CreateDirectoryW(path, NULL) || GetLastError() == ERROR_ALREADY_EXISTS;
        *p = L'\\';
        if (!ok) return -1;
    }
    return (CreateDirectoryW(path, NULL) || GetLastError() == ERROR_ALREADY_EXISTS) ? 0 : -1;
}

static void remove_tree(const wchar_t *path) {
    wchar_t pattern[WPATH], child[WPATH];
    WIN32_FIND_DATAW fd;
    _snwprintf(pattern, WPATH, L"%ls\\*", path);
    HANDLE h = FindFirstFileW(pattern, &fd);
    if (h != INVALID_HANDLE_VALUE) {
        do {
            if (wcscmp(fd.cFileName, L".") == 0 || wcscmp(fd.cFileName, L"..") == 0) continue;
            _snwprintf(child, WPATH, L"%ls\\%ls", path, fd.cFileName);
            if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) remove_tree(child);
            else { SetFileAttributesW(child, FILE_ATTRIBUTE_NORMAL); DeleteFileW(child); }
        } while (FindNextFileW(h, &fd));
        FindClose(h);
    }
    RemoveDirectoryW(path);
}

/* Work folders of this payload left by killed runs: <hash>.work-<pid>. Only called under the lock. */
static void remove_leftovers(const wchar_t *root) {
    wchar_t pattern[WPATH], child[WPATH];
    WIN32_FIND_DATAW fd;
    _snwprintf(pattern, WPATH, L"%ls\\%hs.work-*", root, payload_hash);
    HANDLE h = FindFirstFileW(pattern, &fd);
    if (h == INVALID_HANDLE_VALUE) return;
    do {
        _snwprintf(child, WPATH, L"%ls\\%ls", root, fd.cFileName);
        remove_tree(child);
    } while (FindNextFileW(h, &fd));
    FindClose(h);
}

static int copy_out(HANDLE out, const struct entry *e) {
    static char buf[1 << 16];
    long long done = 0;
    while (done < e->size) {
        DWORD chunk = (DWORD)((e->size - done) < (long long)sizeof buf ? (e->size - done) : (long long)sizeof buf);
        DWORD wrote = 0;
        if (read_at(buf, chunk, e->offset + done) != 0) return -1;
        if (!WriteFile(out, buf, chunk, &wrote, NULL) || wrote != chunk) return -1;
        done += chunk;
    }
    return 0;
}

static int extract_into(const wchar_t *work) {
    wchar_t path[WPATH];
    for (int i = 0; i < n_files; i++) {
        const struct entry *e = &files[i];
        _snwprintf(path, WPATH, L"%ls\\%hs", work, e->path);
        wchar_t *slash = wcsrchr(path, L'\\');
        *slash = 0;
        if (mkdirs(path) != 0) return -1;
        *slash = L'\\';
        HANDLE out = CreateFileW(path, GENERIC_WRITE, 0, NULL, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, NULL);
        if (out == INVALID_HANDLE_VALUE) return -1;
        LARGE_INTEGER size;
        int bad = copy_out(out, e) != 0 || !FlushFileBuffers(out) || !GetFileSizeEx(out, &size) || size.QuadPart != e->size;
        if (!CloseHandle(out) || bad) return -1;
    }
    _snwprintf(path, WPATH, L"%ls\\.xbuild-complete", work);
    HANDLE m = CreateFileW(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    if (m == INVALID_HANDLE_VALUE) return -1;
    DWORD wrote = 0;
    int bad = !WriteFile(m, payload_hash, (DWORD)strlen(payload_hash), &wrote, NULL) || !FlushFileBuffers(m);
    return (!CloseHandle(m) || bad) ? -1 : 0;
}

/* The cache folder, whole; extracted (under a lock) by the first start that needs it. */
static const wchar_t *ensure_cache(void) {
    if (cache_dir[0]) return cache_dir;
    wchar_t base[WPATH], root[WPATH], final[WPATH], marker[WPATH], lock[WPATH], work[WPATH];
    DWORD n = GetEnvironmentVariableW(L"LOCALAPPDATA", base, WPATH);
    if (n == 0 || n >= WPATH) { SetLastError(ERROR_ENVVAR_NOT_FOUND); return NULL; }
    _snwprintf(root, WPATH, L"%ls\\xbuild-onefile", base);
    _snwprintf(final, WPATH, L"%ls\\%hs", root, payload_hash);
    _snwprintf(marker, WPATH, L"%ls\\.xbuild-complete", final);
    if (is_file(marker)) {
        wcscpy(cache_dir, final);
        return cache_dir;
    }
    if (mkdirs(root) != 0) return NULL;
    _snwprintf(lock, WPATH, L"%ls\\%hs.lock", root, payload_hash);
    HANDLE lh = CreateFileW(lock, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    if (lh == INVALID_HANDLE_VALUE) return NULL;
    OVERLAPPED ov = {0};
    if (!LockFileEx(lh, LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, &ov)) { CloseHandle(lh); return NULL; }
    const wchar_t *result = NULL;
    DWORD error = 0;
    if (is_file(marker)) {
        result = final; /* another start finished it while we waited */
    } else {
        /* Under the lock nobody else is extracting: anything here is from a killed run. */
        if (is_dir(final)) remove_tree(final);
        remove_leftovers(root);
        _snwprintf(work, WPATH, L"%ls\\%hs.work-%lu", root, payload_hash, GetCurrentProcessId());
        if (mkdirs(work) == 0 && extract_into(work) == 0 && MoveFileExW(work, final, 0)) result = final;
        else { error = GetLastError(); remove_tree(work); }
    }
    UnlockFileEx(lh, 0, 1, 0, &ov);
    CloseHandle(lh);
    if (result) wcscpy(cache_dir, result);
    else SetLastError(error);
    return result;
}

/* ---- the _xbuild_onefile module --------------------------------------------------- */

static PyObject *m_dlopen(PyObject *self, PyObject *arg) {
    (void)self;
    wchar_t *path = p_PyUnicode_AsWideCharString(arg, NULL);
    if (path == NULL) return NULL;
    HMODULE h = LoadLibraryExW(path, NULL, LOAD_WITH_ALTERED_SEARCH_PATH);
    p_PyMem_Free(path);
    if (h == NULL) {
        p_PyErr_SetString(*p_PyExc_OSError, "LoadLibraryExW failed");
        return NULL;
    }
    return p_PyBool_FromLong(1);
}

static PyObject *m_cache(PyObject *self, PyObject *unused) {
    (void)self; (void)unused;
    const wchar_t *dir = ensure_cache();
    if (dir == NULL) {
        p_PyErr_SetString(*p_PyExc_OSError, "cannot write the extract-once cache (%LOCALAPPDATA%\\xbuild-onefile)");
        return NULL;
    }
    return p_PyUnicode_FromWideChar(dir, -1);
}

static PyObject *m_memfd(PyObject *self, PyObject *unused) {
    (void)self; (void)unused;
    return p_PyBool_FromLong(0);
}

#include "onefile_module.h"

/* ---- main -------------------------------------------------------------------------- */

static int resolve(HMODULE lib) {
#define RESOLVE(name) if ((p_##name = (__typeof__(&name))(void *)GetProcAddress(lib, #name)) == NULL) { fail("python DLL lacks " #name, 0); return -1; }
    PY_FUNCTIONS(RESOLVE)
    p_PyExc_OSError = (PyObject **)(void *)GetProcAddress(lib, "PyExc_OSError");
    return p_PyExc_OSError ? 0 : -1;
}

int wmain(int argc, wchar_t **argv) {
    DWORD n = GetModuleFileNameW(NULL, exe_path, WPATH);
    if (n == 0 || n >= WPATH) { fail("cannot name its own executable", GetLastError()); return 127; }
    exe_h = CreateFileW(exe_path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_DELETE, NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    if (exe_h == INVALID_HANDLE_VALUE || read_manifest() != 0) {
        fprintf(stderr, "%s: the application's payload is missing or damaged; reinstall it\n", XBUILD_ENTRY_MODULE);
        return 127;
    }
    const wchar_t *dir = ensure_cache();
    if (dir == NULL) { fail("cannot write the extract-once cache (%LOCALAPPDATA%\\xbuild-onefile)", GetLastError()); return 127; }
    wchar_t path[WPATH];
    _snwprintf(path, WPATH, L"%ls\\%hs", dir, boot.path);
    HMODULE lib = LoadLibraryExW(path, NULL, LOAD_WITH_ALTERED_SEARCH_PATH);
    if (lib == NULL) { fail("cannot load the bundled Python runtime", GetLastError()); return 127; }
    if (resolve(lib) != 0) return 127;

    PyStatus status;
    PyPreConfig preconfig;
    p_PyPreConfig_InitIsolatedConfig(&preconfig);
    preconfig.utf8_mode = 1;
    status = p_Py_PreInitialize(&preconfig);
    if (p_PyStatus_Exception(status)) {
        if (p_PyStatus_IsExit(status)) return status.exitcode;
        p_Py_ExitStatusException(status);
    }
    if (p_PyImport_AppendInittab("_xbuild_onefile", init_module) != 0) return 127;

    PyConfig config;
    p_PyConfig_InitIsolatedConfig(&config);
    config.site_import = 0;
    config.write_bytecode = 0;
    config.parse_argv = 0;
    config.module_search_paths_set = 1;
    status = p_PyConfig_SetString(&config, &config.executable, exe_path);
    if (p_PyStatus_Exception(status)) goto error;
    status = p_PyConfig_SetString(&config, &config.home, dir);
    if (p_PyStatus_Exception(status)) goto error;
    status = p_PyConfig_SetArgv(&config, argc, argv);
    if (p_PyStatus_Exception(status)) goto error;
    status = p_PyWideStringList_Append(&config.module_search_paths, exe_path); /* the app: the archive's root */
    if (p_PyStatus_Exception(status)) goto error;
    _snwprintf(path, WPATH, L"%ls\\%ls", exe_path, WIDEN(XBUILD_STDLIB));
    status = p_PyWideStringList_Append(&config.module_search_paths, path);
    if (p_PyStatus_Exception(status)) goto error;
    _snwprintf(path, WPATH, L"%ls\\rt\\DLLs", dir); /* the stdlib's extension modules */
    status = p_PyWideStringList_Append(&config.module_search_paths, path);
    if (p_PyStatus_Exception(status)) goto error;
    status = p_PyConfig_SetString(&config, &config.run_command,
        L"import sys, _xbuild_onefile_boot\n"
        L"from " WIDEN(XBUILD_ENTRY_MODULE) L" import " WIDEN(XBUILD_ENTRY_HEAD) L" as _entry\n"
        L"sys.exit(_entry" WIDEN(XBUILD_ENTRY_TAIL) L"())\n");
    if (p_PyStatus_Exception(status)) goto error;

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
