"""`xbuild lock`: resolve the project for every target and write one PEP 751 lock.

Each target is resolved exactly as a build resolves it (its wheel tags, marker values
and ceiling; xbuild/resolve.py), the project's own wheel left out. Packages are
grouped by name and version; a package only some targets need gets a marker naming
those targets (`sys_platform` and `platform_machine`). Every wheel is fetched once
through the verified downloader, which gives its size and warms the cache for the
builds that follow. Before the file is written, the lock is read back as any PEP 751
installer would and must give every target exactly the wheels the resolver chose.

An existing lock keeps its versions (they are passed to pip as constraints) unless
`--upgrade` names the packages to move, or moves them all.
"""

from __future__ import annotations

import logging
import tempfile
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.pylock import Pylock
from packaging.utils import canonicalize_name
from packaging.version import Version

from xbuild import download, preflight, resolve, runtimes
from xbuild.config import BuildOptions, Project
from xbuild.errors import LockError, ResolveError, XbuildError
from xbuild.lock import LOCK_FILE, backend, document
from xbuild.lock.document import Loaded, LockedWheel
from xbuild.lock.inputs import LockInputs
from xbuild.runtimes.store import published
from xbuild.targets import Target

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LockResult:
    """What `xbuild lock` wrote: the file, its hash, and one row per locked package."""

    path: Path
    sha256: str
    changed: bool
    rows: list[tuple[str, str, str, int]]  # name, version, targets ("all" or triples), wheels
    backend: list[str]


@dataclass
class _Group:
    targets: set[str] = field(default_factory=set)
    wheels: dict[str, LockedWheel] = field(default_factory=dict)


def target_marker(target: Target) -> str:
    """The PEP 508 marker that holds on `target` (and on no target of another OS or machine)."""
    env = target.marker_environment("3")
    return str(Marker(f'sys_platform == "{env["sys_platform"]}" and platform_machine == "{env["platform_machine"]}"'))


def resolution_python(target: Target, options: BuildOptions) -> str:
    """The full Python version a build would resolve with: the first cached runtime's, else the first pin's."""
    offers = runtimes.offers(target, options.python, options.runtime_sources)
    return next((o.python for o in offers if published(target, o.key)), offers[0].python)


def _previous(path: Path) -> Loaded | None:
    if not path.is_file():
        return None
    try:
        return document.read(path)
    except XbuildError as e:
        log.warning("ignoring the existing %s: %s", path.name, e)
        return None


def _constraints(old: Loaded | None, target: Target, python: str, upgrade: Sequence[str] | None, work: Path) -> Path | None:
    """A pip constraints file pinning what the old lock gives `target`, less the packages to upgrade."""
    if old is None or upgrade == []:
        return None
    moving = {canonicalize_name(name) for name in upgrade or ()}
    env = target.marker_environment(python)
    kept = sorted(
        f"{package.name}=={package.version}"
        for package in old.pylock.packages
        if package.version is not None and package.name not in moving and (package.marker is None or package.marker.evaluate(env))
    )
    if not kept:
        return None
    path = work / "locked-versions.txt"
    path.write_text("".join(f"{line}\n" for line in kept))
    return path


def _resolve_target(project_wheel: Path, target: Target, python: str, work: Path, options: BuildOptions, constraints: Path | None) -> list[resolve.ResolvedWheel]:
    cap = preflight.ceiling(options, target)
    try:
        return resolve.resolve(project_wheel, target, python, work, cap, constraints)
    except ResolveError:
        if constraints is None:
            raise
        log.info("  the locked versions no longer fit %s: resolving it afresh", target.triple)
        return resolve.resolve(project_wheel, target, python, work, cap)


def _sized(wheels: Sequence[resolve.ResolvedWheel]) -> dict[str, LockedWheel]:
    """Each wheel fetched once (verified, cached), with its size: sha256 -> LockedWheel."""
    out = {}
    for w in sorted(set(wheels), key=lambda w: w.file):
        path = download.fetch(download.PinnedFile(w.url, w.sha256, f"{w.name} {w.version} ({w.file})"))
        out[w.sha256] = LockedWheel(w.name, w.version, w.file, w.url, w.sha256, path.stat().st_size)
    return out


