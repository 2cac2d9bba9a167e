/* xbuild launcher: the executable of a built application.
 *
 * It starts the CPython runtime bundled next to it, isolated from the machine it
 * runs on (no PYTHON* variables, no user site-packages, no current directory on
 * sys.path), with sys.path set to the application and the runtime only, then runs
 * one entry point and returns its exit code. An uncaught exception prints its
 * traceback and exits 1 (Py_RunMain does both).
 *
 * Compiled per target and per entry point by zig, with:
 *   XBUILD_ENTRY_MODULE  the module of the entry point ("yamldigest.cli")
 *   XBUILD_ENTRY_HEAD    the first name of the callable's path in it ("main", or "App" for App.run)
 *   XBUILD_ENTRY_TAIL    the rest of that path ("" or ".run")
 *   XBUILD_STDLIB        the stdlib folder below the runtime ("lib/python3.11" or "Lib")
 *   XBUILD_DYNLOAD       the extension-module folder below the runtime ("lib/python3.11/lib-dynload" or "DLLs")
 * Layout next to the executable: runtime/ (CPython) and app/ (the application and its dependencies).
 */
#include <Python.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#ifdef _WIN32
#include <windows.h>
#define SEP L"\\"
#else
#include <limits.h>
#include <unistd.h>
#ifdef __APPLE__
#include <mach-o/dyld.h>
#endif
#define SEP L"/"
#endif

#define WIDEN2(x) L##x
#define WIDEN(x) WIDEN2(x)

#ifndef XBUILD_ENTRY_MODULE
#error "XBUILD_ENTRY_MODULE must name the entry point's module"
#endif
#if !defined(XBUILD_ENTRY_HEAD) || !defined(XBUILD_ENTRY_TAIL) || !defined(XBUILD_STDLIB) || !defined(XBUILD_DYNLOAD)
#error "XBUILD_ENTRY_HEAD, XBUILD_ENTRY_TAIL, XBUILD_STDLIB and XBUILD_DYNLOAD must be defined"
#endif

#define PATH_CHARS 4096

/* One message on stderr. On POSIX the text is encoded the way Python will encode
 * file names (UTF-8 mode, surrogateescape), so a path in a non-ASCII folder prints
 * as it is even in the C locale, where the wide stdio functions would fail. */
#ifndef _WIN32
/* `text` as UTF-8 with surrogateescape, which is how Python encodes file names in UTF-8
 * mode: lone surrogates U+DC80..U+DCFF stand for the undecodable bytes 0x80..0xFF.
 * Written out rather than Py_EncodeLocale, which allocates with PyMem_Malloc and so
 * needs an initialized interpreter (CPython 3.12+ crashes without one). -1: no room. */
static int to_bytes(const wchar_t *text, char *out, size_t size) {
    size_t n = 0;
    for (const wchar_t *p = text; *p; p++) {
        unsigned long c = (unsigned long)*p;
        unsigned char buf[4];
        size_t len;
        if (c >= 0xDC80 && c <= 0xDCFF) { buf[0] = (unsigned char)(c - 0xDC00); len = 1; }
        else if (c < 0x80) { buf[0] = (unsigned char)c; len = 1; }
        else if (c < 0x800) { buf[0] = (unsigned char)(0xC0 | (c >> 6)); buf[1] = (unsigned char)(0x80 | (c & 0x3F)); len = 2; }
        else if (c < 0x10000) {
            buf[0] = (unsigned char)(0xE0 | (c >> 12)); buf[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
            buf[2] = (unsigned char)(0x80 | (c & 0x3F)); len = 3;
        } else {
            buf[0] = (unsigned char)(0xF0 | (c >> 18)); buf[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
            buf[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F)); buf[3] = (unsigned char)(0x80 | (c & 0x3F)); len = 4;
        }
        if (n + len >= size) return -1;
        memcpy(out + n, buf, len);
        n += len;
    }
    out[n] = '\0';
    return 0;
}
#endif

static void say(const wchar_t *text) {
#ifdef _WIN32
    fwprintf(stderr, L"%ls\n", text);
#else
    char bytes[4 * 2 * PATH_CHARS];
    if (to_bytes(text, bytes, sizeof(bytes)) == 0) {
        fprintf(stderr, "%s\n", bytes);
    } else {
        fputs("xbuild launcher: a message could not be encoded\n", stderr);
    }
#endif
}

/* `out` = `a` SEP `b`; -1 when it does not fit. */
static int join(wchar_t *out, size_t size, const wchar_t *a, const wchar_t *b) {
    int n = swprintf(out, size, L"%ls" SEP L"%ls", a, b);
    if (n < 0 || (size_t)n >= size) return -1;
    for (wchar_t *p = out; *p; p++) {
        if (*p == L'/' || *p == L'\\') *p = SEP[0];
    }
    return 0;
}

/* The folder holding this executable, as a wide string.
 *
 * On POSIX the path is bytes; it is decoded only after Python's UTF-8 mode is set
 * up (Py_DecodeLocale then decodes UTF-8, keeping undecodable bytes as lone
 * surrogates that Python encodes back to the same bytes). mbstowcs would run in the
 * C locale here and refuse every non-ASCII folder name. */
static int executable_dir(wchar_t *out, size_t size) {
#ifdef _WIN32
    DWORD n = GetModuleFileNameW(NULL, out, (DWORD)size);
    if (n == 0 || n >= size) return -1;
#else
    char path[PATH_CHARS];
#ifdef __APPLE__
    uint32_t len = sizeof(path);
    char raw[PATH_CHARS];
    if (_NSGetExecutablePath(raw, &len) != 0 || realpath(raw, path) == NULL) return -1;
#else
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (n <= 0) return -1;
    path[n] = '\0';
#endif
    size_t wlen = 0;
    wchar_t *wide = Py_DecodeLocale(path, &wlen);
    if (wide == NULL) return -1;
    int fits = wlen < size;
    if (fits) wcscpy(out, wide);
    PyMem_RawFree(wide);
    if (!fits) return -1;
#endif
    wchar_t *slash = wcsrchr(out, SEP[0]);
    if (slash == NULL) return -1;
    *slash = L'\0';
    return 0;
}

static int is_dir(const wchar_t *path) {
#ifdef _WIN32
    DWORD attrs = GetFileAttributesW(path);
    return attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_DIRECTORY);
#else
    char narrow[4 * PATH_CHARS];
    return to_bytes(path, narrow, sizeof(narrow)) == 0 && access(narrow, R_OK | X_OK) == 0;
#endif
}

