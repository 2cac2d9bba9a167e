"""Imported by the one-file launcher before the entry point (as `_xbuild_onefile_boot`).

Python code already imports from the executable through zipimport (sys.path holds
`<exe>` and `<exe>/<stdlib>`). This module adds what zipimport cannot do:

- extension modules: a meta-path finder copies the `.so` from the payload into a
  memfd (or takes it from the extract-once cache) after loading the libraries it needs,
  and hands `/proc/self/fd/N` to `ExtensionFileLoader`; the module's `__file__` is then
  set to its place under the executable;
- packages that open data files by a path built from `__file__`: the build put them in
  the extract-once cache, whose `pkgs/` folder goes first on sys.path;
- code objects' file names: zipimport keeps the name given at compile time; they are
  set to `<exe>/<path in the archive>` so tracebacks and inspect name the executable,
  and (3.11) uncaught exceptions print through the traceback module, which reads the
  source lines from the archive.
"""

import _imp
import os
import sys
import zipimport

import _xbuild_onefile as _native
from _xbuild_onefile_index import CACHED_PACKAGES, EXTENSIONS, LIBRARIES

_EXE = sys.executable
_MFD_CLOEXEC = 1
_MFD_NOEXEC_SEAL = 8
_BASE = _native.payload_offset()
_loaded_libraries = set()
_exe_fd = None


def _memfd(relpath, offset, size):
    global _exe_fd
    if _exe_fd is None:
        _exe_fd = os.open("/proc/self/exe", os.O_RDONLY | os.O_CLOEXEC)
    name = relpath.rpartition("/")[2]
    offset += _BASE
    try:
        fd = os.memfd_create(name, _MFD_CLOEXEC | _MFD_NOEXEC_SEAL)
    except OSError:
        fd = os.memfd_create(name, _MFD_CLOEXEC)  # kernels before 6.3 refuse the seal flag
    try:
        while size:
            sent = os.sendfile(fd, _exe_fd, offset, size)
            if not sent:
                raise OSError(f"short read of {relpath} from {_EXE}")
            offset += sent
            size -= sent
    except BaseException:
        os.close(fd)
        raise
    return fd


def _native_file(relpath, offset, size):
    """A path the dynamic loader can open for this payload member.

    A memfd stays open for good: glibc knows loaded objects by path name, so the
    number of a closed one ("/proc/self/fd/N") must never name another library.
    """
    # os.memfd_create exists only where CPython was built against glibc >= 2.27 (not
    # xbuild's 2.17 source runtimes): without it the extract-once cache serves the file.
    if _native.memfd() and hasattr(os, "memfd_create"):
        try:
            fd = _memfd(relpath, offset, size)
        except OSError:
            pass  # refused here (seccomp, SELinux): the cache serves it
        else:
            return f"/proc/self/fd/{fd}"
    return f"{_native.cache()}/{relpath}"


def _load_library(relpath):
    if relpath in _loaded_libraries:
        return
    offset, size = LIBRARIES[relpath]
    _native.dlopen(_native_file(relpath, offset, size))
    _loaded_libraries.add(relpath)


class _ExtensionLoader:
    """Creates the module from the loader's origin, then shows it under the executable."""

    def __init__(self, name, relpath, origin):
        from importlib.machinery import ExtensionFileLoader

        self._inner = ExtensionFileLoader(name, origin)
        self._relpath = relpath

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module):
        self._inner.exec_module(module)
        module.__file__ = f"{_EXE}/{self._relpath}"


class ExtensionFinder:
    """Finds extension modules in the payload (zipimport cannot load them)."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        entry = EXTENSIONS.get(name)
        if entry is None:
            return None
        from importlib.machinery import ModuleSpec

        relpath, offset, size, needs = entry
        for library in needs:
            _load_library(library)
        origin = _native_file(relpath, offset, size)
        spec = ModuleSpec(name, _ExtensionLoader(name, relpath, origin), origin=origin)
        spec.has_location = True
        return spec

    @classmethod
    def invalidate_caches(cls):
        pass


class _Zip(zipimport.zipimporter):
    """zipimport, with code objects named after their place in the executable."""

    def get_code(self, fullname):
        code, _ispackage, modpath = zipimport._get_module_code(self, fullname)
        if modpath.endswith(".pyc"):
            modpath = modpath[:-1]
        _imp._fix_co_filename(code, modpath)
        return code


def _excepthook(kind, value, tb):
    """The traceback module's printer: it reads source lines through the loader (zipimport).

    CPython 3.11's C printer opens source files by name only, so lines from the archive
    would be missing; 3.13's printer already goes through linecache.
    """
    import traceback

    traceback.print_exception(kind, value, tb)


def _install():
    if sys.version_info < (3, 13) and sys.excepthook is sys.__excepthook__:
        sys.excepthook = _excepthook
    sys.path_hooks[:] = [_Zip if hook is zipimport.zipimporter else hook for hook in sys.path_hooks]
    for entry in [p for p in sys.path_importer_cache if p.startswith(_EXE)]:
        del sys.path_importer_cache[entry]
    if CACHED_PACKAGES:
        sys.path.insert(0, f"{_native.cache()}/pkgs")
    from importlib.machinery import PathFinder

    at = sys.meta_path.index(PathFinder) if PathFinder in sys.meta_path else len(sys.meta_path)
    sys.meta_path.insert(at, ExtensionFinder)


_install()
