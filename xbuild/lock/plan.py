"""Where a build's dependencies come from: a current pylock.toml, else the resolver (and it says so).

With a current lock a build resolves nothing: each target gets the wheels the lock
selects for it (PEP 751's selection, by marker and wheel tags), fetched through the
verified downloader with the lock's size and sha256, and the project's own wheel is
built with the locked build backend, without the index. A stale lock is named with
the reason and the build resolves from the index, unless `--locked` (then it fails)
or `--offline` (resolution needs the network, so it fails too).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from xbuild import cache, download, resolve
from xbuild.config import BuildOptions, Project
from xbuild.errors import LockError, OfflineError
from xbuild.lock import LOCK_FILE, backend, document, inputs
from xbuild.lock.document import Loaded, LockedWheel
from xbuild.resolve import Ceiling, ResolvedWheel, WheelMetadata
from xbuild.targets import Target

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    """The lock a build uses (None: resolve from the index) and the project's own wheel once built."""

    root: Path
    options: BuildOptions
    lock: Loaded | None
    own: ResolvedWheel | None = None

    def build_project_wheel(self, out_dir: Path, skip: Path, epoch: int) -> Path:
        """The project's wheel: with the locked build backend (no index), else pip's build isolation."""
        folder = backend.folder(self._build_wheels(), offline=self.options.offline) if self.lock else None
        return resolve.build_project_wheel(self.root, out_dir, skip=skip, epoch=epoch, backend=folder, native_ok=True)

    def checked(self, project_wheel: Path, meta: WheelMetadata) -> Plan:
        """This plan once the project's wheel is known: a lock whose requirements changed is stale."""
        own = ResolvedWheel(meta.name, meta.version, project_wheel.name, cache.sha256_file(project_wheel), project_wheel.as_uri())
        if self.lock is None:
            return replace(self, own=own)
        recorded = inputs.LockInputs.from_table(self.lock.tool)
        reason = inputs.after_wheel(recorded, meta) if recorded else "it has no [tool.xbuild] table"
        if reason:
            return replace(_stale(self.root, self.options, reason), own=own)
        log.info("dependencies: from %s (sha256 %s), nothing to resolve", LOCK_FILE, self.lock.sha256[:16])
        return replace(self, own=own)

    def wheels(self, project_wheel: Path, target: Target, python: str, work: Path, cap: Ceiling) -> list[ResolvedWheel]:
        """The app's wheels for `target`, the project's own first: the lock's selection, else the resolver's."""
        if self.lock is None:
            return resolve.resolve(project_wheel, target, python, work, cap)
        assert self.own is not None, "checked() runs once the project's wheel is built"
        own = self.own
        if project_wheel.name != own.file:  # the project's extension modules, built for the target
            own = ResolvedWheel(own.name, own.version, project_wheel.name, cache.sha256_file(project_wheel), project_wheel.as_uri())
        locked = document.select(self.lock.pylock, target, python, cap.version, LOCK_FILE)
        return [own, *(w.resolved() for w in locked)]

    def fetch(self, wheels: list[ResolvedWheel]) -> list[Path]:
        """Verified local copies; locked wheels are checked against the lock's size and sha256."""
        pins = {w.sha256: w.pin for w in self._locked_wheels()}
        offline = self.options.offline
        return [
            download.fetch(pins.get(w.sha256) or download.PinnedFile(w.url, w.sha256, f"{w.name} {w.version} ({w.file})"), offline=offline)
            for w in wheels
        ]

    def record(self) -> dict[str, str] | None:
        """What xbuild-build.json says about the lock (None: resolved from the index)."""
        return {"file": LOCK_FILE, "sha256": self.lock.sha256} if self.lock else None

    def _locked_wheels(self) -> list[LockedWheel]:
        if self.lock is None:
            return []
        return [document.wheel_from_entry(p, w) for p in self.lock.pylock.packages for w in p.wheels or ()]

    def _build_wheels(self) -> list[LockedWheel]:
        assert self.lock is not None
        try:
            return [
                LockedWheel(str(w["name"]), str(w["version"]), str(w["file"]), str(w["url"]), str(w["sha256"]), int(w["size"]))
                for w in self.lock.tool["build-wheels"]
            ]
        except (KeyError, TypeError, ValueError):
            raise LockError(f"{LOCK_FILE}: [tool.xbuild] build-wheels is damaged: run `xbuild lock` again") from None


def _stale(root: Path, options: BuildOptions, reason: str) -> Plan:
    if options.locked:
        raise LockError(f"--locked: {LOCK_FILE} is stale: {reason}; run `xbuild lock` to update it")
    if options.offline:
        raise OfflineError(f"offline: {LOCK_FILE} is stale ({reason}) and resolving needs the package index; run `xbuild lock` once online")
    log.warning("%s is stale: %s; resolving from the package index for this build (run `xbuild lock` to update it)", LOCK_FILE, reason)
    return Plan(root, options, None)


def load(project: Project, options: BuildOptions) -> Plan:
    """The plan for a build of `project`: its lock if present and current so far, else the resolver."""
    path = project.root / LOCK_FILE
    if not path.is_file():
        if options.locked:
            raise LockError(f"--locked: there is no {LOCK_FILE} in {project.root}: run `xbuild lock` first")
        if options.offline:
            raise OfflineError(f"offline: there is no {LOCK_FILE} in {project.root} and resolving needs the package index; run `xbuild lock` once online")
        return Plan(project.root, options, None)
    loaded = document.read(path)
    reason = inputs.before_build(inputs.LockInputs.from_table(loaded.tool), project.root, options)
    if reason:
        return _stale(project.root, options, reason)
    return Plan(project.root, options, loaded)
