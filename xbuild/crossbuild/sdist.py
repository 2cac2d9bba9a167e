"""The sdist of a requirement: chosen from the package index's JSON simple API, fetched verified.

The index (PEP 691, `PIP_INDEX_URL` or PyPI) lists each file with its sha256; the sdist
comes through xbuild's downloader, which refuses bytes that differ from that hash
before anything is unpacked or run. The newest release that satisfies the
requirement and the runtime's Python version, is not yanked and has an sdist wins.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidSdistFilename, canonicalize_name, parse_sdist_filename
from packaging.version import Version

from xbuild import archive, download
from xbuild.errors import ResolveError, SourceUnavailableError

DEFAULT_INDEX = "https://pypi.org/simple"
_ACCEPT = "application/vnd.pypi.simple.v1+json"


@dataclass(frozen=True)
class Sdist:
    """One source distribution on the index."""

    name: str
    version: str
    file: str
    url: str
    sha256: str


def index_url() -> str:
    return (os.environ.get("PIP_INDEX_URL") or DEFAULT_INDEX).rstrip("/")


def _project_files(name: str) -> list[dict[str, Any]]:
    url = f"{index_url()}/{canonicalize_name(name)}/"
    try:
        response = requests.get(url, headers={"Accept": _ACCEPT}, timeout=60)
    except requests.RequestException as e:
        raise SourceUnavailableError(f"cannot ask the package index about {name} ({url}): {e.__class__.__name__}") from None
    if response.status_code == 404:
        raise ResolveError(f"{name} is not on the package index {index_url()}")
    if response.status_code != 200:
        raise SourceUnavailableError(f"the package index answered HTTP {response.status_code} for {url}")
    try:
        files: list[dict[str, Any]] = response.json()["files"]
    except (ValueError, KeyError):
        raise SourceUnavailableError(f"{url} is not a JSON simple index page (PEP 691)") from None
    return files


def find(name: str, specifier: str, python: str) -> Sdist:
    """The newest sdist of `name` matching `specifier` that supports Python `python`."""
    wanted = SpecifierSet(specifier)
    best: tuple[Version, Sdist] | None = None
    for entry in _project_files(name):
        file = entry.get("filename", "")
        if entry.get("yanked") or not file.endswith((".tar.gz", ".zip")):
            continue
        try:
            _, version = parse_sdist_filename(file)
        except InvalidSdistFilename:
            continue
        if not wanted.contains(version, prereleases=bool(wanted) and any(s.version.count("rc") or s.version.count("b") for s in wanted)):
            continue
        requires = entry.get("requires-python")
        try:
            if requires and not SpecifierSet(requires).contains(python, prereleases=True):
                continue
        except InvalidSpecifier:
            pass
        digest = (entry.get("hashes") or {}).get("sha256")
        if not digest:
            continue
        candidate = Sdist(str(canonicalize_name(name)), str(version), file, requests.compat.urljoin(f"{index_url()}/{name}/", entry["url"]), digest)
        if best is None or version > best[0]:
            best = (version, candidate)
    if best is None:
        raise ResolveError(f"no sdist of {name}{specifier} for Python {python} on {index_url()}: it cannot be built from source")
    return best[1]


def fetch(sdist: Sdist, *, offline: bool = False) -> Path:
    """The verified sdist file (a hash mismatch raises IntegrityError, nothing is unpacked)."""
    return download.fetch(download.PinnedFile(sdist.url, sdist.sha256, f"{sdist.name} {sdist.version} sdist ({sdist.file})"), offline=offline)


def unpack(path: Path, file: str, dest: Path) -> Path:
    """Unpack with xbuild's safe-extraction rules; returns the source tree (the top folder)."""
    archive.extract(path, dest, what=file)
    tops = [p for p in dest.iterdir() if p.is_dir()]
    return tops[0] if len(tops) == 1 else dest
