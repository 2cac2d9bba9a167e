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

static void fail(const wchar_t *what, const wchar_t *detail) {
    fwprintf(stderr, L"%ls: %ls\n", what, detail);
}

/* The folder holding this executable, as a wide string. */
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
    if (mbstowcs(out, path, size) == (size_t)-1) return -1;
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
    char narrow[PATH_CHARS];
    if (wcstombs(narrow, path, sizeof(narrow)) == (size_t)-1) return 0;
    return access(narrow, R_OK | X_OK) == 0;
#endif
}

static PyStatus append_path(PyConfig *config, const wchar_t *base, const wchar_t *rel) {
    wchar_t path[PATH_CHARS];
    swprintf(path, PATH_CHARS, L"%ls" SEP L"%ls", base, rel);
    for (wchar_t *p = path; *p; p++) {
        if (*p == L'/' || *p == L'\\') *p = SEP[0];
    }
    return PyWideStringList_Append(&config->module_search_paths, path);
}

static int launch(int argc, void *argv, int wide) {
    wchar_t here[PATH_CHARS], runtime[PATH_CHARS], landmark[PATH_CHARS];
    if (executable_dir(here, PATH_CHARS) != 0) {
        fail(L"xbuild launcher", L"cannot find the folder of this executable");
        return 127;
    }
    swprintf(runtime, PATH_CHARS, L"%ls" SEP WIDEN(XBUILD_RUNTIME_DIR), here);
    swprintf(landmark, PATH_CHARS, L"%ls" SEP L"%ls" SEP L"encodings", runtime, WIDEN(XBUILD_STDLIB));
    for (wchar_t *p = landmark; *p; p++) {
        if (*p == L'/' || *p == L'\\') *p = SEP[0];
    }
    if (!is_dir(landmark)) {
        fwprintf(stderr,
                 L"%ls: the bundled Python runtime is missing or damaged (%ls not found); reinstall the application\n",
                 WIDEN(XBUILD_ENTRY_MODULE), landmark);
        return 127;
    }

    PyStatus status;
    /* UTF-8 mode: argv, file names and I/O are UTF-8 whatever the host's locale says. */
    PyPreConfig preconfig;
    PyPreConfig_InitIsolatedConfig(&preconfig);
    preconfig.utf8_mode = 1;
    status = Py_PreInitialize(&preconfig);
    if (PyStatus_Exception(status)) {
        if (PyStatus_IsExit(status)) return status.exitcode;
        Py_ExitStatusException(status);
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
