/* The builtin module _xbuild_onefile, shared by onefile.c (Linux) and onefile_win.c.
 *
 * Included after the includer has defined the platform's three functions, m_dlopen
 * (load a native library), m_cache (the extract-once folder) and m_memfd (whether
 * native files load from memory), and the globals payload_hash and payload_base, with
 * the p_* pointers to the Py* functions used here. runtime/onefile_boot.py calls it.
 */

static PyObject *m_hash(PyObject *self, PyObject *unused) {
    (void)self; (void)unused;
    return p_PyUnicode_DecodeFSDefault(payload_hash);
}

static PyObject *m_base(PyObject *self, PyObject *unused) {
    (void)self; (void)unused;
    return p_PyLong_FromLongLong(payload_base);
}

static PyMethodDef methods[] = {
    {"dlopen", m_dlopen, METH_O, "dlopen(path): load a native library (a dependency of an extension module)"},
    {"cache", m_cache, METH_NOARGS, "the extract-once cache folder, extracted now if needed"},
    {"memfd", m_memfd, METH_NOARGS, "whether native files load from memory"},
    {"payload_offset", m_base, METH_NOARGS, "where the payload (zip) starts in the executable"},
    {"payload_hash", m_hash, METH_NOARGS, "the payload's hash (names the cache folder)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_xbuild_onefile", NULL, -1, methods, NULL, NULL, NULL, NULL};

static PyObject *init_module(void) { return p_PyModule_Create2(&module_def, PYTHON_API_VERSION); }
