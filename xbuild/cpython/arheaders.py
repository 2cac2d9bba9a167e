"""Make static archives deterministic: every member header says mtime 0, owner 0:0, mode 644.

Some build systems (ncurses: `ar -curvU`) store each object's modification time in its
`ar` header, so two builds of the same sources differ in those bytes alone. The objects
are untouched; only the header fields that describe the build machine are reset, as
`ar D` (deterministic mode) would have written them.
"""

from __future__ import annotations

from pathlib import Path

MAGIC = b"!<arch>\n"
HEADER_SIZE = 60
# name[16] mtime[12] uid[6] gid[6] mode[8] size[10] fmag[2] (System V / GNU ar)
_FIELDS = ((16, 12, b"0"), (28, 6, b"0"), (34, 6, b"0"), (40, 8, b"644"))


def normalize(path: Path) -> bool:
    """Rewrite `path` in place if any member header carries machine facts; True if it did."""
    original = path.read_bytes()
    data = bytearray(original)
    if not data.startswith(MAGIC):
        raise ValueError(f"{path} is not an ar archive")
    offset = len(MAGIC)
    while offset + HEADER_SIZE <= len(data):
        header = data[offset : offset + HEADER_SIZE]
        if header[58:60] != b"`\n":
            raise ValueError(f"{path}: malformed ar member header at byte {offset}")
        for start, width, value in _FIELDS:
            data[offset + start : offset + start + width] = value.ljust(width)
        size = int(header[48:58].decode("ascii").strip())
        offset += HEADER_SIZE + size + (size & 1)
    if data == original:
        return False
    path.write_bytes(bytes(data))
    return True


def normalize_tree(root: Path) -> list[Path]:
    """Normalize every `*.a` under `root`; the ones rewritten."""
    return [archive for archive in sorted(root.rglob("*.a")) if archive.is_file() and not archive.is_symlink() and normalize(archive)]
