"""`xbuild runtime prune`: drop cached runtimes and downloads no pin refers to any more."""

from __future__ import annotations

import logging
import shutil

from xbuild import cache
from xbuild.runtimes import debian, offers
from xbuild.runtimes.store import installed

log = logging.getLogger(__name__)


def pinned_hashes() -> set[str]:
    """sha256 of every file some pin still names (archives, sdists, Debian packages)."""
    hashes = {o.sha256 for o in offers()}
    hashes |= debian.pinned_debs()
    return hashes


def prune(*, everything: bool = False) -> int:
    """Remove what no pin refers to (or all runtimes and downloads); returns bytes freed."""
    freed = cache.clear_scratch()
    keys = {o.key for o in offers()}
    for runtime in installed():
        stale = runtime.root.name not in keys and runtime.source != "local"
        if everything or stale:
            freed += cache.tree_size(runtime.root)
            log.info("removing runtime %s (%s %s)", runtime.root.name, runtime.triple, runtime.source)
            shutil.rmtree(runtime.root)
    keep = set() if everything else pinned_hashes()
    for blob in cache.blobs():
        if blob.name not in keep:
            freed += blob.stat().st_size
            blob.unlink()
    return freed
