"""Read what an ELF file needs from the system that loads it (pyelftools).

The record answers the portability questions: which shared libraries it needs
(`DT_NEEDED`), where it looks for them (`RPATH`/`RUNPATH`), and which symbol
versions (GLIBC_2.28, GLIBCXX_3.4.29, ...) it requires from each.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection
from elftools.elf.sections import SymbolTableSection

from xbuild import versions
from xbuild.binfile import elf_machine
from xbuild.errors import BinaryFormatError


@dataclass(frozen=True)
class ElfInfo:
    """What the dynamic loader will be asked for when this file loads."""

    path: Path
    machine: str
    bits: int
    interpreter: str | None
    soname: str | None
    needed: tuple[str, ...]
    rpath: tuple[str, ...]
    runpath: tuple[str, ...]
    # library file name -> symbol versions required from it, e.g. {"libc.so.6": ("GLIBC_2.17", ...)}
    version_needs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # names of the dynamic symbols it imports (undefined in .dynsym), for auditwheel's blacklist
    undefined: frozenset[str] = frozenset()

    def max_version(self, prefix: str) -> tuple[int, ...] | None:
        """Highest required version with this prefix (`GLIBC_`, `GLIBCXX_`, ...), as numbers."""
        found = [
            version_tuple(name[len(prefix) :])
            for names in self.version_needs.values()
            for name in names
            if name.startswith(prefix) and name[len(prefix) :][:1].isdigit()
        ]
        return max(found) if found else None


def version_tuple(text: str) -> tuple[int, ...]:
    """`"2.17"` -> `(2, 17)`; stops at the first part that is not a number."""
    return versions.release(text)


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def read_elf(path: Path) -> ElfInfo:
    """Read one ELF file; anything malformed is a BinaryFormatError for that file."""
    try:
        with path.open("rb") as f:
            return _read(path, ELFFile(f))
    except (ELFError, ValueError, KeyError, IndexError, AssertionError, OSError, UnicodeDecodeError, struct.error) as e:
        raise BinaryFormatError(f"{path}: unreadable ELF file ({type(e).__name__}: {e})") from e


def _read(path: Path, elf: ELFFile) -> ElfInfo:
    interpreter = None
    needed: list[str] = []
    rpath: list[str] = []
    runpath: list[str] = []
    soname = None
    version_needs: dict[str, tuple[str, ...]] = {}
    undefined: set[str] = set()
    for segment in elf.iter_segments():
        if segment["p_type"] == "PT_INTERP":
            interpreter = segment.get_interp_name()
    for section in elf.iter_sections():
        if isinstance(section, DynamicSection):
            for tag in section.iter_tags():
                kind = tag.entry.d_tag
                if kind == "DT_NEEDED":
                    needed.append(tag.needed)
                elif kind == "DT_RPATH":
                    rpath.extend(p for p in tag.rpath.split(":") if p)
                elif kind == "DT_RUNPATH":
                    runpath.extend(p for p in tag.runpath.split(":") if p)
                elif kind == "DT_SONAME":
                    soname = tag.soname
        elif isinstance(section, GNUVerNeedSection):
            for verneed, auxes in section.iter_versions():
                names = tuple(aux.name for aux in auxes)
                lib = str(verneed.name)
                version_needs[lib] = version_needs.get(lib, ()) + names
        elif isinstance(section, SymbolTableSection) and section["sh_type"] == "SHT_DYNSYM":
            undefined.update(_undefined_symbols(elf, section))
    return ElfInfo(
        path=path,
        machine=elf_machine(elf),
        bits=elf.elfclass,
        interpreter=interpreter,
        soname=soname,
        needed=tuple(needed),
        rpath=tuple(rpath),
        runpath=tuple(runpath),
        version_needs=version_needs,
        undefined=frozenset(undefined),
    )


def _undefined_symbols(elf: ELFFile, dynsym: SymbolTableSection) -> list[str]:
    """Names of the undefined symbols of `.dynsym`, read with struct from the raw table.

    pyelftools builds an object per symbol (most of an audit's time on a runtime's
    hundreds of libraries); the table is an array of fixed-size records, so reading
    the name offset and section index of each directly gives the same names.
    """
    order = "<" if elf.little_endian else ">"
    # Elf64_Sym: name, info, other, shndx, value, size; Elf32_Sym: name, value, size, info, other, shndx.
    layout, name_at, shndx_at = (f"{order}IBBHQQ", 0, 3) if elf.elfclass == 64 else (f"{order}IIIBBH", 0, 5)
    size = struct.calcsize(layout)
    data = dynsym.data()
    strings = elf.get_section(dynsym["sh_link"]).data()
    names = []
    for fields in struct.iter_unpack(layout, data[: len(data) - len(data) % size]):
        offset = fields[name_at]
        if fields[shndx_at] == 0 and offset:  # SHN_UNDEF, named
            end = strings.find(b"\0", offset)
            names.append(strings[offset : end if end >= 0 else len(strings)].decode("utf-8", "replace"))
    return names


def glibc_floor(paths: list[Path]) -> tuple[str | None, list[Path]]:
    """The highest GLIBC_ version any of these ELF files needs, and the files that need it."""
    best: tuple[int, ...] | None = None
    who: list[Path] = []
    for path in paths:
        need = read_elf(path).max_version("GLIBC_")
        if need is None:
            continue
        if best is None or need > best:
            best, who = need, [path]
        elif need == best:
            who.append(path)
    return (".".join(map(str, best)) if best else None), who
