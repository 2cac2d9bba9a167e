"""A dependency-free app with console and GUI entry points, for launcher tests."""

import sys


def main() -> int:
    print("console", sys.argv[1:])
    return 0


def boom() -> None:
    raise RuntimeError("deliberate failure from guiapp")


def gui() -> int:
    return 0
