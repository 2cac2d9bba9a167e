"""Change the library names and rpaths a thin Mach-O's load commands hold, then sign it again.

Load commands may grow into the padding between them and the first section (linkers
leave room for this, as install_name_tool needs); no file offset moves. The edit breaks
the code signature, so `edit` always re-signs ad hoc: macOS on arm64 would refuse the file otherwise.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

from xbuild.macho import codesign, fat

LC_ID_DYLIB = 0xD
LC_LOAD_DYLIB = 0xC
LC_LOAD_WEAK_DYLIB = 0x80000018
LC_REEXPORT_DYLIB = 0x8000001F
LC_RPATH = 0x8000001C
_DYLIB_CMDS = (LC_ID_DYLIB, LC_LOAD_DYLIB, LC_LOAD_WEAK_DYLIB, LC_REEXPORT_DYLIB)


class EditError(ValueError):
    """The edit does not fit, or names a command the file does not have."""


def _commands(data: bytes) -> list[bytes]:
    ncmds = struct.unpack_from("<I", data, 16)[0]
    found, offset = [], 32
    for _ in range(ncmds):
        size = struct.unpack_from("<I", data, offset + 4)[0]
        found.append(data[offset : offset + size])
        offset += size
    return found


def _name(cmd: bytes) -> str:
    at = struct.unpack_from("<I", cmd, 8)[0]
    return cmd[at:].split(b"\0", 1)[0].decode()


def _with_name(cmd: bytes, name: str) -> bytes:
    """The command with its string replaced, padded to 8 bytes as linkers write it."""
    at = struct.unpack_from("<I", cmd, 8)[0]
    raw = name.encode() + b"\0"
    size = -(-(at + len(raw)) // 8) * 8
    head = bytearray(cmd[:at])
    struct.pack_into("<I", head, 4, size)
    return bytes(head) + raw.ljust(size - at, b"\0")


def _rpath(path: str) -> bytes:
    return _with_name(struct.pack("<III", LC_RPATH, 12, 12), path)


def _rewrite(data: bytes, change: Callable[[list[bytes]], list[bytes]]) -> bytes:
    layout = codesign._layout(data)
    old = _commands(data)
    new = change(list(old))
    blob = b"".join(new)
    if 32 + len(blob) > layout.first_section:
        raise EditError(f"the load commands would need {32 + len(blob) - layout.first_section} more bytes than the header has room for")
    out = bytearray(data)
    out[32 : 32 + max(len(blob), layout.sizeofcmds)] = blob.ljust(max(len(blob), layout.sizeofcmds), b"\0")
    struct.pack_into("<II", out, 16, len(new), len(blob))
    return bytes(out)


def change_dylib(data: bytes, old: str, new: str) -> bytes:
    """Rename the library `old` (a load or the file's own install name) to `new`."""

    def change(cmds: list[bytes]) -> list[bytes]:
        hits = [i for i, c in enumerate(cmds) if struct.unpack_from("<I", c)[0] in _DYLIB_CMDS and _name(c) == old]
        if not hits:
            raise EditError(f"no load command names {old}")
        for i in hits:
            cmds[i] = _with_name(cmds[i], new)
        return cmds

    return _rewrite(data, change)


def add_rpath(data: bytes, path: str) -> bytes:
    """Add an LC_RPATH (a no-op when the file has it already)."""

    def change(cmds: list[bytes]) -> list[bytes]:
        have = [_name(c) for c in cmds if struct.unpack_from("<I", c)[0] == LC_RPATH]
        return cmds if path in have else [*cmds, _rpath(path)]

    return _rewrite(data, change)


def edit(data: bytes, identifier: str, change: Callable[[bytes], bytes]) -> bytes:
    """Apply `change` to every slice and sign each slice again (fat files stay fat)."""
    thins = [codesign.sign(change(thin), identifier) for thin in fat.slices(data)]
    return thins[0] if not fat.is_fat(data) else fat.merge(thins)


def dylib_loads(data: bytes) -> list[str]:
    """The libraries every slice loads (LC_LOAD_DYLIB and its weak and re-export kinds)."""
    return [_name(c) for thin in fat.slices(data) for c in _commands(thin) if struct.unpack_from("<I", c)[0] in _DYLIB_CMDS[1:]]


def load_through_rpath(path: Path, library: str) -> bool:
    """Make `path` load `library` (a file name) as `@rpath/<library>`, re-signed; True if it changed.

    python-build-standalone's libpython carried the install name `/install/lib/...` before
    astral-sh/python-build-standalone#914, and a binary linked against it records that path,
    which exists on no Mac. xbuild fixes only binaries it linked itself (the launchers).
    """
    data = path.read_bytes()
    absolute = sorted({n for n in dylib_loads(data) if n.rsplit("/", 1)[-1] == library and not n.startswith("@")})
    if not absolute:
        return False

    def change(thin: bytes) -> bytes:
        for name in absolute:
            if name in dylib_loads(thin):
                thin = change_dylib(thin, name, f"@rpath/{library}")
        return thin

    path.write_bytes(edit(data, path.name, change))
    return True
