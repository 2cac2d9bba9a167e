"""Read what a Mach-O file needs from macOS (macholib): per slice, loads, rpaths, minos and signature."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from macholib import mach_o
from macholib.MachO import MachO

from xbuild.binfile import MACHO_CPUS
from xbuild.errors import BinaryFormatError
from xbuild.macho import codesign, fat

_LOADS = {mach_o.LC_LOAD_DYLIB: "load", mach_o.LC_LOAD_WEAK_DYLIB: "weak", mach_o.LC_REEXPORT_DYLIB: "reexport"}
PLATFORM_MACOS = 1


@dataclass(frozen=True)
class MachoSlice:
    machine: str
    bits: int
    filetype: str
    loads: tuple[tuple[str, str], ...]  # (kind, install name)
    rpaths: tuple[str, ...]
    minos: str | None  # from LC_BUILD_VERSION (macOS) or LC_VERSION_MIN_MACOSX
    sdk: str | None
    signature: str = "unsigned"  # "valid", "unsigned", or why it does not verify


@dataclass(frozen=True)
class MachoInfo:
    path: Path
    slices: tuple[MachoSlice, ...]


def _version(packed: int) -> str:
    """Mach-O packs versions as xxxx.yy.zz in nibbles: 0x000B0000 -> 11.0."""
    major, minor, patch = packed >> 16, (packed >> 8) & 0xFF, packed & 0xFF
    return f"{major}.{minor}" + (f".{patch}" if patch else "")


def _signature(thin: bytes) -> str:
    """"valid", "unsigned" or the reason the slice's code signature does not match its bytes."""
    try:
        if codesign.read_signature(thin) is None:
            return "unsigned"
        codesign.verify(thin)
    except (codesign.SignatureError, struct.error, ValueError) as e:
        return str(e)
    return "valid"


def _slice(header: object, thin: bytes) -> MachoSlice:
    cpu = header.header.cputype  # type: ignore[attr-defined]  # untyped attribute of the library's parsed object
    loads: list[tuple[str, str]] = []
    rpaths: list[str] = []
    minos = sdk = None
    for load, command, data in header.commands:  # type: ignore[attr-defined]  # untyped attribute of the library's parsed object
        kind = load.cmd
        if kind in _LOADS:
            name = data.rstrip(b"\x00").decode("utf-8", "replace")
            loads.append((_LOADS[kind], name))
        elif kind == mach_o.LC_RPATH:
            rpaths.append(data.rstrip(b"\x00").decode("utf-8", "replace"))
        elif kind == mach_o.LC_BUILD_VERSION and command.platform == PLATFORM_MACOS:
            minos, sdk = _version(command.minos), _version(command.sdk)
        elif kind == mach_o.LC_VERSION_MIN_MACOSX:
            minos, sdk = _version(command.version), _version(command.sdk)
    return MachoSlice(
        machine=MACHO_CPUS.get(cpu, hex(cpu)),
        bits=64 if cpu & 0x01000000 else 32,
        filetype=mach_o.MH_FILETYPE_SHORTNAMES.get(header.header.filetype, str(header.header.filetype)),  # type: ignore[attr-defined]  # untyped attribute of the library's parsed object
        loads=tuple(loads),
        rpaths=tuple(rpaths),
        minos=minos,
        sdk=sdk,
        signature=_signature(thin) if thin[:4] == b"\xcf\xfa\xed\xfe" else "unsigned",
    )


def read_macho(path: Path) -> MachoInfo:
    try:
        macho = MachO(str(path))
        thins = fat.slices(path.read_bytes())
        if len(thins) != len(macho.headers):
            raise ValueError(f"{len(macho.headers)} headers but {len(thins)} slices")
        return MachoInfo(path, tuple(_slice(h, t) for h, t in zip(macho.headers, thins, strict=True)))
    except (ValueError, KeyError, IndexError, struct.error, OSError, EOFError, AttributeError, TypeError) as e:
        raise BinaryFormatError(f"{path}: unreadable Mach-O file ({type(e).__name__}: {e})") from e
