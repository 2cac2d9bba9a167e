"""The one-file folder beside a finished folder artifact: executables, their audit, SBOM and archive."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

from xbuild import bytecode, release_archive
from xbuild.audit import report
from xbuild.audit.inputs import audit_path
from xbuild.launcher import EntryPoint
from xbuild.layout import AUDIT_JSON, AUDIT_MD, SBOM
from xbuild.onefile.launcher import supported
from xbuild.onefile.make import SUFFIX, make
from xbuild.runtimes.model import Runtime
from xbuild.targets import Target
from xbuild.toolchain import Zig

log = logging.getLogger(__name__)


def write_onefile(zig: Zig, target: Target, runtime: Runtime, entry_points: Sequence[EntryPoint], folder: Path, optimize: int, epoch: int) -> Path | None:
    """One executable per entry point made from `folder`; audited (its native files too), with SBOM and archive."""
    if not supported(target):
        log.warning("one-file executables are not available for %s yet (Linux and x86_64 Windows only): wrote its folder only", target.triple)
        return None
    python = bytecode.host_python(runtime.minor, runtime, target)
    single = make(zig, target, runtime, list(entry_points), folder, folder.with_name(folder.name + SUFFIX), python, optimize).folder
    result = audit_path(single)
    report.write(result, single / AUDIT_JSON, single / AUDIT_MD, title=single.name)
    shutil.copyfile(folder / SBOM, single / SBOM)  # the same runtime and wheels
    for v in result.violations:
        log.warning("audit (one-file): %s", v.sentence())
    log.info("  wrote %s and %s", single, release_archive.write_archive(single, target.os, epoch).name)
    return single
