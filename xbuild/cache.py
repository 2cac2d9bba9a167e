"""Where xbuild keeps what it downloads and builds, and how it writes there safely.

One root (`XBUILD_CACHE_DIR`, else `$XDG_CACHE_HOME/xbuild`, else `~/.cache/xbuild`)
so users can see, size and delete it in one place. Writes go to a temporary file in
the same folder and are renamed into place, so a crash never leaves half a file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def root() -> Path:
    """The cache root; not created until something is written there."""
    override = os.environ.get("XBUILD_CACHE_DIR")
    if override:
        return Path(override).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return (base / "xbuild").resolve()


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
