"""Read what a PE file (.exe, .dll, .pyd) needs from Windows (pefile)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import pefile

from xbuild.binfile import PE_MACHINES
from xbuild.errors import BinaryFormatError

_SUBSYSTEMS = {2: "windows", 3: "console"}


@dataclass(frozen=True)
class PeInfo:
    path: Path
    machine: str
    bits: int
    subsystem: str
    is_dll: bool
    min_os: str  # MajorOperatingSystemVersion.Minor
    min_subsystem: str
    imports: tuple[str, ...]  # DLL names as written (case kept)
    delay_imports: tuple[str, ...]
    # DLL name (lower case) -> imported function names (`#N` for imports by ordinal)
    functions: dict[str, tuple[str, ...]] = field(default_factory=dict)


def read_pe(path: Path) -> PeInfo:
    try:
        # From bytes, not the path: then there is no mmap to close, and no pe.close(), which runs a
        # full gc.collect() per file (0.1-0.3 s each on a loaded host, most of a Windows audit).
        pe = pefile.PE(data=path.read_bytes(), fast_load=True)
        pe.parse_data_directories(
            directories=[
                pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_IMPORT"],
                pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT"],
            ]
        )
    except (pefile.PEFormatError, ValueError, IndexError, struct.error, AttributeError) as e:
        raise BinaryFormatError(f"{path}: unreadable PE file ({type(e).__name__}: {e})") from e
    try:
        opt = pe.OPTIONAL_HEADER
        machine = pe.FILE_HEADER.Machine
        return PeInfo(
            path=path,
            machine=PE_MACHINES.get(machine, hex(machine)),
            bits=64 if opt.Magic == 0x20B else 32,
            subsystem=_SUBSYSTEMS.get(opt.Subsystem, str(opt.Subsystem)),
            is_dll=bool(pe.FILE_HEADER.Characteristics & 0x2000),
            min_os=f"{opt.MajorOperatingSystemVersion}.{opt.MinorOperatingSystemVersion}",
            min_subsystem=f"{opt.MajorSubsystemVersion}.{opt.MinorSubsystemVersion}",
            imports=tuple(_names(getattr(pe, "DIRECTORY_ENTRY_IMPORT", []))),
            delay_imports=tuple(_names(getattr(pe, "DIRECTORY_ENTRY_DELAY_IMPORT", []))),
            functions=_functions([*getattr(pe, "DIRECTORY_ENTRY_IMPORT", []), *getattr(pe, "DIRECTORY_ENTRY_DELAY_IMPORT", [])]),
        )
    except (AttributeError, UnicodeDecodeError) as e:
        raise BinaryFormatError(f"{path}: unreadable PE file ({type(e).__name__}: {e})") from e


def _names(entries: list[object]) -> list[str]:
    return [entry.dll.decode("ascii", "replace") for entry in entries if getattr(entry, "dll", None)]  # type: ignore[attr-defined]  # untyped attribute of the library's parsed object



def _functions(entries: list[object]) -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for entry in entries:
        dll = getattr(entry, "dll", None)
        if not dll:
            continue
        names = tuple(
            imp.name.decode("ascii", "replace") if imp.name else f"#{imp.ordinal}"
            for imp in getattr(entry, "imports", [])
        )
        key = dll.decode("ascii", "replace").lower()
        found[key] = found.get(key, ()) + names
    return found
