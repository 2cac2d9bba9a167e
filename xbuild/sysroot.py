"""Hermetic sysroots: Debian headers and libraries for a Linux glibc target, pinned and verified.

A recipe (`sysroots/linux-gnu.toml`) names a suite and packages; `lock()` resolves them
against the signed index and records every hash along the chain of trust
(InRelease -> Packages -> each .deb) in `sysroots/<triple>.lock.json`; `build()` fetches
exactly what a lock names, refuses any byte that differs (cached files included),
unpacks in pure Python with absolute symlinks made relative, drops documentation and
publishes the tree atomically. The same lock gives the same tree on any host.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import zstandard

from xbuild import cache as xcache
from xbuild import debian, download
from xbuild.audit.elf import glibc_floor
from xbuild.errors import IntegrityError, OfflineError, SourceUnavailableError, UsageError
from xbuild.release_archive import add_normalized, atomically
from xbuild.resources import load_toml, shipped
from xbuild.runtimes.floor import elf_files
from xbuild.targets import Target

log = logging.getLogger(__name__)

RECIPE = "linux-gnu.toml"
FLOOR_STAMP = ".xbuild-glibc-floor"
MANIFEST = ".xbuild-manifest"
DEFAULT_MIRROR = "https://deb.debian.org/debian"
APT_SOURCES = (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list"))


@cache
def recipe() -> dict[str, Any]:
    return load_toml(shipped("sysroots") / RECIPE)


def _check_target(target: Target) -> None:
    if target.triple not in recipe()["targets"]:
        raise UsageError(f"no sysroot recipe for {target.triple}: sysroots serve {', '.join(recipe()['targets'])}")


def host_mirror() -> str:
    """The Debian mirror apt uses here (first `deb` URI for .../debian), else deb.debian.org."""
    for source in APT_SOURCES:
        try:
            text = source.read_text()
        except OSError:
            continue
        for uri in re.findall(r"(?:URIs:\s*|^deb\s+(?:\[[^]]*\]\s+)?)(\S+/debian)/?\s", text + "\n", re.MULTILINE):
            return str(uri).rstrip("/")
    return DEFAULT_MIRROR


def mirror() -> str:
    configured = recipe()["mirror"]
    return debian.mirror_url(host_mirror() if configured == "auto" else configured)


def lock_path(target: Target) -> Path:
    return shipped("sysroots") / f"{target.triple}.lock.json"


def lock(target: Target, out: Path | None = None) -> Path:
    """Resolve the recipe for `target` against today's index and write its lock."""
    _check_target(target)
    r = recipe()
    result = debian.lock_packages(mirror(), r["suite"], target.debian or "", [*r["base"], *r["extras"]], r["exclude"])
    path = out or lock_path(target)
    xcache.write_atomic(path, json.dumps({"target": target.triple, **result.to_json()}, indent=1, sort_keys=True) + "\n")
    log.info("locked %d packages for %s (InRelease %s)", len(result.packages), target.triple, result.signature)
    return path


def read_lock(target: Target, path: Path | None = None) -> debian.Lock:
    path = path or lock_path(target)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"no lock at {path}: run `xbuild sysroot lock --target {target.triple}` first") from None
    except ValueError as e:
        raise UsageError(f"{path} is not a valid lock file ({e})") from None
    if data.pop("target", target.triple) != target.triple:
        raise UsageError(f"{path} is a lock for another target")
    return debian.Lock.from_json(data)


def _check_chain(lock: debian.Lock, offline: bool) -> None:
    """Each lock entry must match Debian's Packages index that the lock pins (fetched by hash)."""
    index_url = f"{debian.mirror_url(lock.mirror)}/dists/{lock.suite}/{lock.index.rsplit('/', 1)[0]}/by-hash/SHA256/{lock.index_sha256}"
    pin = download.PinnedFile(index_url, lock.index_sha256, f"Debian {lock.suite} {lock.architecture} Packages")
    try:
        index = debian.parse_index(download.fetch(pin, offline=offline))
    except (SourceUnavailableError, OfflineError) as e:
        log.info("cannot re-check the lock against its Packages index (%s); the lock's own hashes still apply", e)
        return
    for deb in lock.packages:
        para = index.get(deb.package)
        if para is None or para["Version"] != deb.version:
            raise IntegrityError(f"lock entry {deb.package} {deb.version} is not in the Packages index the lock pins")
        if para["SHA256"] != deb.sha256:
            raise IntegrityError(
                f"lock entry {deb.package} {deb.version}: sha256 {deb.sha256} in the lock, {para['SHA256']} in Debian's index; the lock was edited"
            )


_GLIBC_ITSELF = re.compile(r"^(ld-linux.*|ld64|libc|libm|libmvec|libpthread|libdl|librt|libutil|libresolv|libanl|libnsl|libnss_\w+|libBrokenLocale|libthread_db|libc_malloc_debug|libmemusage|libpcprofile)[.-]")


def _is_glibc_itself(path: Path) -> bool:
    """glibc's own files, whose versions are the floor rather than needing one."""
    return bool(_GLIBC_ITSELF.match(path.name)) or any(part in ("gconv", "audit") for part in path.parts)


