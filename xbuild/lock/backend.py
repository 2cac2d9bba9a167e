"""The project's build backend, locked like its dependencies, so its wheel builds without the index.

pip's build isolation installs `[build-system] requires` from the index for every
build: a network round trip, and whatever version the index has that day. With a
lock, `xbuild lock` resolves those requirements once for this host (binary wheels
only) and records their wheels in the lock's `[tool.xbuild] build-wheels`; a build
fetches them through the verified downloader, installs them once into the cache
(`build-backends/<digest>/`, keyed by their hashes) and builds the project's wheel
with that folder on PYTHONPATH, without isolation and without the index.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.sources import WheelFile

from xbuild import cache, download
from xbuild.errors import ResolveError
from xbuild.lock.document import LockedWheel
from xbuild.resolve import ResolvedWheel, report_wheels

log = logging.getLogger(__name__)


def resolve(requires: Sequence[str], work: Path) -> list[ResolvedWheel]:
    """The wheels that satisfy `requires` on this host's Python (binary only: nothing is built to lock)."""
    report = work / "pip-report-build-backend.json"
    argv = [
        sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--disable-pip-version-check",
        "--only-binary=:all:", "--report", str(report), "--target", str(work / "backend-target"), *requires,
    ]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")] or proc.stderr.strip().splitlines() or ["pip failed"]
        raise ResolveError(f"cannot lock the build backend ([build-system] requires {', '.join(requires)}): {lines[0]}")
    return report_wheels(json.loads(report.read_text()))


def folder(wheels: Sequence[LockedWheel], *, offline: bool) -> Path:
    """The locked backend installed in the cache (once), for PYTHONPATH."""
    key = cache.sha256_bytes("\n".join(sorted(w.sha256 for w in wheels)).encode())[:24]
    final = cache.root() / "build-backends" / key
    if final.is_dir():
        return final
    paths = [download.fetch(w.pin, offline=offline) for w in wheels]
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=final.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the cache is shared
    scheme = {name: str(staging if name in ("purelib", "platlib") else staging / f".{name}") for name in ("purelib", "platlib", "scripts", "headers", "data")}
    destination = SchemeDictionaryDestination(scheme, interpreter=sys.executable, script_kind="posix", bytecode_optimization_levels=())
    named = staging / ".wheels"
    named.mkdir()
    for wheel, path in zip(wheels, paths, strict=True):
        link = named / wheel.file  # installer reads name and version from the file name; blobs are named by hash
        link.symlink_to(path)
        with WheelFile.open(link) as source:
            install(source=source, destination=destination, additional_metadata={})
    shutil.rmtree(named)
    log.info("installed the locked build backend (%s) into the cache", ", ".join(f"{w.name} {w.version}" for w in wheels))
    return cache.publish_dir(staging, final)
