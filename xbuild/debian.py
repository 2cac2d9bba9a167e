"""Debian packages as a verified, pinned source of files for any architecture.

The chain of trust is Debian's own: `InRelease` (signature checked with gpgv and
Debian's archive keyring when the host has them) gives the sha256 of each
`Packages` index, which gives the sha256 of each `.deb`. A *lock* records that
chain once; fetching from a lock downloads only what it names and refuses any
byte that differs. `.deb`s are unpacked in pure Python (ar + tar, with xz, zstd
or gzip), so no dpkg is needed. Runtimes and sysroots both use this module.
"""

from __future__ import annotations

import io
import logging
import lzma
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import zstandard
from debian.arfile import ArFile
from debian.deb822 import Dsc, Packages, Release, Sources
from debian.debian_support import Version

from xbuild import archive, cache, download, settings
from xbuild.errors import (
    ArchiveError,
    DebianError,
    IntegrityError,
    SourceUnavailableError,
)

log = logging.getLogger(__name__)

MIRROR_VAR = settings.DEBIAN_MIRROR_VAR
DEFAULT_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")


@dataclass(frozen=True)
class Deb:
    """One pinned .deb, as a lock records it."""

    package: str
    version: str
    architecture: str
    filename: str  # path below the mirror, pool/main/...
    sha256: str
    size: int


@dataclass
class Lock:
    """Exact packages for one architecture, with the hashes that led to them."""

    mirror: str
    suite: str
    architecture: str
    inrelease_sha256: str
    signature: str  # how InRelease was checked: "gpgv: <keyring>" or "unchecked: <why>"
    index: str  # e.g. main/binary-arm64/Packages.xz
    index_sha256: str
    packages: list[Deb] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Lock:
        return cls(**{**data, "packages": [Deb(**d) for d in data["packages"]]})


def mirror_url(default: str) -> str:
    """The mirror to use: `XBUILD_DEBIAN_MIRROR` when set (a snapshot URL works too)."""
    return (settings.current().debian_mirror or default).rstrip("/")


def _verify_inrelease(data: bytes, keyring: Path | None) -> tuple[bytes, str]:
    """The signed payload of InRelease, and how it was checked."""
    keyring = keyring or DEFAULT_KEYRING
    gpgv = shutil.which("gpgv")
    if gpgv is None or not keyring.is_file():
        missing = "gpgv" if gpgv is None else str(keyring)
        log.warning("InRelease signature not checked: %s is missing (apt-get install gpgv debian-archive-keyring)", missing)
        return data, f"unchecked: {missing} missing"
    with tempfile.TemporaryDirectory(dir=cache.scratch_dir()) as tmp:
        signed = Path(tmp) / "InRelease"
        signed.write_bytes(data)
        proc = subprocess.run(
            [gpgv, "--keyring", str(keyring), "--output", "-", str(signed)], capture_output=True
        )
    if proc.returncode != 0:
        raise IntegrityError(f"InRelease signature check failed with {keyring}: {proc.stderr.decode(errors='replace').strip().splitlines()[-1:]}")
    return proc.stdout, f"gpgv: {keyring.name}"


def _index_entry(release: Release, name: str) -> tuple[str, int]:
    for entry in release["SHA256"]:
        if entry["name"] == name:
            return entry["sha256"], int(entry["size"])
    raise DebianError(f"the Release file has no {name}; is the architecture right for this suite?")


def _signed_release(mirror: str, suite: str, keyring: Path | None) -> tuple[bytes, str, Release]:
    """InRelease of `suite`: its raw bytes, how its signature was checked, and its parsed payload."""
    raw = download.get_unpinned(f"{mirror}/dists/{suite}/InRelease", f"Debian {suite} InRelease")
    payload, signature = _verify_inrelease(raw, keyring)
    return raw, signature, Release(payload)