@dataclass(frozen=True)
class Sysroot:
    target: Target
    root: Path
    lock_sha256: str

    @property
    def triplet(self) -> str:
        """Debian's multiarch folder name (aarch64-linux-gnu, arm-linux-gnueabihf, ...)."""
        for folder in sorted((self.root / "usr" / "include").iterdir()):
            if (folder / "bits").is_dir() or (folder / "openssl").is_dir():
                return folder.name
        raise UsageError(f"{self.root} has no multiarch include folder; rebuild the sysroot")

    @property
    def glibc_floor(self) -> str | None:
        """The highest GLIBC_ version the sysroot's libraries need (recorded at build time)."""
        stamp = self.root / FLOOR_STAMP
        return stamp.read_text().strip() or None if stamp.is_file() else None

    def compiler_flags(self) -> list[str]:
        """zig cc flags that add the sysroot after zig's own libc headers and libraries.

        The program itself keeps the target's glibc floor (zig's libc stubs), so symbol
        versions that only the sysroot's libraries need are left for the loader: lld is
        told to allow them. A program using those libraries has their floor, and
        `xbuild audit` of it together with them reports that floor.
        """
        triplet = self.triplet
        return [
            "-idirafter", str(self.root / "usr" / "include" / triplet),
            "-idirafter", str(self.root / "usr" / "include"),
            "-L", str(self.root / "usr" / "lib" / triplet),
            "-L", str(self.root / "lib" / triplet),
            "-Wl,--allow-shlib-undefined",
        ]  # fmt: skip


def _published(target: Target, digest: str) -> Path:
    return xcache.root() / "sysroots" / target.triple / digest[:16]


def lock_digest(lock: debian.Lock) -> str:
    return xcache.sha256_bytes(json.dumps(lock.to_json(), sort_keys=True).encode())


def build(target: Target, lock_file: Path | None = None, *, out: Path | None = None, offline: bool = False) -> Sysroot:
    """The sysroot a lock describes: from the cache, or fetched, verified and unpacked now."""
    _check_target(target)
    pinned = read_lock(target, lock_file)
    digest = lock_digest(pinned)
    final = out or _published(target, digest)
    if out is None and final.is_dir():
        return Sysroot(target, final, digest)
    with xcache.locked(f"sysroot-{target.triple}-{digest[:16]}"):
        if out is None and final.is_dir():
            return Sysroot(target, final, digest)
        _check_chain(pinned, offline)
        work = Path(tempfile.mkdtemp(prefix=f"sysroot-{target.triple}.", dir=xcache.scratch_dir()))
        try:
            debian.unpack_lock(pinned, work, offline=offline, reverify=True)
            for rel in recipe()["drop"]:
                shutil.rmtree(work / rel, ignore_errors=True)
            floor, _ = glibc_floor([p for p in elf_files(work) if not _is_glibc_itself(p)])
            (work / FLOOR_STAMP).write_text((floor or "") + "\n")
            write_manifest(work, work / MANIFEST)
            if out is not None:
                shutil.rmtree(out, ignore_errors=True)
            xcache.publish_dir(work, final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    log.info("sysroot for %s at %s", target.triple, final)
    return Sysroot(target, final, digest)


def find(target: Target) -> Sysroot | None:
    """The published sysroot for the target's current lock, if built."""
    try:
        pinned = read_lock(target)
    except UsageError:
        return None
    digest = lock_digest(pinned)
    path = _published(target, digest)
    return Sysroot(target, path, digest) if path.is_dir() else None


def manifest(root: Path) -> Iterator[tuple[str, str, str]]:
    """(path, mode, sha256 or link target) for every entry, in order: what "identical" means."""
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files + [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]):
            path = Path(dirpath, name)
            st = path.lstat()
            rel = path.relative_to(root).as_posix()
            content = "-> " + os.readlink(path) if path.is_symlink() else xcache.sha256_file(path)
            yield rel, oct(st.st_mode & 0o7777), content


def _manifest_text(root: Path) -> str:
    return "".join(f"{mode} {content} {rel}\n" for rel, mode, content in manifest(root) if rel != MANIFEST)


def write_manifest(root: Path, dest: Path) -> Path:
    """Record every entry as built, for `verify`."""
    return xcache.write_atomic(dest, _manifest_text(root))


def changed(sysroot: Sysroot) -> bool | None:
    """Whether the sysroot differs from its build-time manifest (None: no manifest)."""
    recorded = sysroot.root / MANIFEST
    if not recorded.is_file():
        return None
    return _manifest_text(sysroot.root) != recorded.read_text()


def archive(sysroot: Sysroot, dest: Path) -> tuple[Path, str]:
    """A .tar.zst of the sysroot (reproducible, like release archives; modes kept) and its sha256."""

    def build(tmp: Path) -> None:
        with tmp.open("wb") as raw, zstandard.ZstdCompressor(level=10).stream_writer(raw) as zst:
            with tarfile.open(fileobj=zst, mode="w|", format=tarfile.GNU_FORMAT) as tar:
                for rel, _mode, _content in manifest(sysroot.root):
                    add_normalized(tar, sysroot.root / rel, rel, 0, keep_mode=True)

    atomically(dest, build)
    digest = xcache.sha256_file(dest)
    xcache.write_atomic(dest.with_name(dest.name + ".sha256"), f"{digest}  {dest.name}\n")
    return dest, digest
