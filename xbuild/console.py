"""Printing for the CLI: aligned tables, progress bars and status lines on stderr.

Only the CLI prints; library code takes a `Progress` callback where long work
wants to be seen.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain-text table with columns padded to their widest cell."""
    cells = [[str(c) for c in headers], *[[("-" if c is None else str(c)) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def status(message: str) -> None:
    """One line of news about long work, on stderr so stdout stays parseable."""
    print(message, file=sys.stderr, flush=True)


def progress(items: Sequence[T], desc: str, unit: str = "target") -> Iterator[T]:
    """Iterate with a progress bar on a terminal, and one line per item elsewhere (CI logs)."""
    if sys.stderr.isatty():
        bar = tqdm(items, desc=desc, unit=unit, file=sys.stderr, leave=True)
        for item in bar:
            bar.set_postfix_str(str(item))
            yield item
    else:
        for i, item in enumerate(items, 1):
            status(f"{desc} [{i}/{len(items)}] {item}")
            yield item