static PyStatus append_path(PyConfig *config, const wchar_t *base, const wchar_t *rel) {
    wchar_t path[PATH_CHARS];
    if (join(path, PATH_CHARS, base, rel) != 0) return PyStatus_Error("path too long");
    return PyWideStringList_Append(&config->module_search_paths, path);
}

static int launch(int argc, void *argv, int wide) {
    PyStatus status;
    /* UTF-8 mode first: argv, file names (this executable's own path too) and I/O are
     * UTF-8 whatever the host's locale says. */
    PyPreConfig preconfig;
    PyPreConfig_InitIsolatedConfig(&preconfig);
    preconfig.utf8_mode = 1;
    status = Py_PreInitialize(&preconfig);
    if (PyStatus_Exception(status)) {
        if (PyStatus_IsExit(status)) return status.exitcode;
        Py_ExitStatusException(status);
    }

    wchar_t here[PATH_CHARS], runtime[PATH_CHARS], stdlib[PATH_CHARS], landmark[PATH_CHARS], message[2 * PATH_CHARS];
    if (executable_dir(here, PATH_CHARS) != 0) {
        say(L"xbuild launcher: cannot find the folder of this executable");
        return 127;
    }
    if (join(runtime, PATH_CHARS, here, WIDEN(XBUILD_RUNTIME_DIR)) != 0 || join(stdlib, PATH_CHARS, runtime, WIDEN(XBUILD_STDLIB)) != 0 ||
        join(landmark, PATH_CHARS, stdlib, L"encodings") != 0) {
        say(L"xbuild launcher: the path of this executable's folder is too long; move the application to a shorter path");
        return 127;
    }
    if (!is_dir(landmark)) {
        swprintf(message, 2 * PATH_CHARS,
                 L"%ls: the bundled Python runtime is missing or damaged (%ls not found); reinstall the application",
                 WIDEN(XBUILD_ENTRY_MODULE), landmark);
        say(message);
        return 127;
    }

    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    config.site_import = 0;      /* sys.path is set here; no site-packages scanning */
    config.write_bytecode = 0;   /* the artifact may be read-only; bytecode is prebuilt */
    config.parse_argv = 0;       /* every argument belongs to the application */
    config.module_search_paths_set = 1;

    status = PyConfig_SetString(&config, &config.home, runtime);
    if (PyStatus_Exception(status)) goto error;
    if (wide) {
        status = PyConfig_SetArgv(&config, argc, (wchar_t *const *)argv);
    } else {
        status = PyConfig_SetBytesArgv(&config, argc, (char *const *)argv);
    }
    if (PyStatus_Exception(status)) goto error;

    status = append_path(&config, here, WIDEN(XBUILD_APP_DIR));
    if (PyStatus_Exception(status)) goto error;
    status = append_path(&config, runtime, WIDEN(XBUILD_STDLIB));
    if (PyStatus_Exception(status)) goto error;
    status = append_path(&config, runtime, WIDEN(XBUILD_DYNLOAD));
    if (PyStatus_Exception(status)) goto error;

    status = PyConfig_SetString(&config, &config.run_command,
        L"import sys\n"
        L"from " WIDEN(XBUILD_ENTRY_MODULE) L" import " WIDEN(XBUILD_ENTRY_HEAD) L" as _entry\n"
        L"sys.exit(_entry" WIDEN(XBUILD_ENTRY_TAIL) L"())\n");
    if (PyStatus_Exception(status)) goto error;

    status = Py_InitializeFromConfig(&config);
    if (PyStatus_Exception(status)) goto error;
    PyConfig_Clear(&config);
    return Py_RunMain();

error:
    PyConfig_Clear(&config);
    if (PyStatus_IsExit(status)) return status.exitcode;
    Py_ExitStatusException(status);
    return 1;
}

#ifdef _WIN32
int wmain(int argc, wchar_t **argv) { return launch(argc, argv, 1); }
#else
int main(int argc, char **argv) { return launch(argc, argv, 0); }
#endif
