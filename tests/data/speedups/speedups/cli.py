"""Import each package's compiled module by name, use it, and print where it was loaded from."""

import importlib
import sys


def _markupsafe():
    from markupsafe import _speedups

    return _speedups, _speedups._escape_inner("<a & b>")


def _pyrsistent():
    import pvectorc

    return pvectorc, list(pvectorc.pvector([1, 2]).append(3))


def _simplejson():
    from simplejson import _speedups

    return _speedups, _speedups.encode_basestring_ascii("\u00e9")


def _msgpack():
    from msgpack import _cmsgpack

    return _cmsgpack, _cmsgpack.unpackb(_cmsgpack.Packer().pack({"a": [1, 2]}))


def _wrapt():
    from wrapt import _wrappers

    return _wrappers, len(_wrappers.ObjectProxy([1, 2, 3]))


def _brotli():
    import _brotli
    import brotli

    return _brotli, brotli.decompress(brotli.compress(b"xbuild " * 10)).count(b"xbuild")


def _lz4():
    from lz4.block import _block

    return _block, len(_block.decompress(_block.compress(b"z" * 1000)))


def _yaml():
    import yaml
    from yaml import _yaml

    return _yaml, yaml.load("a: [1, 2]\nb: {c: d}\n", Loader=yaml.CSafeLoader)


CHECKS = {"markupsafe": _markupsafe, "pyrsistent": _pyrsistent, "simplejson": _simplejson, "msgpack": _msgpack,
          "wrapt": _wrapt, "brotli": _brotli, "lz4": _lz4, "pyyaml": _yaml}


def main():
    names = sys.argv[1:] or list(CHECKS)
    failed = 0
    for name in names:
        try:
            module, value = CHECKS[name]()
            print(f"{name}: {module.__name__} {module.__file__.replace(chr(92), '/').rsplit('/', 1)[-1]} {value!r}")
        except Exception as e:  # report every package, then fail
            print(f"{name}: FAILED {e.__class__.__name__}: {e}")
            failed += 1
    print(f"byteorder={sys.byteorder} platform={sys.platform}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
