"""Identify a compiled file: its format, CPU and bitness, in the target table's vocabulary.

This is the first question every later check asks (is this the right kind of binary
for the target at all?), answered with pyelftools, pefile and macholib so the
answers match what the audit reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from xbuild.errors import BinaryFormatError

_ELF_MACHINES = {
    "EM_X86_64": "x86_64",
    "EM_AARCH64": "aarch64",
    "EM_ARM": "arm",
    "EM_PPC64": "ppc64le",  # refined by byte order below
    "EM_S390": "s390x",
    "EM_RISCV": "riscv64",
    "EM_386": "i686",
}
PE_MACHINES = {0x8664: "x86_64", 0xAA64: "aarch64", 0x14C: "i686"}
MACHO_CPUS = {0x01000007: "x86_64", 0x0100000C: "aarch64", 7: "i686", 12: "arm"}


@dataclass(frozen=True)
class BinaryKind:
    """What a file is: `format` is elf, pe or macho; `machine` as in targets.toml."""

    format: str
    machine: str
    bits: int


def elf_machine(elf: ELFFile) -> str:
    """The target-table name of an ELF file's CPU."""
    machine = _ELF_MACHINES.get(elf["e_machine"], str(elf["e_machine"]))
    if machine == "ppc64le" and not elf.little_endian:
        return "ppc64"
    return machine


def _elf(path: Path) -> list[BinaryKind]:
    try:
        with path.open("rb") as f:
            elf = ELFFile(f)
            return [BinaryKind("elf", elf_machine(elf), elf.elfclass)]
    except (ELFError, ValueError, OSError) as e:
        raise BinaryFormatError(f"{path}: not a readable ELF file ({e})") from e


def _pe(path: Path) -> list[BinaryKind]:
    import pefile

    try:
        pe = pefile.PE(str(path), fast_load=True)
    except pefile.PEFormatError as e:
        raise BinaryFormatError(f"{path}: not a readable PE file ({e})") from e
    try:
        machine = pe.FILE_HEADER.Machine
        bits = 64 if pe.OPTIONAL_HEADER.Magic == 0x20B else 32
        return [BinaryKind("pe", PE_MACHINES.get(machine, hex(machine)), bits)]
    finally:
        pe.close()


def _macho(path: Path) -> list[BinaryKind]:
    from macholib.MachO import MachO

    try:
        macho = MachO(str(path))
    except (ValueError, OSError, KeyError) as e:
        raise BinaryFormatError(f"{path}: not a readable Mach-O file ({e})") from e
    kinds = []
    for header in macho.headers:
        cpu = header.header.cputype
        bits = 64 if cpu & 0x01000000 else 32
        kinds.append(BinaryKind("macho", MACHO_CPUS.get(cpu, hex(cpu)), bits))
    return kinds


_MACHO_MAGICS = {b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf", b"\xfe\xed\xfa\xce", b"\xca\xfe\xba\xbe"}


def identify(path: Path) -> list[BinaryKind]:
    """The kind of each architecture slice in `path` (one, except for fat Mach-O files)."""
    with path.open("rb") as f:
        magic = f.read(4)
    if magic == b"\x7fELF":
        return _elf(path)
    if magic[:2] == b"MZ":
        return _pe(path)
    if magic in _MACHO_MAGICS:
        return _macho(path)
    raise BinaryFormatError(f"{path}: not an ELF, PE or Mach-O file (starts with {magic!r})")
