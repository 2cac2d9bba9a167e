"""`xbuild build`: from pyproject.toml to a runnable folder and archive per target.

The flow: build the project's wheel once on the host (with the locked build backend when
pylock.toml is current), then per target, side by side on the machine's cores: stage the
folder (xbuild/stage.py: runtime, wheels, bytecode, launchers, record), audit it, move it
into place, write the reproducible archive and, with --onefile, the one-file executables.
A failure removes the staging directory: `dist/` never holds a half-built artifact.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from xbuild import preflight, release_archive, resolve, timing, workers
from xbuild.audit import report
from xbuild.audit.check import AuditResult, Context, audit
from xbuild.audit.claims import raise_to_claims
from xbuild.audit.inputs import artifact_context
from xbuild.config import BuildOptions, Project
from xbuild.errors import AuditFailedError, BuildError
from xbuild.fserrors import disk_errors_as_build_errors
from xbuild.layout import AUDIT_JSON, AUDIT_MD, RECORD, SBOM
from xbuild.leftovers import claim, work_prefix
from xbuild.lock import plan
from xbuild.onefile.artifact import write_onefile
from xbuild.runtimes.model import Runtime
from xbuild.stage import Shared, stage
from xbuild.targets import Target
from xbuild.toolchain import find_zig

log = logging.getLogger(__name__)
__all__ = ["AUDIT_JSON", "AUDIT_MD", "RECORD", "SBOM", "Artifact", "artifact_name", "build"]


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
            deps = plan.load(project, options)  # pylock.toml when current, else the resolver
            log.info("building the %s %s wheel", project.name, project.version or "(dynamic version)")
            project_wheel = deps.build_project_wheel(work / "project", skip=options.output_dir, epoch=epoch)
            meta = resolve.wheel_metadata(project_wheel)
            deps = deps.checked(project_wheel, meta)
            if project.version is None:
                log.info("  %s version %s, from the built wheel", meta.name, meta.version)
            shared = Shared(project.built_as(meta.name, meta.version, meta.requires_python), options, zig, project_wheel, epoch, deps)
            return workers.each_target(options.targets, lambda target: _build_target(shared, target, work / target.triple), options.jobs)
    except BaseException:
        if created_output and options.output_dir.is_dir() and not any(options.output_dir.iterdir()):
            options.output_dir.rmdir()
        raise


def _build_target(shared: Shared, target: Target, work: Path) -> Artifact:
    options, steps = shared.options, timing.Steps()
    final = options.output_dir / artifact_name(shared.project, target)
    staging = options.output_dir / f".{final.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staged = stage(shared, target, work, staging, steps)
        with steps("audit"):
            result = _audit(options, target, staged.runtime, staged.wheels, staging, final.name, shared.epoch)
        _replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        with steps("archive"):
            archive = release_archive.write_archive(final, target.os, shared.epoch)
    except BaseException:
        shutil.rmtree(final, ignore_errors=True)  # no folder without its archive
        raise
    log.info("  wrote %s and %s", final, archive.name)
    single = None
    if options.onefile:
        with steps("onefile"):
            single = write_onefile(shared.zig, target, staged.runtime, shared.project.entry_points, final, options.optimize, shared.epoch)
    log.info("  time: %s", steps.line())
    return Artifact(target, final, archive, tuple(final / p.name for p in staged.launchers), staged.runtime, tuple(staged.wheels), result, single)


def _context(options: BuildOptions, target: Target, runtime: Runtime, wheels: list[resolve.ResolvedWheel]) -> Context:
    """What the artifact is audited against: a pinned floor, else what its runtime and wheels claim to need."""
    context = artifact_context(target, runtime.libc_floor, options.glibc, options.macos, runtime.python)
    pinned = options.glibc if target.libc == "glibc" else options.macos if target.os == "macos" else None
    return context if pinned or target.parts else raise_to_claims(context, [w.file for w in wheels])


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


def _replace(staging: Path, final: Path) -> None:
    """Put the new folder in place of any old one, never leaving neither."""
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.rename(final, old)
        os.rename(staging, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(staging, final)
