"""One target's folder, staged: its runtime, its wheels, the app's files, bytecode, launchers, a record.

The wheels come from a current pylock.toml, else from the resolver; a dependency with no
wheel for the target (or one the user wants from source) is built from its sdist for the
target, and so is the project's own wheel when it carries extension modules. A
universal2 macOS target stages each thin part, then merges them so every Mach-O is fat.
Each step's wall time goes into `steps` (logged per target by build.py).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import SpecifierSet

from xbuild import __version__, assemble, bytecode, crossbuild, preflight, resolve, runtimes, targets, timing
from xbuild.config import BuildOptions, Project
from xbuild.crossbuild import plan as crossplan
from xbuild.errors import ConfigError, ResolveError
from xbuild.launcher import APP_DIR, RUNTIME_DIR, build_launcher
from xbuild.layout import RECORD
from xbuild.lock import plan as lockplan
from xbuild.macho import universal
from xbuild.runtimes.model import Runtime
from xbuild.runtimes.offer import Offer
from xbuild.targets import Target
from xbuild.toolchain import Zig, linked_before, mark_linked

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shared:
    """What every target of one build starts from."""

    project: Project
    options: BuildOptions
    zig: Zig
    project_wheel: Path  # built on the host; pure Python unless the project has extension modules
    epoch: int
    deps: lockplan.Plan


@dataclass(frozen=True)
class Staged:
    """A staged folder's runtime, wheels and launchers."""

    runtime: Runtime
    wheels: list[resolve.ResolvedWheel]
    launchers: list[Path]


def stage(shared: Shared, target: Target, work: Path, staging: Path, steps: timing.Steps) -> Staged:
    """Stage `target`'s folder in `staging`, using `work` for scratch files."""
    if not target.parts:
        return _thin(shared, target, work, staging, steps)
    parts = []
    for part in targets.parts(target):
        log.info("  %s part: %s", target.triple, part.triple)
        parts.append((part, work / part.triple / "staging", _thin(shared, part, work / part.triple, work / part.triple / "staging", steps)))
    fat_files = universal.merge_trees([(part, folder) for part, folder, _ in parts], staging, frozenset({RECORD}))
    records = {part.triple: json.loads((folder / RECORD).read_text()) for part, folder, _ in parts}
    (staging / RECORD).write_text(json.dumps(universal.merge_records(target.triple, records), indent=2, sort_keys=True) + "\n")
    log.info("  merged %d Mach-O files into fat files", fat_files)
    last = parts[-1][2]
    wheels = list({w.file: w for _, _, staged in parts for w in staged.wheels}.values())
    return Staged(last.runtime, wheels, [staging / p.name for p in last.launchers])


def _refuse_early(shared: Shared, target: Target, offer: Offer, work: Path) -> None:
    """Before a static interpreter is built (minutes), refuse an app whose wheels it could not load,
    when they are known without it: from the lock, or the resolver when every dependency has a wheel."""
    if not offer.static:
        return
    try:
        wheels = shared.deps.wheels(shared.project_wheel, target, offer.python, work, preflight.ceiling(shared.options, target))
        paths = shared.deps.fetch(wheels)
    except ResolveError:
        return  # a wheel must be built from source for the target: checked once the runtime exists
    # Anything else (a wheel failing its hash, the index out of reach) would stop the build
    # after the runtime too: it stops it now.
    preflight.check_static_offer(offer, wheels, paths)


def _thin(shared: Shared, target: Target, work: Path, staging: Path, steps: timing.Steps) -> Staged:
    project, options, zig = shared.project, shared.options, shared.zig
    work.mkdir(parents=True)
    with steps("runtime"):
        runtime = runtimes.fetch(
            target, options.python, sources=options.runtime_sources, offline=options.offline, before_install=lambda offer: _refuse_early(shared, target, offer, work)
        )
    log.info("  runtime: CPython %s from %s", runtime.python, runtime.source)
    if project.requires_python and not SpecifierSet(project.requires_python).contains(runtime.python, prereleases=True):
        raise ConfigError(f"{project.name} requires Python {project.requires_python}, but the runtime for {target.triple} is {runtime.python}: set [tool.xbuild] python")
    with steps("dependencies"):
        cross = crossbuild.request(options, target, runtime, zig)  # wheels without one for T are built from source
        project_wheel, own = crossplan.project_wheel_for(shared.project_wheel, project.root, cross, work, shared.epoch)
        cap = preflight.ceiling(options, target)
        built: dict[str, crossbuild.BuiltWheel] = {}
        if shared.deps.lock:
            wheels = shared.deps.wheels(project_wheel, target, runtime.python, work, cap)
        else:
            wheels, built = crossplan.resolve_with_sources(project_wheel, cross, work, cap, options.build_from_source)
        log.info("  dependencies: %s", ", ".join(f"{w.name} {w.version}" for w in wheels))
        wheel_paths = shared.deps.fetch(wheels)
    preflight.check_entry_modules(project, wheel_paths, wheels)
    preflight.check_static_runtime(runtime, wheels, wheel_paths)

    runtime_dir = staging / RUNTIME_DIR
    with steps("copy"):
        assemble.copy_runtime(runtime, runtime_dir, assemble.trim_patterns(target, options.exclude), options.include)
        if target.os == "windows":
            assemble.place_windows_dlls(runtime_dir, staging)
        assemble.install_wheels([(p, w.file) for p, w in zip(wheel_paths, wheels, strict=True)], staging / APP_DIR, work / "install")
    with steps("bytecode"):
        python = bytecode.host_python(runtime.minor, runtime, target, offline=options.offline)
        bytecode.compile_tree(python, staging / APP_DIR, strip=staging, optimize=options.optimize)
        bytecode.compile_stdlib(python, runtime, runtime_dir / runtime.stdlib, strip=staging, optimize=options.optimize)
    if not linked_before(zig, target) and target.libc in ("musl", "msvcrt"):
        log.info("  first link for %s: zig compiles its libc once (30-80 s); later builds reuse it", target.triple)
    with steps("launchers"):
        launchers = [build_launcher(zig, target, runtime, entry, staging / f"{entry.name}{target.exe_suffix}") for entry in project.entry_points]
    mark_linked(zig, target)
    record = {
        "xbuild": __version__,
        "project": {"name": project.name, "version": project.version},
        "target": target.triple,
        "runtime": {"python": runtime.python, "source": runtime.source, "origin": runtime.origin, "inputs": runtime.inputs, "libc_floor": runtime.libc_floor},
        "wheels": resolve.for_record(wheels, project_wheel),
        "lock": shared.deps.record(),  # the pylock.toml (and its sha256) the wheels came from; null: resolved from the index
        "built_from_source": crossbuild.record(built, own),
        "entry_points": {e.name: f"{e.module}:{e.attr}" for e in project.entry_points},
        "gui_entry_points": [e.name for e in project.entry_points if e.gui],
    }
    (staging / RECORD).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return Staged(runtime, wheels, launchers)
