"""Resolution with source builds: wheels where the index has them, wheels built from sdists otherwise.

pip resolves binary wheels for the target as before. When a requirement has no
wheel for the target ("No matching distribution"), or the user asked for it from
source (`build-from-source`, `--no-binary`, `:all:`), its sdist is built for the
target and handed back to pip as a wheel file the resolution must use; pip then
resolves that wheel's own dependencies. The loop ends when pip picks no index wheel
for a package that should come from source. Under a pinned floor (`glibc`, `macos`) a
missing wheel is an error naming the package, not a silent source build, unless the user
asked for that package from source.

The project's own extension modules take the same path: a project whose host wheel
is not pure Python is built from its tree for each target.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

from xbuild import cache as xcache
from xbuild import resolve
from xbuild.crossbuild import builder, sdist
from xbuild.errors import BuildError, ResolveError

log = logging.getLogger(__name__)
ALL = ":all:"
_MAX_ROUNDS = 50


def _wants(names: Sequence[str], name: str) -> bool:
    return ALL in names or str(canonicalize_name(name)) in {str(canonicalize_name(n)) for n in names}


def _missing(stderr: str) -> Requirement | None:
    found = re.search(r"No matching distribution found for (\S+)", stderr)
    if not found:
        return None
    try:
        return Requirement(found.group(1))
    except InvalidRequirement:
        return None


def resolve_with_sources(
    project_wheel: Path, req: builder.Request, work: Path, cap: resolve.Ceiling, from_source: Sequence[str]
) -> tuple[list[resolve.ResolvedWheel], dict[str, builder.BuiltWheel]]:
    """The app's wheels for the request's target and the ones built from sdists here (by canonical name)."""
    target, python = req.target, req.runtime.python
    built: dict[str, builder.BuiltWheel] = {}
    own = str(canonicalize_name(parse_wheel_filename(project_wheel.name)[0]))
    for _ in range(_MAX_ROUNDS):
        extra = [b.path for b in built.values()]
        report, stderr = resolve._pip_report(project_wheel, target, python, work, cap, extra=extra)
        if report is None:
            missing = _missing(stderr)
            if missing is None or str(canonicalize_name(missing.name)) in built:
                raise resolve._explain(stderr, project_wheel, target, python, work, cap)
            if cap.pinned and not _wants(from_source, missing.name):  # a pinned floor builds from source only when asked
                raise ResolveError(f"{resolve._explain(stderr, project_wheel, target, python, work, cap)}; or build it from its sdist: --no-binary {missing.name}")
            log.info("  %s has no wheel for %s: building it from its sdist", missing.name, target.triple)
            try:
                found = sdist.find(missing.name, str(missing.specifier), python)
            except ResolveError as e:
                raise ResolveError(f"{resolve._explain(stderr, project_wheel, target, python, work, cap)}; {e}") from None
            built[found.name] = builder.from_sdist(found, req)
            continue
        wheels = resolve.report_wheels(report)
        todo = [w for w in wheels if _wants(from_source, w.name) and str(canonicalize_name(w.name)) not in {*built, own}]
        if not todo:
            return wheels, built
        for w in todo:
            found = sdist.find(w.name, f"=={w.version}", python)
            built[found.name] = builder.from_sdist(found, req)
    raise BuildError(f"resolving with source builds for {target.triple} did not settle after {_MAX_ROUNDS} rounds")


def project_wheel_for(project_wheel: Path, project_root: Path, req: builder.Request, work: Path, epoch: int) -> tuple[Path, builder.BuiltWheel | None]:
    """The project's wheel for the target: the host-built one when pure, else built from its tree for the target."""
    tags = parse_wheel_filename(project_wheel.name)[3]
    if any(t.platform == "any" for t in tags):
        return project_wheel, None
    meta = resolve.wheel_metadata(project_wheel)
    source = project_wheel.parent / "src"  # the copy build_project_wheel made (without dist/, .venv, ...)
    clean = work / "project-src"
    shutil.copytree(source, clean, ignore=shutil.ignore_patterns("build", "*.egg-info"))  # the host build's leftovers
    digest = xcache.sha256_bytes("".join(f"{p.relative_to(clean)}:{xcache.sha256_file(p)}\n" for p in sorted(clean.rglob("*")) if p.is_file()).encode())
    built = builder.from_tree(meta.name, meta.version, clean, digest, req)
    local = work / built.path.name
    shutil.copy2(built.path, local)
    return local, built
