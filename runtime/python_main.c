/* The `python3.X` of a runtime that xbuild assembles around a shared libpython
 * (Debian's packages ship the interpreter statically linked, so it cannot find the
 * libraries grafted next to it). This is CPython's own main(), linked per target by
 * zig with an rpath of $ORIGIN/../lib. */
#include <Python.h>

int main(int argc, char **argv) {
    return Py_BytesMain(argc, argv);
}
