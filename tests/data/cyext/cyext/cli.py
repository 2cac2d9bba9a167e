import sys

from cyext import _fast


def main():
    name = _fast.__file__.replace(chr(92), "/").rsplit("/", 1)[-1]
    print(f"{name} sum_squares(1000)={_fast.sum_squares(1000)} long_bits={_fast.long_bits()}")
    return 0
