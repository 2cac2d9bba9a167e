"""Merge the staged folders of thin macOS builds into one universal2 folder.

Every Mach-O in the result is fat: for each part (x86_64, arm64) it holds the slice for
that part's CPU, taken from that part's own build, so a universal2 wheel and a pair of
thin wheels give the same kind of file. Slices are copied byte for byte, so each keeps
the code signature its linker or xbuild gave it. Other files come from the last part
(arm64): they differ only where a thin build records its own platform (bytecode
timestamps, wheel tags in dist-info), which no loader checks.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from xbuild.errors import BuildError
from xbuild.macho import fat
from xbuild.targets import Target

_CPU = {"x86_64": fat.CPU_X86_64, "aarch64": fat.CPU_ARM64}


def _is_macho(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(8)
    return head[:4] == b"\xcf\xfa\xed\xfe" or fat.is_fat(head)


def _files(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def _slice_for(path: Path, part: Target) -> bytes | None:
    for thin in fat.slices(path.read_bytes()):
        if fat.cpu_of(thin)[0] == _CPU[part.machine]:
            return thin
    return None


def merge_trees(parts: list[tuple[Target, Path]], out: Path, skip: frozenset[str] = frozenset()) -> int:
    """Write into `out` the union of the staged `parts`; returns how many fat files it made.

    A Mach-O that one part lacks, or that lacks the slice for its part's CPU, fails the build
    in one line: it came from a thin-only wheel (or runtime file) with no counterpart.
    """
    listings = [(target, root, _files(root)) for target, root in parts]
    names = sorted({name for _, _, files in listings for name in files} - skip)
    merged = 0
    for name in names:
        dest = out / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        having = [(t, files[name]) for t, _, files in listings if name in files]
        src = having[-1][1]
        if src.is_symlink():
            os.symlink(os.readlink(src), dest)
            continue
        if not any(_is_macho(p) for _, p in having):
            shutil.copy2(src, dest)
            continue
        thins = []
        for target, _root, files in listings:
            path = files.get(name)
            thin = _slice_for(path, target) if path is not None and _is_macho(path) else None
            if thin is None:
                found = "is missing" if path is None else "has no " + target.machine + " code"
                raise BuildError(
                    f"{name} {found} in the {target.triple} part of the universal2 build: it comes from a thin-only wheel or file; "
                    "use a version of its package with a universal2 wheel or a wheel for each CPU"
                )
            thins.append(thin)
        dest.write_bytes(fat.merge(thins))
        shutil.copymode(src, dest)
        merged += 1
    return merged


def merge_records(triple: str, records: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """xbuild-build.json for the merged folder: the last part's, with every part's runtime and wheels."""
    last = list(records.values())[-1]
    wheels = {w["file"] if isinstance(w, dict) and "file" in w else json.dumps(w, sort_keys=True): w for r in records.values() for w in r.get("wheels", [])}
    return {
        **last,
        "target": triple,
        "wheels": list(wheels.values()),
        "parts": {t: {"runtime": r.get("runtime"), "wheels": r.get("wheels")} for t, r in records.items()},
    }
