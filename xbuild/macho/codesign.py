"""Read, verify and write ad-hoc code signatures of thin 64-bit Mach-O files.

arm64 macOS refuses to run code whose signature is missing or whose CodeDirectory
hashes no longer match the file, so any Mach-O xbuild edits must be signed again,
and the audit checks every signature it ships. The format is Apple's (xnu's
`cs_blobs.h`): LC_CODE_SIGNATURE points at a SuperBlob at the end of __LINKEDIT whose
CodeDirectory holds one hash per page of the file up to the signature
(`codeLimit`), plus hashes of the other blobs in "special slots". An ad-hoc
signature has no CMS blob: the CodeDirectory's hash is the identity.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from xbuild.macho import fat

MH_MAGIC_64 = 0xFEEDFACF
MH_EXECUTE = 2
LC_SEGMENT_64 = 0x19
LC_CODE_SIGNATURE = 0x1D
SUPERBLOB = 0xFADE0CC0
CODEDIRECTORY = 0xFADE0C02
REQUIREMENTS = 0xFADE0C01
SLOT_CODEDIRECTORY = 0
SLOT_REQUIREMENTS = 2
SLOT_ALTERNATE_CD = 0x1000  # 0x1000..0x1004: CodeDirectories with other hash types
SLOT_SIGNATURE = 0x10000  # the CMS blob (empty or absent when ad hoc)
CS_ADHOC = 0x2
CS_LINKER_SIGNED = 0x20000
CS_EXECSEG_MAIN_BINARY = 0x1
CD_VERSION = 0x20400  # the first version with the exec segment fields
CD_HEADER = 88  # bytes of a version 0x20400 CodeDirectory before its identifier
HASHES: dict[int, tuple[str, int]] = {1: ("sha1", 20), 2: ("sha256", 32), 3: ("sha256", 20), 4: ("sha384", 48)}
_CD = struct.Struct(">IIIIIIIII BBBB I II I Q QQQ")


class SignatureError(ValueError):
    """The file has no usable signature, or one that does not match its bytes."""


@dataclass(frozen=True)
class CodeDirectory:
    identifier: str
    version: int
    flags: int
    hash_type: int
    page_size: int
    code_limit: int
    special: dict[int, bytes]  # slot number (1, 2, ...) -> hash
    code_hashes: tuple[bytes, ...]
    exec_seg: tuple[int, int, int]  # base, limit, flags

    @property
    def adhoc(self) -> bool:
        return bool(self.flags & CS_ADHOC)


@dataclass(frozen=True)
class Signature:
    """The signature of one thin Mach-O, as read."""

    offset: int  # where the SuperBlob starts (LC_CODE_SIGNATURE dataoff)
    size: int  # LC_CODE_SIGNATURE datasize
    blobs: dict[int, bytes]  # slot type -> the blob's bytes
    directories: tuple[CodeDirectory, ...]


@dataclass(frozen=True)
class _Layout:
    """The parts of a thin Mach-O the signer reads and edits."""

    filetype: int
    ncmds: int
    sizeofcmds: int
    cmds_end: int  # header + load commands
    first_section: int  # file offset of the first section's data: load commands may grow up to here
    signature_cmd: int | None  # offset of LC_CODE_SIGNATURE
    linkedit_cmd: int  # offset of the __LINKEDIT segment command
    text: tuple[int, int]  # __TEXT fileoff, filesize


def _layout(data: bytes | bytearray) -> _Layout:
    if len(data) < 32 or struct.unpack_from("<I", data, 0)[0] != MH_MAGIC_64:
        raise SignatureError("not a little-endian 64-bit Mach-O file (a fat file is signed per slice)")
    filetype, ncmds, sizeofcmds = struct.unpack_from("<III", data, 12)
    offset, end = 32, 32 + sizeofcmds
    signature_cmd = linkedit = None
    text = (0, 0)
    first_section = len(data)
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", data, offset)
        if size < 8 or offset + size > end:
            raise SignatureError(f"load command at offset {offset} runs past the load commands")
        if cmd == LC_CODE_SIGNATURE:
            signature_cmd = offset
        elif cmd == LC_SEGMENT_64:
            name = bytes(data[offset + 8 : offset + 24]).rstrip(b"\0")
            fileoff, filesize = struct.unpack_from("<QQ", data, offset + 40)
            nsects = struct.unpack_from("<I", data, offset + 64)[0]
            if name == b"__LINKEDIT":
                linkedit = offset
            elif name == b"__TEXT":
                text = (fileoff, filesize)
            for s in range(nsects):
                sect = offset + 72 + 80 * s
                sect_offset = struct.unpack_from("<I", data, sect + 48)[0]
                sect_flags = struct.unpack_from("<I", data, sect + 64)[0]
                if sect_offset and sect_flags & 0xFF not in (0x1, 0xC, 0x12):  # zerofill kinds have no file data
                    first_section = min(first_section, sect_offset)
        offset += size
    if linkedit is None:
        raise SignatureError("no __LINKEDIT segment")
    return _Layout(filetype, ncmds, sizeofcmds, end, first_section, signature_cmd, linkedit, text)


def _parse_cd(blob: bytes) -> CodeDirectory:
    if len(blob) < 44:
        raise SignatureError("CodeDirectory too short")
    header = blob[:CD_HEADER].ljust(CD_HEADER, b"\0")
    (_magic, _length, version, flags, hash_offset, ident_offset, n_special, n_code, code_limit,
     hash_size, hash_type, _platform, page_log, _spare2, _scatter, _team, _spare3, limit64,
     seg_base, seg_limit, seg_flags) = _CD.unpack(header)  # fmt: skip
    if hash_type not in HASHES or HASHES[hash_type][1] != hash_size:
        raise SignatureError(f"CodeDirectory hash type {hash_type} (size {hash_size}) is not one this reader knows")
    end = blob.index(b"\0", ident_offset)
    identifier = blob[ident_offset:end].decode("utf-8", "replace")
    special = {n: blob[hash_offset - n * hash_size : hash_offset - (n - 1) * hash_size] for n in range(1, n_special + 1)}
    code = tuple(blob[hash_offset + i * hash_size : hash_offset + (i + 1) * hash_size] for i in range(n_code))
    if hash_offset + n_code * hash_size > len(blob) or hash_offset - n_special * hash_size < 0:
        raise SignatureError("CodeDirectory hash slots run outside the blob")
    exec_seg = (seg_base, seg_limit, seg_flags) if version >= CD_VERSION else (0, 0, 0)
    limit = limit64 if version >= 0x20300 and limit64 else code_limit
    return CodeDirectory(identifier, version, flags, hash_type, 1 << page_log if page_log else 0, limit, special, code, exec_seg)


def read_signature(data: bytes | bytearray) -> Signature | None:
    """The signature of a thin Mach-O, or None when it has no LC_CODE_SIGNATURE."""
    layout = _layout(data)
    if layout.signature_cmd is None:
        return None
    dataoff, datasize = struct.unpack_from("<II", data, layout.signature_cmd + 8)
    if dataoff + datasize > len(data) or datasize < 12:
        raise SignatureError(f"LC_CODE_SIGNATURE points outside the file ({dataoff}+{datasize} > {len(data)} bytes)")
    raw = bytes(data[dataoff : dataoff + datasize])
    magic, length, count = struct.unpack_from(">III", raw, 0)
    if magic != SUPERBLOB or length > datasize or 12 + 8 * count > length:
        raise SignatureError(f"no embedded-signature SuperBlob at offset {dataoff} (magic {magic:#x})")
    blobs: dict[int, bytes] = {}
    for i in range(count):
        slot, at = struct.unpack_from(">II", raw, 12 + 8 * i)
        if at + 8 > length:
            raise SignatureError(f"blob {slot:#x} starts outside the SuperBlob")
        blob_len = struct.unpack_from(">I", raw, at + 4)[0]
        blobs[slot] = raw[at : at + blob_len]
    cds = [_parse_cd(b) for s, b in sorted(blobs.items()) if s == SLOT_CODEDIRECTORY or SLOT_ALTERNATE_CD <= s < SLOT_ALTERNATE_CD + 5]
    if not cds:
        raise SignatureError("the SuperBlob has no CodeDirectory")
    return Signature(dataoff, datasize, blobs, tuple(cds))


def _hasher(hash_type: int) -> Callable[[bytes], bytes]:
    name, size = HASHES[hash_type]
    return lambda chunk: hashlib.new(name, chunk).digest()[:size]


def verify(data: bytes | bytearray) -> Signature:
    """Check that every CodeDirectory matches the file; raise SignatureError saying what does not.

    Checked: each page hash over the file up to the signature, the special slots of the
    blobs the signature holds, and that the code limit is where the signature starts.
    """
    sig = read_signature(data)
    if sig is None:
        raise SignatureError("not signed (no LC_CODE_SIGNATURE)")
    for cd in sig.directories:
        digest = _hasher(cd.hash_type)
        if cd.code_limit != sig.offset:
            raise SignatureError(f"the CodeDirectory covers {cd.code_limit} bytes but the signature starts at {sig.offset}: the file was changed after signing")
        if not cd.page_size:
            raise SignatureError("the CodeDirectory hashes the file as one page, which this verifier does not accept")
        pages = -(-cd.code_limit // cd.page_size)
        if len(cd.code_hashes) != pages:
            raise SignatureError(f"the CodeDirectory has {len(cd.code_hashes)} page hashes for {pages} pages")
        for i, expected in enumerate(cd.code_hashes):
            start = i * cd.page_size
            page = bytes(data[start : min(start + cd.page_size, cd.code_limit)])
            if digest(page) != expected:
                raise SignatureError(f"page {i} (bytes {start}-{start + len(page) - 1}) does not match its hash: the file was changed after signing")
        for slot, expected in cd.special.items():
            if slot in sig.blobs and digest(sig.blobs[slot]) != expected:
                raise SignatureError(f"special slot {slot} does not match the blob it hashes")
            if slot not in sig.blobs and expected.strip(b"\0") and slot in (SLOT_REQUIREMENTS, 5, 7):
                raise SignatureError(f"special slot {slot} hashes a blob the signature does not hold")
    return sig


def _code_directory(identifier: str, code_limit: int, n_pages: int, page_size: int, flags: int, exec_seg: tuple[int, int, int], special: list[bytes]) -> bytes:
    ident = identifier.encode() + b"\0"
    hash_offset = CD_HEADER + len(ident) + 32 * len(special)
    length = hash_offset + 32 * n_pages
    header = _CD.pack(
        CODEDIRECTORY, length, CD_VERSION, flags, hash_offset, CD_HEADER, len(special), n_pages,
        code_limit if code_limit < 1 << 32 else 0, 32, 2, 0, page_size.bit_length() - 1, 0, 0, 0, 0,
        code_limit if code_limit >= 1 << 32 else 0, *exec_seg,
    )  # fmt: skip
    return header + ident + b"".join(reversed(special))


def _superblob(blobs: list[tuple[int, bytes]]) -> bytes:
    head = 12 + 8 * len(blobs)
    index, body = b"", b""
    for slot, blob in blobs:
        index += struct.pack(">II", slot, head + len(body))
        body += blob
    return struct.pack(">III", SUPERBLOB, head + len(body), len(blobs)) + index + body


def _align(value: int, to: int) -> int:
    return -(-value // to) * to


def sign(data: bytes | bytearray, identifier: str, *, page_size: int = 4096, linker_signed: bool = False) -> bytes:
    """The file signed ad hoc with SHA-256 page hashes, replacing any signature it had.

    Like `codesign -s - --force`: a CodeDirectory (version 0x20400, exec segment set for
    executables) and an empty requirements blob; `linker_signed` makes the signature ld64
    and zig's linkers write instead (no requirements, CS_LINKER_SIGNED). The signature goes
    at the end of __LINKEDIT (16-byte aligned), which grows to hold it.
    """
    out = bytearray(data)
    layout = _layout(out)
    room = 0
    if layout.signature_cmd is not None:
        dataoff, room = struct.unpack_from("<II", out, layout.signature_cmd + 8)
        del out[dataoff:]
        cmd = layout.signature_cmd
    else:
        if layout.cmds_end + 16 > layout.first_section:
            raise SignatureError("no room after the load commands for LC_CODE_SIGNATURE")
        cmd = layout.cmds_end
        out[cmd : cmd + 16] = struct.pack("<IIII", LC_CODE_SIGNATURE, 16, 0, 0)
        struct.pack_into("<II", out, 16, layout.ncmds + 1, layout.sizeofcmds + 16)
    linkedit_off = struct.unpack_from("<Q", out, layout.linkedit_cmd + 40)[0]
    dataoff = _align(max(len(out), linkedit_off), 16)
    out.extend(b"\0" * (dataoff - len(out)))

    flags = CS_ADHOC | (CS_LINKER_SIGNED if linker_signed else 0)
    exec_seg = (*layout.text, CS_EXECSEG_MAIN_BINARY if layout.filetype == MH_EXECUTE else 0)
    requirements = struct.pack(">III", REQUIREMENTS, 12, 0)
    special = [] if linker_signed else [b"\0" * 32, hashlib.sha256(requirements).digest()]
    n_pages = -(-dataoff // page_size)
    cd_len = len(_code_directory(identifier, dataoff, n_pages, page_size, flags, exec_seg, special)) + 32 * n_pages
    blob_count = 1 if linker_signed else 3
    super_len = 12 + 8 * blob_count + cd_len + (0 if linker_signed else 12 + 8)
    # A signature replacing one of the same shape keeps its room (the file changes least).
    datasize = room if super_len <= room < super_len + 64 else _align(super_len, 16)
    # Header edits first: the load commands are in page 0, which the CodeDirectory hashes.
    struct.pack_into("<II", out, cmd + 8, dataoff, datasize)
    end = dataoff + datasize
    struct.pack_into("<Q", out, layout.linkedit_cmd + 48, end - linkedit_off)  # filesize
    vmsize = struct.unpack_from("<Q", out, layout.linkedit_cmd + 32)[0]
    struct.pack_into("<Q", out, layout.linkedit_cmd + 32, max(vmsize, _align(end - linkedit_off, 0x4000)))

    hashes = b"".join(hashlib.sha256(bytes(out[i : min(i + page_size, dataoff)])).digest() for i in range(0, dataoff, page_size))
    cd = _code_directory(identifier, dataoff, n_pages, page_size, flags, exec_seg, special) + hashes
    blobs = [(SLOT_CODEDIRECTORY, cd)]
    if not linker_signed:
        blobs += [(SLOT_REQUIREMENTS, requirements), (SLOT_SIGNATURE, struct.pack(">II", 0xFADE0B01, 8))]
    superblob = _superblob(blobs)
    assert len(superblob) == super_len, (len(superblob), super_len)
    out.extend(superblob.ljust(datasize, b"\0"))
    return bytes(out)


def ensure_signed(path: Path) -> bool:
    """Sign a Mach-O xbuild itself linked when its linker did not (zig signs arm64 only); True if it did.

    An arm64 slice is already signed by zig's linker: it is verified, not replaced. Signing the
    x86_64 launcher too lets `codesign --verify` pass on every slice of what xbuild made.
    """
    data = path.read_bytes()
    thins = fat.slices(data)
    signed = [t if read_signature(t) is not None else sign(t, path.name) for t in thins]
    for thin in signed:
        verify(thin)
    if signed == thins:
        return False
    path.write_bytes(signed[0] if len(signed) == 1 and not fat.is_fat(data) else fat.merge(signed))
    return True
