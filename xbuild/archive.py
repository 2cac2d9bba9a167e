"""Safe extraction of the archives xbuild fetches: tar (gz, xz, bz2, zstd) and zip.

Every member is checked before anything is written: no absolute paths, no `..`,
no links that point outside the destination, no device files (tarfile's `data`
filter, PEP 706). Corrupt input becomes an ArchiveError naming the archive, never
a traceback.
"""

from __future__ import annotations

import lzma
import os
import posixpath
import stat
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

import zstandard

from xbuild import cache
from xbuild.errors import ArchiveError

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_ZIP_MAGIC = b"PK\x03\x04"
_CORRUPT = (tarfile.ReadError, tarfile.CompressionError, EOFError, zlib.error, lzma.LZMAError, zstandard.ZstdError, zipfile.BadZipFile)


def extract(archive: Path, dest: Path, *, what: str) -> None:
    """Extract `archive` (format found from its first bytes) into the folder `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    with archive.open("rb") as f:
        magic = f.read(4)
    try:
        if magic == _ZIP_MAGIC:
            _extract_zip(archive, dest, what)
        elif magic == _ZSTD_MAGIC:
            _extract_zstd_tar(archive, dest, what)
        else:
            with tarfile.open(archive, "r:*") as tar:
                _extract_tar(tar, dest, what)
    except _CORRUPT as e:
        reason = " ".join(str(e).split())
        raise ArchiveError(f"{what}: corrupt or unreadable archive {archive.name} ({reason})") from e


def _strict_filter(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    """tarfile's `data` filter, but an absolute member path is refused, not made relative."""
    if member.name.startswith(("/", "\\")):
        raise tarfile.AbsolutePathError(member)
    return tarfile.data_filter(member, dest)


def _relinking_filter(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    """The strict filter, after turning absolute symlinks into relative ones inside `dest`.

    Debian packages link absolutely (`/usr/lib/...`); inside a sysroot or runtime tree
    the same link must point into the tree, never at the host's files.
    """
    if member.issym() and member.linkname.startswith("/"):
        parent = posixpath.dirname(posixpath.normpath(member.name).lstrip("/")) or "."
        member = member.replace(linkname=posixpath.relpath(member.linkname.lstrip("/"), parent), deep=False)
    return _strict_filter(member, dest)


def _extract_tar(tar: tarfile.TarFile, dest: Path, what: str, *, relink_absolute: bool = False) -> None:
    try:
        tar.extractall(dest, filter=_relinking_filter if relink_absolute else _strict_filter)
    except tarfile.FilterError as e:
        member = e.tarinfo.name if e.tarinfo else "?"
        raise ArchiveError(f"{what}: refusing unsafe archive member {member!r}: {e}") from e


def _extract_zstd_tar(archive: Path, dest: Path, what: str) -> None:
    # tarfile needs a seekable file for hard links, so decompress to scratch first.
    fd, name = tempfile.mkstemp(suffix=".tar", dir=cache.scratch_dir())
    os.close(fd)
    scratch = Path(name)
    try:
        with archive.open("rb") as src, scratch.open("wb") as out:
            zstandard.ZstdDecompressor().copy_stream(src, out)
        with tarfile.open(scratch, "r:") as tar:
            _extract_tar(tar, dest, what)
    finally:
        scratch.unlink(missing_ok=True)


def extract_download(blob: Path, dest: Path, *, what: str) -> None:
    """Extract a verified download; if it cannot be extracted safely, drop it from the cache too.

    Its bytes match the pin, so fetching it again would give the same refusal: keeping
    it would only hold disk space.
    """
    try:
        extract(blob, dest, what=what)
    except ArchiveError:
        blob.unlink(missing_ok=True)
        raise


def extract_tar_stream(tar: tarfile.TarFile, dest: Path, *, what: str, relink_absolute: bool = False) -> None:
    """Extract an already opened tar (for instance a .deb's data member) with the same checks.

    With `relink_absolute`, absolute symlinks are rewritten to stay inside `dest`
    instead of being refused.
    """
    try:
        _extract_tar(tar, dest, what, relink_absolute=relink_absolute)
    except _CORRUPT as e:
        raise ArchiveError(f"{what}: corrupt archive ({e})") from e


def _extract_zip(archive: Path, dest: Path, what: str) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            _check_zip_member(info, what)
        bad = zf.testzip()
        if bad is not None:
            raise ArchiveError(f"{what}: corrupt zip member {bad!r} in {archive.name}")
        zf.extractall(dest)


def _check_zip_member(info: zipfile.ZipInfo, what: str) -> None:
    name = info.filename.replace("\\", "/")
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or (len(name) > 1 and name[1] == ":"):
        raise ArchiveError(f"{what}: refusing unsafe archive member {info.filename!r}: it points outside the destination")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
        raise ArchiveError(f"{what}: refusing archive member {info.filename!r}: links and special files are not allowed in zips")
