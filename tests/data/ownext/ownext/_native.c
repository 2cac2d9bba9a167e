/* Facts only the compiled code knows: pointer width and byte order of the machine it was built for. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

static PyObject *describe(PyObject *self, PyObject *args) {
    uint32_t one = 1;
    const char *order = (*(unsigned char *)&one == 1) ? "little" : "big";
    return PyUnicode_FromFormat("%d-bit %s-endian", (int)(8 * sizeof(void *)), order);
}

static PyObject *fnv1a(PyObject *self, PyObject *args) {
    const char *data;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "y#", &data, &n)) return NULL;
    uint32_t h = 2166136261u;
    for (Py_ssize_t i = 0; i < n; i++) { h ^= (unsigned char)data[i]; h *= 16777619u; }
    return PyLong_FromUnsignedLong(h);
}

static PyMethodDef methods[] = {
    {"describe", describe, METH_NOARGS, "pointer width and byte order"},
    {"fnv1a", fnv1a, METH_VARARGS, "32-bit FNV-1a of bytes"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
