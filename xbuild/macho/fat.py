"""Fat (universal) Mach-O files: split them into thin slices and merge thin slices into one.

A slice's code signature covers only the slice's own bytes, so merging slices keeps each
signature valid: nothing is re-signed, and `slices` hands back exactly what was merged.
The layout is what `lipo -create` writes: a big-endian fat header, then each slice at an
offset aligned to its CPU's page size (2^14 for arm64, 2^12 for x86_64).
"""

from __future__ import annotations

import struct

FAT_MAGIC = 0xCAFEBABE
MH_MAGIC_64 = 0xFEEDFACF
CPU_X86_64 = 0x01000007
CPU_ARM64 = 0x0100000C
_ALIGN = {CPU_X86_64: 12, CPU_ARM64: 14}
CPU_NAMES = {CPU_X86_64: "x86_64", CPU_ARM64: "arm64"}


class FatError(ValueError):
    """Slices that cannot be merged, or a fat file that cannot be split."""


def is_fat(data: bytes) -> bool:
    # Java class files share the magic; their second word (a version) is far above any slice count.
    return len(data) >= 8 and struct.unpack_from(">II", data, 0)[0] == FAT_MAGIC and 0 < struct.unpack_from(">I", data, 4)[0] < 20


def cpu_of(thin: bytes) -> tuple[int, int]:
    """(cputype, cpusubtype) of a thin 64-bit Mach-O."""
    magic, cpu, sub = struct.unpack_from("<III", thin, 0)
    if magic != MH_MAGIC_64:
        raise FatError("not a thin 64-bit Mach-O file")
    return cpu, sub


def slices(data: bytes) -> list[bytes]:
    """The thin files a fat file holds (a thin file is its own one slice)."""
    if not is_fat(data):
        return [data]
    count = struct.unpack_from(">I", data, 4)[0]
    found = []
    for i in range(count):
        _cpu, _sub, offset, size, _align = struct.unpack_from(">IIIII", data, 8 + 20 * i)
        if offset + size > len(data):
            raise FatError(f"slice {i} runs past the end of the file")
        found.append(data[offset : offset + size])
    return found


def merge(thins: list[bytes]) -> bytes:
    """One fat file holding `thins` (each a thin Mach-O, one per CPU), in the order given."""
    cpus = [cpu_of(t) for t in thins]
    if len({c for c, _ in cpus}) != len(cpus):
        raise FatError("two slices for the same CPU")
    header = struct.pack(">II", FAT_MAGIC, len(thins))
    offset = 8 + 20 * len(thins)
    entries, body = b"", b""
    for thin, (cpu, sub) in zip(thins, cpus, strict=True):
        align = _ALIGN.get(cpu, 14)
        start = -(-offset // (1 << align)) * (1 << align)
        body += b"\0" * (start - offset) + thin
        entries += struct.pack(">IIIII", cpu, sub, start, len(thin), align)
        offset = start + len(thin)
    return header + entries + body
