"""Where xbuild keeps what it downloads and builds, and how it writes there safely.

One root (`XBUILD_CACHE_DIR`, else `$XDG_CACHE_HOME/xbuild`, else `~/.cache/xbuild`)
so users can see, size and delete it in one place. Writes go to a temporary file in
the same folder and are renamed into place, so a crash never leaves half a file.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from xbuild import settings


def root() -> Path:
    """The cache root; not created until something is written there."""
    return settings.current().cache_dir


def write_atomic(path: Path, data: bytes | str, mode: int = 0o644) -> Path:
    """Write `data` to `path` all at once: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def tree_size(path: Path) -> int:
    """Bytes used by the files below `path` (0 if it does not exist)."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def blob_path(sha256: str) -> Path:
    """Where a verified download with this sha256 lives (content-addressed)."""
    return root() / "blobs" / "sha256" / sha256[:2] / sha256


def scratch_dir() -> Path:
    """A folder on the cache's file system for work in progress, so renames are atomic."""
    path = root() / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def locked(name: str) -> Iterator[None]:
    """Hold an exclusive lock shared by every xbuild process using this cache.

    `flock` locks go away with the process, so a crash never leaves a stale lock.
    """
    path = root() / "locks" / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def sha256_file(path: Path) -> str:
    """The sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def publish_dir(staging: Path, final: Path) -> Path:
    """Move a finished folder into place in one rename; if another process won, keep theirs."""
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(staging, final)
    except OSError:
        if not final.is_dir():
            raise
        shutil.rmtree(staging, ignore_errors=True)
    return final


def blobs() -> list[Path]:
    """Every file in the blob store."""
    return sorted(p for p in (root() / "blobs" / "sha256").glob("*/*") if p.is_file())


def corrupt_blobs() -> list[Path]:
    """Blobs whose content no longer hashes to their name."""
    return [p for p in blobs() if sha256_file(p) != p.name]


def clear_scratch() -> int:
    """Remove leftovers of interrupted work; returns bytes freed."""
    scratch = root() / "tmp"
    freed = tree_size(scratch)
    shutil.rmtree(scratch, ignore_errors=True)
    return freed
