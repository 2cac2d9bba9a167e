"""python-build-standalone: the pinned `install_only_stripped` archives of one release.

The pins are `toolchains/pbs.toml` (`XBUILD_PBS_PINS` names another such file, to
pin a newer release); `XBUILD_PBS_MIRROR` (any base URL, `file://` included)
replaces the release URL, for mirrors and air-gapped caches.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from xbuild import archive, download, settings
from xbuild.resources import load_toml, shipped
from xbuild.runtimes import model
from xbuild.runtimes.floor import libc_floor
from xbuild.runtimes.model import Runtime
from xbuild.runtimes.offer import Offer, matches, version_key
from xbuild.runtimes.store import publish
from xbuild.targets import Target

NAME = "pbs"
MIRROR_VAR = settings.PBS_MIRROR_VAR
PINS_VAR = settings.PBS_PINS_VAR


@dataclass(frozen=True)
class Release:
    """toolchains/pbs.toml: one PBS release and its archives."""

    release: str
    base_url: str
    flavor: str
    archives: tuple[dict[str, Any], ...]  # python, triple, file, sha256, and size (bytes) when pinned


def pins_file() -> Path:
    """toolchains/pbs.toml, or the file `XBUILD_PBS_PINS` names (to pin another release)."""
    return settings.current().pbs_pins or shipped("toolchains") / "pbs.toml"


@cache
def _load(path: Path) -> Release:
    data = load_toml(path)
    return Release(data["release"], data["base_url"], data["flavor"], tuple(data["archive"]))


def _release() -> Release:
    return _load(pins_file())


def base_url() -> str:
    return (settings.current().pbs_mirror or _release().base_url).rstrip("/")


def offers(target: Target | None = None, python: str | None = None) -> list[Offer]:
    """Pinned archives for the target (all targets when None), newest Python first."""
    release = _release()
    found = []
    for a in release.archives:
        if (target is None or a["triple"] == target.triple) and matches(a["python"], python):
            what = f"CPython {a['python']} for {a['triple']} (pbs {release.release})"
            url = f"{base_url()}/{quote(a['file'])}"
            found.append(Offer(NAME, a["triple"], a["python"], what, url, a["sha256"], a.get("size")))
    return sorted(found, key=lambda o: version_key(o.python), reverse=True)


def install(offer: Offer, target: Target, *, offline: bool = False) -> Runtime:
    def build(work: Path) -> Runtime:
        blob = download.fetch(offer.pin, offline=offline)
        archive.extract_download(blob, work / "x", what=offer.what)
        root = work / "x" / "python"
        return model.describe(
            root,
            target,
            source=NAME,
            origin=offer.origin,
            inputs={offer.origin.rsplit("/", 1)[-1]: offer.sha256},
            libc_floor=libc_floor(root, target),
        )

    return publish(target, offer.key, build)
