"""The libc floor a runtime really has: the highest GLIBC_ version any of its files needs."""

from __future__ import annotations

from pathlib import Path

from xbuild.audit.elf import glibc_floor, is_elf
from xbuild.targets import Target


def elf_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and is_elf(p))


def libc_floor(root: Path, target: Target) -> str | None:
    """For glibc targets, the glibc version the runtime needs; None elsewhere."""
    if target.libc != "glibc":
        return None
    floor, _files = glibc_floor(elf_files(root))
    return floor
