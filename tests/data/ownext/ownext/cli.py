import sys

from ownext import _native


def _file(module):
    return module.__file__.replace(chr(92), "/").rsplit("/", 1)[-1]


def main():
    print(f"ownext: {_file(_native)} {_native.describe()} fnv1a={_native.fnv1a(b'xbuild'):08x} byteorder={sys.byteorder}")
    from markupsafe import _speedups

    print(f"markupsafe: {_file(_speedups)} {_speedups._escape_inner('<x>')}")
    import yaml
    from yaml import _yaml

    print(f"pyyaml: {_file(_yaml)} {yaml.load('k: [1, 2]', Loader=yaml.CSafeLoader)}")
    return 0