def load_index(mirror: str, suite: str, architecture: str, *, keyring: Path | None = None) -> tuple[Lock, Index]:
    """Fetch and verify the current index: an empty lock (the chain so far) and packages by name."""
    raw, signature, release = _signed_release(mirror, suite, keyring)
    name = f"main/binary-{architecture}/Packages.xz"
    sha256, size = _index_entry(release, name)
    pin = download.PinnedFile(f"{mirror}/dists/{suite}/{name}", sha256, f"Debian {suite} {architecture} Packages", size)
    lock = Lock(mirror, suite, architecture, cache.sha256_bytes(raw), signature, name, sha256)
    return lock, parse_index(download.fetch(pin))


class Index:
    """A Packages index, split into paragraphs by name and parsed only where asked.

    Parsing all ~60,000 paragraphs with deb822 takes many seconds; a lock needs dozens.
    """

    def __init__(self, text: str) -> None:
        self._raw: dict[str, str] = {}
        self.providers: dict[str, str] = {}
        for block in text.split("\n\n"):
            if not block.startswith("Package: "):
                continue
            name = block[9 : block.index("\n")].strip()
            self._raw.setdefault(name, block)
            at = block.find("\nProvides: ")
            if at >= 0:
                line = block[at + 11 : block.find("\n", at + 1) if block.find("\n", at + 1) >= 0 else None]
                for item in line.split(","):
                    self.providers.setdefault(item.split("(")[0].strip(), name)
        self._parsed: dict[str, Packages] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._raw

    def get(self, name: str) -> Packages | None:
        if name not in self._raw:
            return None
        if name not in self._parsed:
            self._parsed[name] = Packages(self._raw[name])
        return self._parsed[name]


def parse_index(path: Path) -> Index:
    with lzma.open(path) as f:
        return Index(f.read().decode("utf-8"))


def resolve(index: Index, roots: Sequence[str], exclude: Iterable[str] = ()) -> list[Packages]:
    """The roots and everything they depend on (Pre-Depends and Depends), minus `exclude`.

    Alternatives take the first one the index has (or a package that provides it);
    version constraints are not checked because a suite holds one version of each.
    """
    excluded = set(exclude)
    chosen: dict[str, Packages] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in chosen or name in excluded:
            continue
        para = index.get(name)
        if para is None:
            raise DebianError(f"package {name!r} is not in the index")
        chosen[name] = para
        for group in [*para.relations.get("pre-depends", []), *para.relations.get("depends", [])]:
            names = [alt["name"] for alt in group]
            if any(n in excluded or n in chosen for n in names):
                continue
            pick = next((n for n in names if n in index), None) or next((index.providers[n] for n in names if n in index.providers), None)
            if pick is None:
                raise DebianError(f"{name} depends on {' | '.join(names)}, which the index does not have")
            todo.append(pick)
    return [chosen[n] for n in sorted(chosen)]


def lock_packages(mirror: str, suite: str, architecture: str, roots: Sequence[str], exclude: Iterable[str] = (), *, keyring: Path | None = None) -> Lock:
    """Resolve `roots` against today's index and record every hash along the way."""
    lock, index = load_index(mirror, suite, architecture, keyring=keyring)
    for para in resolve(index, roots, exclude):
        lock.packages.append(
            Deb(para["Package"], para["Version"], para["Architecture"], para["Filename"], para["SHA256"], int(para["Size"]))
        )
    return lock


def fetch_debs(lock: Lock, *, offline: bool = False, reverify: bool = False) -> list[tuple[Deb, Path]]:
    """Every .deb of a lock, verified against it (`reverify`: cached copies are re-hashed too)."""
    mirror = mirror_url(lock.mirror)
    fetched = []
    for deb in lock.packages:
        pin = download.PinnedFile(f"{mirror}/{deb.filename}", deb.sha256, f"{deb.package} {deb.version} ({deb.architecture})", deb.size)
        if reverify:
            download.reverify_cached(pin)
        try:
            fetched.append((deb, download.fetch(pin, offline=offline)))
        except SourceUnavailableError as e:
            raise SourceUnavailableError(
                f"{deb.package} {deb.version} is not on {mirror} any more: re-lock (`xbuild sysroot lock`), "
                f"or set {MIRROR_VAR} to a snapshot that has it, e.g. https://snapshot.debian.org/archive/debian/<YYYYMMDDTHHMMSSZ> ({e})"
            ) from e
    return fetched


