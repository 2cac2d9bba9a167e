"""Ad-hoc signing, fat merging and load-command edits on small Mach-O files made here (no zig).

The slow tests in test_macos.py do the same on zig-linked files and real wheels; these
keep the byte-level rules checked on every run.
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest
from macholib.MachO import MachO

from xbuild import targets
from xbuild.errors import BuildError
from xbuild.macho import codesign, fat, rpath, universal

from .conftest import assert_one_line_error, run_xbuild

CPU_X86_64, CPU_ARM64 = 0x01000007, 0x0100000C


def _segment(name: bytes, vmaddr: int, vmsize: int, fileoff: int, filesize: int) -> bytes:
    return struct.pack("<II16sQQQQiiII", 0x19, 72, name.ljust(16, b"\0"), vmaddr, vmsize, fileoff, filesize, 5, 5, 0, 0)


def thin_macho(cpu: int = CPU_ARM64, filetype: int = 2, text: int = 0x4000, linkedit: int = 0x200) -> bytes:
    """An MH_EXECUTE (or other `filetype`) with __TEXT and __LINKEDIT and no sections: enough to sign."""
    cmds = _segment(b"__TEXT", 0x100000000, text, 0, text) + _segment(b"__LINKEDIT", 0x100000000 + text, 0x4000, text, linkedit)
    header = struct.pack("<IIIIIIII", 0xFEEDFACF, cpu, 0, filetype, 2, len(cmds), 0, 0)
    body = (header + cmds).ljust(text, b"\0")
    return body + bytes(range(256)) * (linkedit // 256)


def test_signed_file_verifies_and_any_later_edit_is_caught() -> None:
    signed = codesign.sign(thin_macho(), "demo")
    sig = codesign.verify(signed)
    (cd,) = sig.directories
    assert (cd.identifier, cd.page_size, cd.version, cd.flags, cd.hash_type) == ("demo", 4096, 0x20400, codesign.CS_ADHOC, 2)
    assert cd.exec_seg == (0, 0x4000, codesign.CS_EXECSEG_MAIN_BINARY)
    assert cd.code_limit == sig.offset and len(cd.code_hashes) == -(-sig.offset // 4096)
    assert cd.code_hashes[1] == hashlib.sha256(signed[4096:8192]).digest()
    assert cd.special[2] == hashlib.sha256(sig.blobs[codesign.SLOT_REQUIREMENTS]).digest()
    # macholib reads the result, with LC_CODE_SIGNATURE inside a grown __LINKEDIT
    (header,) = _headers(signed)
    linkedit = next(c for lc, c, _ in header.commands if getattr(c, "segname", b"").rstrip(b"\0") == b"__LINKEDIT")
    assert linkedit.fileoff + linkedit.filesize == len(signed)
    for at, want in ((5000, r"page 1 \(bytes 4096-8191\)"), (0x4000 + 3, "page 4")):
        broken = bytearray(signed)
        broken[at] ^= 1
        with pytest.raises(codesign.SignatureError, match=want):
            codesign.verify(broken)
    assert codesign.sign(signed, "demo") == signed  # signing twice changes nothing
    with pytest.raises(codesign.SignatureError, match="not signed"):
        codesign.verify(thin_macho())


def _headers(data: bytes) -> list[object]:
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".macho") as f:
        f.write(data)
        f.flush()
        return list(MachO(f.name).headers)


def test_a_library_gets_no_main_binary_flag() -> None:
    (cd,) = codesign.verify(codesign.sign(thin_macho(filetype=6), "libdemo.dylib")).directories
    assert cd.exec_seg[2] == 0


def test_fat_merge_keeps_each_slice_and_its_signature() -> None:
    x86, arm = codesign.sign(thin_macho(CPU_X86_64), "demo"), codesign.sign(thin_macho(CPU_ARM64), "demo")
    merged = fat.merge([x86, arm])
    assert fat.is_fat(merged) and fat.slices(merged) == [x86, arm]
    offsets = [struct.unpack_from(">I", merged, 8 + 20 * i + 8)[0] for i in range(2)]
    assert offsets[0] % 4096 == 0 and offsets[1] % 16384 == 0
    for thin in fat.slices(merged):
        codesign.verify(thin)
    assert [h.header.cputype for h in _headers(merged)] == [CPU_X86_64, CPU_ARM64]  # type: ignore[attr-defined]
    with pytest.raises(fat.FatError, match="same CPU"):
        fat.merge([arm, arm])


def test_load_command_edits_are_resigned() -> None:
    signed = codesign.sign(thin_macho(), "demo")
    edited = rpath.edit(signed, "demo", lambda d: rpath.add_rpath(d, "@executable_path/runtime/lib"))
    codesign.verify(edited)
    assert rpath.edit(edited, "demo", lambda d: rpath.add_rpath(d, "@executable_path/runtime/lib")) == edited
    (header,) = _headers(edited)
    rpaths = [data.rstrip(b"\0") for lc, _, data in header.commands if lc.cmd == 0x8000001C]  # type: ignore[attr-defined]
    assert rpaths == [b"@executable_path/runtime/lib"]
    with pytest.raises(rpath.EditError, match="no load command names"):
        rpath.change_dylib(edited, "@rpath/libnothere.dylib", "/usr/lib/x.dylib")


def test_universal2_merge_makes_fat_files_and_refuses_thin_only(tmp_path: Path) -> None:
    x86_part, arm_part = targets.parts(targets.get("universal2"))
    a, b = tmp_path / "x86", tmp_path / "arm"
    for root, cpu in ((a, CPU_X86_64), (b, CPU_ARM64)):
        (root / "app").mkdir(parents=True)
        (root / "app" / "mod.so").write_bytes(codesign.sign(thin_macho(cpu, 8), "mod.so"))
        (root / "app" / "data.txt").write_text(root.name)
    out = tmp_path / "out"
    assert universal.merge_trees([(x86_part, a), (arm_part, b)], out) == 1
    assert [fat.cpu_of(t)[0] for t in fat.slices((out / "app/mod.so").read_bytes())] == [CPU_X86_64, CPU_ARM64]
    assert (out / "app/data.txt").read_text() == "arm"
    (b / "app" / "mod.so").write_bytes((a / "app" / "mod.so").read_bytes())  # an x86_64-only file in both parts
    with pytest.raises(BuildError, match=r"^app/mod.so has no aarch64 code in the aarch64-apple-darwin part .*thin-only"):
        universal.merge_trees([(x86_part, a), (arm_part, b)], tmp_path / "out2")


def test_ensure_signed_signs_only_what_is_unsigned(tmp_path: Path) -> None:
    arm = codesign.sign(thin_macho(CPU_ARM64), "app", page_size=16384, linker_signed=True)  # as zig leaves it
    path = tmp_path / "app"
    path.write_bytes(fat.merge([thin_macho(CPU_X86_64), arm]))
    assert codesign.ensure_signed(path) is True
    x86, kept = fat.slices(path.read_bytes())
    assert kept == arm and codesign.verify(x86).directories[0].identifier == "app"
    assert codesign.ensure_signed(path) is False


def test_universal2_is_a_target_built_from_its_parts() -> None:
    target = targets.get("universal2")
    assert [p.triple for p in targets.parts(target)] == ["x86_64-apple-darwin", "aarch64-apple-darwin"]
    assert targets.parts(targets.get("aarch64-apple-darwin")) == [targets.get("aarch64-apple-darwin")]
    proc = run_xbuild("cc", "-t", "universal2", "--", "-c", "x.c")
    assert_one_line_error(proc, "universal2-apple-darwin is built from x86_64-apple-darwin and aarch64-apple-darwin", code=2)
