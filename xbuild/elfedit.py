"""One surgical edit to ELF files that zig's linker cannot be asked for: RUNPATH -> RPATH.

zig (lld) always writes `DT_RUNPATH` for `-rpath`, and ignores `--disable-new-dtags`.
`DT_RUNPATH` only serves the executable's own direct dependencies, while
`DT_RPATH` on the executable also serves every library it loads later, such as an
extension module's `libssl.so.3`. Both tags point at the same string, so turning one
into the other is a rewrite of one integer in place (what `chrpath -c` does).
"""

from __future__ import annotations

import struct
from pathlib import Path

from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

from xbuild.errors import BinaryFormatError

DT_RPATH = 15
DT_RUNPATH = 29


def runpath_to_rpath(path: Path) -> bool:
    """Turn the file's DT_RUNPATH entry into DT_RPATH; False if it had none."""
    with path.open("r+b") as f:
        elf = ELFFile(f)
        fmt = ("<" if elf.little_endian else ">") + ("q" if elf.elfclass == 64 else "i")
        size = struct.calcsize(fmt)
        dynamic = next((s for s in elf.iter_sections() if isinstance(s, DynamicSection)), None)
        if dynamic is None:
            raise BinaryFormatError(f"{path}: no dynamic section; it is not dynamically linked")
        base = dynamic["sh_offset"]
        entry_size = dynamic["sh_entsize"] or 2 * size
        for index in range(dynamic.num_tags() or 0):
            f.seek(base + index * entry_size)
            (tag,) = struct.unpack(fmt, f.read(size))
            if tag == DT_RUNPATH:
                f.seek(base + index * entry_size)
                f.write(struct.pack(fmt, DT_RPATH))
                return True
    return False