def extract_deb(path: Path, dest: Path, *, what: str) -> None:
    """Unpack a .deb's data member into `dest` with the safe-extraction rules."""
    try:
        members = {m.name: m for m in ArFile(str(path)).getmembers()}
    except Exception as e:  # python-debian raises a mix of types for bad ar files
        raise ArchiveError(f"{what}: not a readable .deb ({e})") from e
    name = next((n for n in members if n.startswith("data.tar")), None)
    if name is None:
        raise ArchiveError(f"{what}: the .deb has no data.tar member")
    data = members[name].read()
    if name.endswith(".zst"):
        data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            archive.extract_tar_stream(tar, dest, what=what, relink_absolute=True)
    except tarfile.ReadError as e:
        raise ArchiveError(f"{what}: corrupt data member {name} ({e})") from e


def unpack_lock(lock: Lock, dest: Path, *, offline: bool = False, reverify: bool = False) -> list[Deb]:
    """Fetch and unpack every package of a lock into one tree (a root file system)."""
    fetched = fetch_debs(lock, offline=offline, reverify=reverify)
    for deb, path in fetched:
        extract_deb(path, dest, what=f"{deb.package}_{deb.version}_{deb.architecture}.deb")
    return [deb for deb, _ in fetched]


# -- source packages: InRelease -> Sources -> .dsc -> orig tarball ---------------------

SOURCES_INDEX = "main/source/Sources.xz"


@dataclass(frozen=True)
class SourceFile:
    """One file of a source package (the .dsc, an orig tarball), pinned."""

    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class SourcePackage:
    """One pinned Debian source package: its .dsc and the upstream (orig) tarball it lists."""

    package: str
    version: str
    suite: str  # whose Sources index pinned it
    directory: str  # below the mirror, pool/main/...
    dsc: SourceFile
    orig: SourceFile
    dsc_checked: bool  # the .dsc was served and lists the same orig (else the Sources entry alone pins it)

    @property
    def upstream_version(self) -> str:
        """`3.5.7` for `3.5.7-1~deb13u2`, `1.3.1` for `1:1.3.dfsg+really1.3.1-1`."""
        upstream = self.version.split(":")[-1].rsplit("-", 1)[0]
        return upstream.split("really")[-1]

    def pin(self, mirror: str, part: str = "orig") -> download.PinnedFile:
        file = self.orig if part == "orig" else self.dsc
        return download.PinnedFile(f"{mirror}/{self.directory}/{file.name}", file.sha256, f"{self.package} {self.version} {file.name}", file.size)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SourcePackage:
        return cls(**{**data, "dsc": SourceFile(**data["dsc"]), "orig": SourceFile(**data["orig"])})


@dataclass(frozen=True)
class IndexPin:
    """How one suite's Sources index was reached: InRelease (and its signature check), then the index."""

    suite: str
    inrelease_sha256: str
    signature: str
    index: str
    index_sha256: str


@dataclass
class SourceLock:
    """Exact source packages, with the hashes of the signed indexes that pinned them."""

    mirror: str
    indexes: dict[str, IndexPin] = field(default_factory=dict)
    packages: dict[str, SourcePackage] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SourceLock:
        return cls(
            data["mirror"],
            {k: IndexPin(**v) for k, v in data["indexes"].items()},
            {k: SourcePackage.from_json(v) for k, v in data["packages"].items()},
        )


class SourcesIndex:
    """A Sources index: every paragraph of each source package (a suite may hold several versions)."""

    def __init__(self, pin: IndexPin, text: str) -> None:
        self.pin = pin
        self._raw: dict[str, list[str]] = {}
        for block in text.split("\n\n"):
            if block.startswith("Package: "):
                self._raw.setdefault(block[9 : block.index("\n")].strip(), []).append(block)

    def versions(self, name: str) -> list[Sources]:
        """Paragraphs for source package `name`, newest first."""
        paras = [Sources(b) for b in self._raw.get(name, [])]
        return sorted(paras, key=lambda p: Version(p["Version"]), reverse=True)