def compose(
    chosen: dict[str, list[resolve.ResolvedWheel]],
    targets: Sequence[Target],
    sized: dict[str, LockedWheel],
    inputs: LockInputs,
    resolved_with: dict[str, str],
    backend_wheels: Sequence[resolve.ResolvedWheel],
) -> dict[str, Any]:
    """The lock document: packages sorted by name and version, wheels by file name, keys in PEP 751's order."""
    markers = {t.triple: target_marker(t) for t in targets}
    every = set(markers.values())
    groups: dict[tuple[str, Version], _Group] = {}
    for triple, wheels in chosen.items():
        for w in wheels:
            group = groups.setdefault((canonicalize_name(w.name), Version(w.version)), _Group())
            group.targets.add(triple)
            group.wheels[w.file] = sized[w.sha256]
    packages = []
    claimed: dict[tuple[str, str], str] = {}  # (package, marker) -> version: one version per environment
    for (name, version), group in sorted(groups.items()):
        entry: dict[str, Any] = {"name": name, "version": str(version)}
        mine = {markers[t] for t in group.targets}
        for marker in mine:
            if (other := claimed.setdefault((name, marker), str(version))) != str(version):
                raise LockError(
                    f"{name} resolves to {other} and {version} on targets that PEP 751 markers cannot tell apart ({marker}): "
                    "lock those targets separately, or pin one version of it in [project] dependencies"
                )
        if mine != every:
            entry["marker"] = str(Marker(" or ".join(f"({m})" for m in sorted(mine)))) if len(mine) > 1 else next(iter(mine))
        entry["wheels"] = [w.entry() for w in sorted(group.wheels.values(), key=lambda w: w.file)]
        packages.append(entry)
    tool = inputs.table(resolved_with)
    tool["build-wheels"] = [
        {"name": w.name, "version": w.version, "file": w.file, "url": w.url, "size": sized[w.sha256].size, "sha256": w.sha256}
        for w in sorted(backend_wheels, key=lambda w: (canonicalize_name(w.name), w.file))
    ]
    doc: dict[str, Any] = {"lock-version": document.LOCK_VERSION, "environments": sorted(every)}
    if inputs.requires_python:
        doc["requires-python"] = inputs.requires_python
    doc |= {"created-by": document.CREATED_BY, "packages": packages, "tool": {"xbuild": tool}}
    return doc


def _check_selection(doc: dict[str, Any], chosen: dict[str, list[resolve.ResolvedWheel]], targets: Sequence[Target], resolved_with: dict[str, str], options: BuildOptions) -> None:
    """Read the lock back as an installer would: every target must get exactly the wheels resolved for it."""
    lock = Pylock.from_dict(tomllib.loads(document.render(doc)))
    for target in targets:
        newest = preflight.ceiling(options, target).version
        got = {w.file for w in document.select(lock, target, resolved_with[target.triple], newest, "the composed lock")}
        want = {w.file for w in chosen[target.triple]}
        if got != want:
            raise LockError(f"the lock would give {target.triple} {sorted(got)} instead of the resolved {sorted(want)}: please report this xbuild bug")


def create(project: Project, options: BuildOptions, upgrade: Sequence[str] | None = None) -> LockResult:
    """Resolve every target of `options`, write `<project>/pylock.toml`, and say what it holds.

    `upgrade`: None keeps an existing lock's versions, [] moves them all, names move those packages.
    """
    preflight.check_runtimes(project, options)
    path = project.root / LOCK_FILE
    old = _previous(path)
    with tempfile.TemporaryDirectory(prefix="xbuild-lock-") as tmp:
        work = Path(tmp)
        log.info("building the %s wheel to read its requirements", project.name)
        project_wheel = resolve.build_project_wheel(project.root, work / "project", skip=options.output_dir, native_ok=True)
        meta = resolve.wheel_metadata(project_wheel)
        own = canonicalize_name(meta.name)
        chosen: dict[str, list[resolve.ResolvedWheel]] = {}
        resolved_with: dict[str, str] = {}
        for target in options.targets:
            python = resolved_with[target.triple] = resolution_python(target, options)
            folder = work / target.triple
            folder.mkdir()
            wheels = _resolve_target(project_wheel, target, python, folder, options, _constraints(old, target, python, upgrade, folder))
            chosen[target.triple] = [w for w in wheels if canonicalize_name(w.name) != own]
        inputs = LockInputs.of(project.root, options, meta)
        log.info("resolving the build backend (%s)", ", ".join(inputs.build_requires))
        backend_wheels = backend.resolve(inputs.build_requires, work)
    sized = _sized([w for ws in chosen.values() for w in ws] + backend_wheels)
    doc = compose(chosen, options.targets, sized, inputs, resolved_with, backend_wheels)
    _check_selection(doc, chosen, options.targets, resolved_with, options)
    sha, changed = document.write(path, doc)
    rows = []
    for package in doc["packages"]:
        where = sorted(t for t, ws in chosen.items() if any(canonicalize_name(w.name) == package["name"] and w.version == package["version"] for w in ws))
        rows.append((package["name"], package["version"], "all" if len(where) == len(options.targets) else ", ".join(where), len(package["wheels"])))
    return LockResult(path, sha, changed, rows, [f"{w.name} {w.version}" for w in backend_wheels])
