"""What a runtime source offers: one pinned CPython build for one target."""

from __future__ import annotations

from dataclasses import dataclass

from xbuild.download import PinnedFile


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

    @property
    def key(self) -> str:
        return self.folder or f"{self.source}-{self.python}-{self.sha256[:12]}"

    @property
    def pin(self) -> PinnedFile:
        """The main input as a file to download (PBS and PyPI)."""
        return PinnedFile(self.origin, self.sha256, self.what, self.size)


def matches(version: str, wanted: str | None) -> bool:
    """`3.11.16` matches `3.11`, `3.11.16` and None (any)."""
    return wanted is None or version == wanted or version.startswith(wanted + ".") or version.startswith(wanted + "rc")


def version_key(version: str) -> tuple[int, ...]:
    """Sort key: 3.15.0rc1 sorts below 3.15.0."""
    main, _, rc = version.partition("rc")
    return (*(int(p) for p in main.split(".")), int(rc) if rc else 1 << 30)
