"""`xbuild build`: from pyproject.toml to a runnable folder and archive per target.

Per target: fetch the pinned runtime, resolve and fetch the dependencies' wheels,
assemble the folder in a staging directory (trimmed runtime, installed wheels,
bytecode, launchers, a record of every input), then move it into place and write
the reproducible archive. A failure removes the staging directory: `dist/` never
holds a half-built artifact.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import SpecifierSet

from xbuild import __version__, assemble, bytecode, preflight, release_archive, resolve, runtimes
from xbuild.audit import report
from xbuild.audit.check import AuditResult, Context, audit
from xbuild.audit.claims import raise_to_claims
from xbuild.audit.inputs import artifact_context
from xbuild.config import BuildOptions, Project
from xbuild.errors import AuditFailedError, BuildError, ConfigError
from xbuild.fserrors import disk_errors_as_build_errors
from xbuild.launcher import APP_DIR, RUNTIME_DIR, build_launcher
from xbuild.leftovers import claim, work_prefix
from xbuild.runtimes.model import Runtime
from xbuild.targets import Target
from xbuild.toolchain import Zig, find_zig, linked_before, mark_linked

log = logging.getLogger(__name__)
RECORD = "xbuild-build.json"
AUDIT_JSON = "xbuild-audit.json"
AUDIT_MD = "xbuild-audit.md"
SBOM = "xbuild-sbom.cdx.json"


@dataclass(frozen=True)
class Artifact:
    """One built target: its folder, archive, launchers and inputs."""

    target: Target
    folder: Path
    archive: Path
    launchers: tuple[Path, ...]
    runtime: Runtime
    wheels: tuple[resolve.ResolvedWheel, ...]
    audit: AuditResult
    onefile: Path | None = None  # dist/<name>-<version>-<triple>-onefile/, with --onefile


def artifact_name(project: Project, target: Target) -> str:
    """`<name>-<version>-<triple>`; a dynamic version is known once the project's wheel is built."""
    assert project.version is not None, "the project's version is known after its wheel is built"
    return f"{project.dist_name}-{project.version}-{target.triple}"


def build(project: Project, options: BuildOptions) -> list[Artifact]:
    """Build every target in `options`; the first failure stops the build."""
    zig = find_zig()
    preflight.check_runtimes(project, options)
    created_output = not options.output_dir.exists()
    epoch = release_archive.source_date_epoch(project.root)
    try:
        options.output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BuildError(f"cannot create the output folder {options.output_dir} ({e.strerror}): choose a writable one with --output-dir") from None
    try:
        with disk_errors_as_build_errors(options.output_dir), claim(options.output_dir), tempfile.TemporaryDirectory(
            prefix=work_prefix(), dir=options.output_dir
        ) as tmp:
            work = Path(tmp)
            log.info("building the %s %s wheel", project.name, project.version or "(dynamic version)")
            project_wheel = resolve.build_project_wheel(project.root, work / "project", skip=options.output_dir, epoch=epoch)
            meta = resolve.wheel_metadata(project_wheel)
            if project.version is None:
                log.info("  %s version %s, from the built wheel", meta.name, meta.version)
            project = project.built_as(meta.name, meta.version, meta.requires_python)
            artifacts = []
            for n, target in enumerate(options.targets, 1):
                log.info("[%d/%d] %s", n, len(options.targets), target.triple)
                artifacts.append(_build_target(project, options, target, zig, project_wheel, work / target.triple, epoch))
            return artifacts
    except BaseException:
        if created_output and options.output_dir.is_dir() and not any(options.output_dir.iterdir()):
            options.output_dir.rmdir()
        raise


def _build_target(project: Project, options: BuildOptions, target: Target, zig: Zig, project_wheel: Path, work: Path, epoch: int) -> Artifact:
    work.mkdir(parents=True)
    runtime = runtimes.fetch(target, options.python, sources=options.runtime_sources, offline=options.offline)
    log.info("  runtime: CPython %s from %s", runtime.python, runtime.source)
    if project.requires_python and not SpecifierSet(project.requires_python).contains(runtime.python, prereleases=True):
        raise ConfigError(f"{project.name} requires Python {project.requires_python}, but the runtime for {target.triple} is {runtime.python}: set [tool.xbuild] python")
    wheels = resolve.resolve(project_wheel, target, runtime.python, work, preflight.ceiling(options, target))
    log.info("  dependencies: %s", ", ".join(f"{w.name} {w.version}" for w in wheels))
    wheel_paths = resolve.fetch_wheels(wheels)
    preflight.check_entry_modules(project, wheel_paths, wheels)

    final = options.output_dir / artifact_name(project, target)
    staging = options.output_dir / f".{final.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        launchers = _assemble(project, options, target, zig, runtime, wheels, wheel_paths, project_wheel, staging, work)
        result = _audit(options, target, runtime, wheels, staging, final.name, epoch)
        _replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        archive = release_archive.write_archive(final, target.os, epoch)
    except BaseException:
        shutil.rmtree(final, ignore_errors=True)  # no folder without its archive
        raise
    log.info("  wrote %s and %s", final, archive.name)
    single = _onefile(options, target, zig, runtime, project, final, epoch) if options.onefile else None
    return Artifact(target, final, archive, tuple(final / p.name for p in launchers), runtime, tuple(wheels), result, single)


