"""Needs Python 3.12 or newer (a `type` statement), built on an older host."""

import sys

type Pair = tuple[int, int]


def main() -> int:
    pair: Pair = (3, 12)
    print(f"reqpy312 on {sys.version_info[0]}.{sys.version_info[1]} >= {pair[0]}.{pair[1]}")
    return 0
