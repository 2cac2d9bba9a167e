"""The pinned sources of a from-source CPython runtime, and their chain of trust.

Every tarball comes from Debian's source archive: the gpgv-checked `InRelease`
pins the `Sources` index, which pins each package's `.dsc`, which lists the
upstream (orig) tarball by sha256. `toolchains/cpython-sources.lock.json` records
that chain once (`python toolchains/lock_cpython_sources.py` rebuilds it from the
recipes' `[source]` tables); a build then fetches only the orig tarballs, by hash,
from whichever mirror serves them.
"""

from __future__ import annotations

import json
import logging
from functools import cache
from pathlib import Path
from typing import Any

from xbuild import cache as xcache
from xbuild import debian
from xbuild.cpython import recipes
from xbuild.errors import XbuildError
from xbuild.resources import shipped

log = logging.getLogger(__name__)

LOCK_NAME = "cpython-sources.lock.json"
MIRROR = "https://deb.debian.org/debian"
SUITE = "sid"


class SourceLockError(XbuildError):
    """The source lock is missing, unreadable, or lacks a package a recipe needs."""


def lock_path() -> Path:
    return shipped("toolchains") / LOCK_NAME


@cache
def load_lock(path: Path | None = None) -> debian.SourceLock:
    """The recorded chain; a broken or missing lock is a one-line error saying how to fix it."""
    path = path or lock_path()
    try:
        return debian.SourceLock.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise SourceLockError(f"cannot read the CPython source lock {path} ({e}); regenerate it with `python toolchains/lock_cpython_sources.py`") from e


def lock_digest(lock: debian.SourceLock) -> str:
    """A stable hash of the whole lock: part of every built runtime's key."""
    return xcache.sha256_bytes(json.dumps(lock.to_json(), sort_keys=True).encode())


def package(lock: debian.SourceLock, name: str) -> debian.SourcePackage:
    """The pinned source of recipe `name`."""
    found = lock.packages.get(name)
    if found is None:
        raise SourceLockError(f"the CPython source lock has no {name!r}; regenerate it with `python toolchains/lock_cpython_sources.py`")
    return found


def fetch(lock: debian.SourceLock, name: str, *, offline: bool = False) -> Path:
    """The verified orig tarball for recipe `name`."""
    return debian.fetch_source(package(lock, name), lock.mirror, offline=offline)


def make_lock(mirror: str = MIRROR, names: list[str] | None = None) -> debian.SourceLock:
    """Resolve every recipe's `[source]` against today's Sources indexes, checking each .dsc."""
    lock = debian.SourceLock(mirror)
    indexes: dict[str, debian.SourcesIndex] = {}
    for name in names or recipes.names():
        wanted: dict[str, Any] = recipes.load(name)["source"]
        suite = wanted.get("suite", SUITE)
        if suite not in indexes:
            indexes[suite] = debian.load_sources_index(mirror, suite)
            lock.indexes[suite] = indexes[suite].pin
        pkg = debian.pick_source(indexes[suite], mirror, wanted["debian"], wanted.get("upstream", ""))
        lock.packages[name] = pkg
        log.info("%s: %s %s from %s (%s)", name, pkg.package, pkg.version, suite, pkg.orig.name)
    return lock
