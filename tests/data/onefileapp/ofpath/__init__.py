"""Package data read by a path built from __file__ (served from the extract-once cache)."""

import os

HERE = os.path.dirname(os.path.abspath(__file__))


def table() -> str:
    with open(os.path.join(HERE, "table.txt"), encoding="utf-8") as f:
        return f.read().strip()
