"""Which shared libraries a native file needs from the payload, in load order.

A library loaded from a memfd has no `$ORIGIN`, so whatever it needs from the payload
must already be loaded: the loader then satisfies `DT_NEEDED` by SONAME.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from xbuild.audit.elf import read_elf


def soname_map(libraries: Mapping[str, Path]) -> dict[str, str]:
    """SONAME (else file name) -> payload path, for every shared library offered."""
    names: dict[str, str] = {}
    for relpath, path in sorted(libraries.items()):
        info = read_elf(path)
        names.setdefault(info.soname or path.name, relpath)
        names.setdefault(path.name, relpath)
    return names


def load_order(path: Path, names: Mapping[str, str], files: Mapping[str, Path]) -> list[str]:
    """Payload paths of the libraries `path` needs, dependencies first; system libraries are left out."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(file: Path) -> None:
        for needed in read_elf(file).needed:
            relpath = names.get(needed)
            if relpath is None or relpath in seen:
                continue
            seen.add(relpath)
            visit(files[relpath])
            order.append(relpath)

    visit(path)
    return order
