"""pylock.toml on disk: written the same way every time, validated by `packaging.pylock` both ways.

The file holds what PEP 751 asks for (lock-version, created-by, packages with their
wheels' URL, size and sha256) and, in `[tool.xbuild]`, what xbuild needs to tell a
current lock from a stale one. No timestamps, no xbuild version: the same inputs
give the same bytes. What is written is parsed back and validated before it
replaces the old file, exactly as any other PEP 751 reader would read it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import tomli_w
from packaging.markers import Environment
from packaging.pylock import Pylock, PylockSelectError, PylockValidationError
from packaging.utils import canonicalize_name, parse_wheel_filename

from xbuild import cache
from xbuild.download import PinnedFile
from xbuild.errors import LockError
from xbuild.resolve import ResolvedWheel
from xbuild.targets import Target

LOCK_VERSION = "1.0"
CREATED_BY = "xbuild"
HEADER = "# Written by `xbuild lock` (PEP 751). Change pyproject.toml and run `xbuild lock` again instead of editing it.\n"


@dataclass(frozen=True)
class LockedWheel:
    """One wheel in the lock: enough to fetch and verify it."""

    name: str  # the distribution name, as the wheel's METADATA spells it
    version: str
    file: str
    url: str
    sha256: str
    size: int

    @property
    def pin(self) -> PinnedFile:
        return PinnedFile(self.url, self.sha256, f"{self.name} {self.version} ({self.file}, locked)", self.size)

    def resolved(self) -> ResolvedWheel:
        return ResolvedWheel(self.name, self.version, self.file, self.sha256, self.url)

    def entry(self) -> dict[str, Any]:
        """The wheel as PEP 751's [[packages.wheels]] holds it."""
        return {"name": self.file, "url": self.url, "size": self.size, "hashes": {"sha256": self.sha256}}


@dataclass(frozen=True)
class Loaded:
    """A lock as read: the validated document, its raw table (for [tool.xbuild]) and its sha256."""

    path: Path
    pylock: Pylock
    raw: dict[str, Any]
    sha256: str

    @property
    def tool(self) -> dict[str, Any]:
        table = self.raw.get("tool", {}).get("xbuild", {})
        return table if isinstance(table, dict) else {}


def wheel_from_entry(package: Any, wheel: Any) -> LockedWheel:
    """A LockedWheel from packaging.pylock's Package and PackageWheel (validated: sha256 and size are there)."""
    sha = (wheel.hashes or {}).get("sha256")
    if not sha or wheel.size is None or not wheel.url:
        raise LockError(f"the lock's wheel {wheel.filename} has no url, size or sha256: run `xbuild lock` again")
    return LockedWheel(str(package.name), str(package.version), wheel.filename, wheel.url, sha, wheel.size)


def render(document: dict[str, Any]) -> str:
    """The file's text: keys in the order given (the caller sorts), lists as given."""
    return HEADER + tomli_w.dumps(document)


def _validated(raw: dict[str, Any], where: str) -> Pylock:
    try:
        lock = Pylock.from_dict(raw)
    except PylockValidationError as e:
        raise LockError(f"{where} is not a valid PEP 751 lock ({e}): run `xbuild lock` to write it again") from None
    for package in lock.packages:
        for wheel in package.wheels or ():
            name = parse_wheel_filename(wheel.filename)[0]
            if canonicalize_name(name) != package.name:  # packaging checks this too; kept for older readers' sake
                raise LockError(f"{where}: wheel {wheel.filename} is listed under package {package.name}")
    return lock


def write(path: Path, document: dict[str, Any]) -> tuple[str, bool]:
    """Write `document` as `path` after validating the very text written; (sha256, whether the file changed)."""
    text = render(document)
    _validated(tomllib.loads(text), "the lock xbuild composed")
    data = text.encode()
    if path.is_file() and path.read_bytes() == data:
        return cache.sha256_bytes(data), False
    cache.write_atomic(path, data)
    return cache.sha256_bytes(data), True


def read(path: Path) -> Loaded:
    """The lock at `path`, validated; a damaged or foreign file is one LockError naming what to do."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise LockError(f"cannot read {path} ({e.strerror}): run `xbuild lock` to write it") from None
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise LockError(f"{path} is not valid TOML ({e}): run `xbuild lock` to write it again") from None
    return Loaded(path, _validated(raw, str(path)), raw, cache.sha256_bytes(data))


def select(lock: Pylock, target: Target, python: str, newest: str | None, where: str) -> list[LockedWheel]:
    """The wheels the lock gives `target` with CPython `python`, chosen as PEP 751 says (packaging's `select`):
    packages by their markers for the target's environment, of each the wheel whose tags the target
    prefers (`newest`: the highest glibc or macOS a wheel may need)."""
    try:
        environment = cast("Environment", target.marker_environment(python))
        picked = list(lock.select(environment=environment, tags=target.wheel_tags(python, newest)))
    except PylockSelectError as e:
        raise LockError(f"{where} has no wheels for {target.triple} with CPython {python} ({e}): run `xbuild lock` again") from None
    return sorted((wheel_from_entry(package, wheel) for package, wheel in picked), key=lambda w: w.file)
