"""Unpack an archive given to `xbuild audit`, refusing decompression bombs before writing.

Wheels and artifact archives are read from their headers first (zip central directory,
tar member sizes); one that would inflate far beyond its own size, or beyond a total
that no real wheel reaches, is refused with one line. Real binaries compress 2-10
fold; the largest CUDA/torch wheels unpack to a few GiB.
"""

from __future__ import annotations

import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import zstandard

from xbuild import archive
from xbuild.errors import UnreadableInputError

MAX_TOTAL = 8 * 2**30  # bytes unpacked per archive, at most
MAX_RATIO = 100  # unpacked size / archive size, once past RATIO_FROM
RATIO_FROM = 256 * 2**20
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _mib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def unpacked_size(path: Path) -> int:
    """What the archive's members add up to, from their headers (no member is written)."""
    with path.open("rb") as f:
        magic = f.read(4)
    try:
        if magic[:2] == b"PK":
            with zipfile.ZipFile(path) as zf:
                return sum(max(0, i.file_size) for i in zf.infolist())
        if magic == _ZSTD_MAGIC:
            with path.open("rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
                return sum(m.size for m in tar)
        with tarfile.open(path, "r|*") as tar:
            return sum(m.size for m in tar)
    except (zipfile.BadZipFile, tarfile.TarError, zstandard.ZstdError, EOFError, OSError, ValueError) as e:
        raise UnreadableInputError(f"{path.name}: corrupt or unreadable archive ({' '.join(str(e).split())})") from e


def check_size(path: Path) -> None:
    """Refuse an archive whose members would fill the disk (a 1 MiB wheel holding 1 GiB)."""
    packed = max(1, path.stat().st_size)
    total = unpacked_size(path)
    if total > MAX_TOTAL or (total > RATIO_FROM and total > MAX_RATIO * packed):
        raise UnreadableInputError(
            f"{path.name}: refusing to unpack {_mib(total)} from a {_mib(packed)} archive "
            f"(xbuild audit unpacks at most {MAX_RATIO} times an archive's size beyond {_mib(RATIO_FROM)}, "
            f"and {_mib(MAX_TOTAL)} in all); unpack it yourself and audit the folder"
        )


@contextmanager
def unpacked(path: Path) -> Iterator[Path]:
    """A temporary folder holding the archive's members, removed afterwards."""
    check_size(path)
    with tempfile.TemporaryDirectory(prefix="xbuild-audit-") as tmp:
        archive.extract(path, Path(tmp), what=path.name)
        yield Path(tmp)