def _onefile(options: BuildOptions, target: Target, zig: Zig, runtime: Runtime, project: Project, folder: Path, epoch: int) -> Path | None:
    """One executable per entry point from the finished folder; audited (its native files), SBOM, archive."""
    from xbuild.audit.inputs import audit_path
    from xbuild.onefile.launcher import supported
    from xbuild.onefile.make import SUFFIX, make

    if not supported(target):
        log.warning("one-file executables are not available for %s yet (Linux glibc targets only): wrote its folder only", target.triple)
        return None
    python = bytecode.host_python(runtime.minor, runtime, target)
    single = make(zig, target, runtime, list(project.entry_points), folder, folder.with_name(folder.name + SUFFIX), python, options.optimize).folder
    result = audit_path(single)
    report.write(result, single / AUDIT_JSON, single / AUDIT_MD, title=single.name)
    shutil.copyfile(folder / SBOM, single / SBOM)  # the same runtime and wheels
    for v in result.violations:
        log.warning("audit (one-file): %s", v.sentence())
    log.info("  wrote %s and %s", single, release_archive.write_archive(single, target.os, epoch).name)
    return single


def _context(options: BuildOptions, target: Target, runtime: Runtime, wheels: list[resolve.ResolvedWheel]) -> Context:
    """What the artifact is audited against: a pinned floor, else what its runtime and wheels claim to need."""
    context = artifact_context(target, runtime.libc_floor, options.glibc, options.macos, runtime.python)
    pinned = options.glibc if target.libc == "glibc" else options.macos if target.os == "macos" else None
    return context if pinned else raise_to_claims(context, [w.file for w in wheels])


def _audit(options: BuildOptions, target: Target, runtime: Runtime, wheels: list[resolve.ResolvedWheel], staging: Path, name: str, epoch: int) -> AuditResult:
    """Audit the staged artifact and write its reports and SBOM into it; strict mode fails on violations."""
    result = audit(staging, _context(options, target, runtime, wheels))
    report.write(result, staging / AUDIT_JSON, staging / AUDIT_MD, title=name)
    # Imported here: cyclonedx's JSON validation costs seconds to import, which every other command would pay.
    from xbuild.audit.sbom import build_sbom

    (staging / SBOM).write_text(build_sbom(staging, json.loads((staging / RECORD).read_text()), epoch))
    _, policy, floor, count, verdict = report.summary_row(result)
    key = {"linux": "glibc", "macos": "macos", "windows": "windows"}[target.os]
    setter = result.floor_file(key)
    log.info("  audit: %s, effective floor %s%s: %s", policy, floor, f" (set by {setter})" if setter else "", verdict)
    if result.violations and options.audit == "strict":
        kept = options.output_dir / f"{name}.audit-failed.md"
        shutil.copyfile(staging / AUDIT_MD, kept)
        raise AuditFailedError(
            f"audit of {target.triple} failed with {count} violation(s), first: {result.violations[0].sentence()}; "
            f"report: {kept}; build with --audit warn to keep the artifact anyway"
        )
    for v in result.violations:
        log.warning("audit: %s", v.sentence())
    return result


def _assemble(
    project: Project,
    options: BuildOptions,
    target: Target,
    zig: Zig,
    runtime: Runtime,
    wheels: list[resolve.ResolvedWheel],
    wheel_paths: list[Path],
    project_wheel: Path,
    staging: Path,
    work: Path,
) -> list[Path]:
    runtime_dir = staging / RUNTIME_DIR
    assemble.copy_runtime(runtime, runtime_dir, assemble.trim_patterns(target, options.exclude), options.include)
    if target.os == "windows":
        assemble.place_windows_dlls(runtime_dir, staging)
    assemble.install_wheels([(p, w.file) for p, w in zip(wheel_paths, wheels, strict=True)], staging / APP_DIR, work / "install")

    python = bytecode.host_python(runtime.minor, runtime, target)
    for folder in (staging / APP_DIR, runtime_dir / runtime.stdlib):
        bytecode.compile_tree(python, folder, strip=staging, optimize=options.optimize)

    if not linked_before(zig, target) and target.libc in ("musl", "msvcrt"):
        log.info("  first link for %s: zig compiles its libc once (30-80 s); later builds reuse it", target.triple)
    launchers = [
        build_launcher(zig, target, runtime, entry, staging / f"{entry.name}{target.exe_suffix}")
        for entry in project.entry_points
    ]
    mark_linked(zig, target)
    record = {
        "xbuild": __version__,
        "project": {"name": project.name, "version": project.version},
        "target": target.triple,
        "runtime": {"python": runtime.python, "source": runtime.source, "origin": runtime.origin, "inputs": runtime.inputs, "libc_floor": runtime.libc_floor},
        "wheels": resolve.for_record(wheels, project_wheel),
        "entry_points": {e.name: f"{e.module}:{e.attr}" for e in project.entry_points},
        "gui_entry_points": [e.name for e in project.entry_points if e.gui],
    }
    (staging / RECORD).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return launchers


def _replace(staging: Path, final: Path) -> None:
    """Put the new folder in place of any old one, never leaving neither."""
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.rename(final, old)
        os.rename(staging, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(staging, final)
