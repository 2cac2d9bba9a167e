"""What a runtime source is and offers: one pinned CPython build for one target."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from xbuild import versions
from xbuild.download import PinnedFile
from xbuild.runtimes.model import Runtime
from xbuild.targets import Target


@dataclass(frozen=True)
class Offer:
    """A pinned runtime a source can provide.

    `origin` and `sha256` identify its main input: the archive or sdist for PBS and
    PyPI, the lock for Debian. `key` names its folder in the cache.
    """

    source: str
    triple: str
    python: str  # exact version, e.g. 3.11.16
    what: str  # for messages: "CPython 3.11.16 for x86_64-pc-windows-msvc (pbs 20260814)"
    origin: str
    sha256: str
    size: int | None = None
    folder: str = ""  # the cache folder name, when the source chose it before the version was known
    static: bool = False  # one static interpreter, no libpython.so: it cannot load extension modules

    @property
    def key(self) -> str:
        return self.folder or f"{self.source}-{self.python}-{self.sha256[:12]}"

    @property
    def pin(self) -> PinnedFile:
        """The main input as a file to download (PBS and PyPI)."""
        return PinnedFile(self.origin, self.sha256, self.what, self.size)


class RuntimeSource(Protocol):
    """A place CPython runtimes come from (`xbuild.runtimes.SOURCES` maps each name to one).

    Each source is a module with these two functions: `offers` lists its pins, newest
    Python first, without touching the network; `install` publishes one of them in
    the cache, raising SourceUnavailableError (or OfflineError) when the next source
    may be tried, and IntegrityError when nothing should be.
    """

    def offers(self, target: Target | None = None, python: str | None = None) -> list[Offer]: ...

    def install(self, offer: Offer, target: Target, *, offline: bool = False) -> Runtime: ...


def matches(version: str, wanted: str | None) -> bool:
    """`3.11.16` matches `3.11`, `3.11.16` and None (any)."""
    return versions.matches(version, wanted)


def version_key(version: str) -> versions.Version:
    """Sort key: 3.15.0b1 < 3.15.0rc1 < 3.15.0."""
    return versions.python(version)
