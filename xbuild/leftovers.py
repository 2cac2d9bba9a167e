"""What killed builds leave in an output folder, and removing it without touching live builds.

A build writes only hidden, pid-named entries next to its artifacts until it renames
them into place: `.xbuild-<pid>-*` (work folder), `.<name>.partial-<pid>` and
`.<name>.old-<pid>` (the artifact being assembled, the one being replaced) and
`.<archive>.<pid>.tmp`. A SIGKILL or power cut leaves them behind (tens of MB
each). While it runs, a build holds an `flock` on `.xbuild-<pid>.lock`; the kernel
drops it when the process dies however it dies. The next build removes entries
whose pid's lock is free (or, with no lock file, whose process is gone), so a
concurrent build's work is never touched.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

# Names a build gives its temporary entries; group 1 is the owner's pid.
_PATTERNS = (
    re.compile(r"^\.xbuild-(\d+)-.+$"),
    re.compile(r"^\..+\.partial-(\d+)$"),
    re.compile(r"^\..+\.old-(\d+)$"),
    re.compile(r"^\..+\.(\d+)\.tmp$"),
    re.compile(r"^\.xbuild-(\d+)\.lock$"),
)


def _lock_path(folder: Path, pid: int) -> Path:
    return folder / f".xbuild-{pid}.lock"


def work_prefix() -> str:
    """The prefix of this process's work folders, so they can be told apart when stale."""
    return f".xbuild-{os.getpid()}-"


def _owner(name: str) -> int | None:
    for pattern in _PATTERNS:
        if match := pattern.match(name):
            return int(match.group(1))
    return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner_gone(folder: Path, pid: int) -> bool:
    """True when the build `pid` no longer runs: its lock is free, or it has no lock and no process."""
    if pid == os.getpid():
        return True  # this process has not written anything yet: an older process with the same pid did
    try:
        fd = os.open(_lock_path(folder, pid), os.O_RDWR)
    except FileNotFoundError:
        return not _pid_alive(pid)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    finally:
        os.close(fd)  # closing drops the lock taken just now, if any
    return True


def stale(folder: Path) -> list[Path]:
    """Entries of `folder` left by builds that are no longer running."""
    found = []
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    for path in entries:
        pid = _owner(path.name)
        if pid is not None and _owner_gone(folder, pid):
            found.append(path)
    # A dead build's lock file goes last, after what it guarded.
    return sorted(found, key=lambda p: p.name.endswith(".lock"))


def _size(path: Path) -> int:
    if path.is_symlink() or not path.is_dir():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*"))


def remove_stale(folder: Path) -> int:
    """Remove what killed builds left in `folder`; returns bytes freed."""
    freed = 0
    removed = 0
    for path in stale(folder):
        try:
            size = _size(path)
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except FileNotFoundError:
            continue
        except OSError as e:
            log.debug("could not remove %s: %s", path, e)
            continue
        freed += size
        removed += 0 if path.name.endswith(".lock") else 1
    if removed:
        log.info("removed %d leftover(s) of interrupted builds from %s (%.1f MiB)", removed, folder, freed / 2**20)
    return freed


@contextmanager
def claim(folder: Path) -> Iterator[None]:
    """Mark `folder` as used by this build for the duration, after clearing stale leftovers there."""
    remove_stale(folder)
    path = _lock_path(folder, os.getpid())
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)