def load_sources_index(mirror: str, suite: str, *, keyring: Path | None = None) -> SourcesIndex:
    """Fetch and verify `suite`'s Sources index (InRelease signature, then the index's sha256)."""
    raw, signature, release = _signed_release(mirror, suite, keyring)
    sha256, size = _index_entry(release, SOURCES_INDEX)
    pin = download.PinnedFile(f"{mirror}/dists/{suite}/{SOURCES_INDEX}", sha256, f"Debian {suite} Sources", size)
    with lzma.open(download.fetch(pin)) as f:
        text = f.read().decode("utf-8")
    return SourcesIndex(IndexPin(suite, cache.sha256_bytes(raw), signature, SOURCES_INDEX, sha256), text)


def _files(para: Sources | Dsc) -> dict[str, SourceFile]:
    return {f["name"]: SourceFile(f["name"], f["sha256"], int(f["size"])) for f in para["Checksums-Sha256"]}


def pick_source(index: SourcesIndex, mirror: str, package: str, upstream_prefix: str = "") -> SourcePackage:
    """The newest served version of `package` whose upstream version starts with `upstream_prefix`.

    The signed Sources index already pins the orig tarball's sha256; the .dsc is fetched
    too and must list the same orig (InRelease -> Sources -> .dsc -> orig). A version
    whose .dsc the mirror no longer serves is taken only when no version has the full
    chain, and the lock says so (`dsc_checked: false`).
    """
    candidates = []
    for para in index.versions(package):
        files = _files(para)
        dsc = next((f for n, f in files.items() if n.endswith(".dsc")), None)
        orig = next((f for n, f in files.items() if ".orig.tar." in n and not n.endswith(".asc")), None)
        if dsc is not None and orig is not None:
            found = SourcePackage(package, para["Version"], index.pin.suite, para["Directory"], dsc, orig, False)
            if found.upstream_version.startswith(upstream_prefix):
                candidates.append(found)
    for found in candidates:
        try:
            check_dsc(found, mirror)
        except SourceUnavailableError as e:
            log.info("%s %s: .dsc not served (%s)", package, found.version, e)
            continue
        return replace(found, dsc_checked=True)
    for found in candidates:
        try:
            download.fetch(found.pin(mirror))
        except SourceUnavailableError as e:
            log.info("%s %s: orig not served (%s)", package, found.version, e)
            continue
        log.warning("%s %s: pinned by the signed Sources index alone (its .dsc is not served)", package, found.version)
        return found
    raise DebianError(f"source package {package!r} with upstream version {upstream_prefix or 'any'}* is not served from {index.pin.suite}'s Sources index")


def check_dsc(pkg: SourcePackage, mirror: str, *, offline: bool = False) -> None:
    """Fetch the pinned .dsc and check that it names the pinned orig tarball."""
    dsc = Dsc(download.fetch(pkg.pin(mirror, "dsc"), offline=offline).read_text(encoding="utf-8", errors="replace"))
    listed = _files(dsc).get(pkg.orig.name)
    if listed != pkg.orig:
        raise IntegrityError(f"{pkg.dsc.name} does not list {pkg.orig.name} with sha256 {pkg.orig.sha256}: the chain is broken, re-lock")


def fetch_source(pkg: SourcePackage, mirror: str, *, offline: bool = False) -> Path:
    """The verified orig tarball of a pinned source package (the hash decides, whatever the URL)."""
    try:
        return download.fetch(pkg.pin(mirror_url(mirror)), offline=offline)
    except SourceUnavailableError as e:
        raise SourceUnavailableError(
            f"{pkg.orig.name} is not on {mirror_url(mirror)} any more: re-lock, or set {MIRROR_VAR} to a snapshot that has it, "
            f"e.g. https://snapshot.debian.org/archive/debian/<YYYYMMDDTHHMMSSZ> ({e})"
        ) from e
