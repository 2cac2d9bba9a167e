"""A full, read-only or forbidden file system while building: one BuildError saying what to do.

These are not bugs of xbuild or of the project, so they get a sentence, not a
traceback; the step that failed has already removed what it was writing.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from xbuild import cache
from xbuild.errors import BuildError

# Errors of the file system being written (dist/ or the cache), not of the build: one line saying what to do.
_DISK_ERRORS = {
    errno.ENOSPC: "no space left on the device holding {where}: free some space{hint}",
    errno.EDQUOT: "disk quota exceeded on {where}: free some space{hint}",
    errno.EROFS: "{where} is on a read-only file system: make it writable{hint}",
    errno.EACCES: "permission denied on {where}: fix its permissions{hint}",
    errno.EPERM: "permission denied on {where}: fix its permissions{hint}",
}


@contextmanager
def disk_errors_as_build_errors(output_dir: Path) -> Iterator[None]:
    """Turn a full or read-only file system into one BuildError (the failing step has cleaned up)."""
    try:
        yield
    except OSError as e:
        template = _DISK_ERRORS.get(e.errno or 0)
        if template is None:
            raise
        named = e.filename2 or e.filename  # a copy names its destination second
        where = Path(os.fsdecode(named)) if isinstance(named, (str, bytes, os.PathLike)) else output_dir
        if where.is_relative_to(output_dir):
            where, hint = output_dir, " or choose another --output-dir"
        elif where.is_relative_to(cache.root()):
            hint = " or move xbuild's cache with XBUILD_CACHE_DIR"
        else:
            hint = ""
        raise BuildError(template.format(where=where, hint=hint)) from None
