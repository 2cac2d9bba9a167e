"""Dependencies for a target: resolved for its wheel tags and markers, fetched verified.

pip resolves (`pip install --dry-run --report`) with the target's platform tags,
Python version and ABI, binary wheels only, so no code from any package runs on the
host. pip evaluates environment markers (`sys_platform == "win32"`) for the machine
it runs on, so it runs here with the *target's* marker values instead (see
`_PIP_MAIN`); otherwise a Windows build would miss Windows-only dependencies.
The report names each chosen wheel's URL and sha256; the wheels themselves come
through xbuild's verified downloader and cache.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from packaging.utils import parse_wheel_filename

from xbuild import cache, download
from xbuild.errors import BuildError, ResolveError
from xbuild.targets import Target

log = logging.getLogger(__name__)

# pip, with PEP 508 markers evaluated for the target instead of this host.
_PIP_MAIN = """\
import json, sys
import pip._vendor.packaging.markers as markers
target_env = json.loads(sys.argv.pop(1))
markers.default_environment = lambda: dict(target_env)
from pip._internal.cli.main import main
sys.exit(main())
"""


@dataclass(frozen=True)
class ResolvedWheel:
    """One wheel of the app's dependency set, as recorded in the build output."""

    name: str
    version: str
    file: str
    sha256: str
    url: str


_NOT_SOURCE = (".git", ".hg", ".venv", "venv", ".tox", ".nox", "node_modules", "dist", "build", "*.egg-info", "__pycache__")


def build_project_wheel(project_dir: Path, out_dir: Path, skip: Path | None = None) -> Path:
    """The project's own wheel, built on the host from a copy (it must be pure Python).

    Build backends write `build/` and `*.egg-info` into the tree they build; a copy keeps
    the user's project as it was. `skip` is xbuild's output folder, if it is inside.
    """
    source = out_dir / "src"
    by_pattern = shutil.ignore_patterns(*_NOT_SOURCE)

    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = set(by_pattern(folder, names))
        return skipped | {n for n in names if skip is not None and Path(folder, n).resolve() == skip.resolve()}

    shutil.copytree(project_dir, source, ignore=ignore, symlinks=True)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--disable-pip-version-check", "-w", str(out_dir), str(source)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["pip wheel failed"])[-1]
        raise BuildError(f"could not build a wheel of the project in {project_dir}: {last}")
    (wheel,) = out_dir.glob("*.whl")
    tags = parse_wheel_filename(wheel.name)[3]
    if not any(t.platform == "any" for t in tags):
        raise BuildError(f"{wheel.name} is not pure Python: xbuild cross-builds pure-Python projects (dependencies may be compiled wheels)")
    return wheel


def _pip_report(project_wheel: Path, target: Target, python: str, work: Path) -> dict[str, Any]:
    minor = "".join(python.split(".")[:2])
    report = work / f"pip-report-{target.triple}.json"
    argv = [
        sys.executable, "-c", _PIP_MAIN, json.dumps(target.marker_environment(python)),
        "install", "--dry-run", "--ignore-installed", "--quiet", "--disable-pip-version-check",
        "--report", str(report), "--target", str(work / "pip-target"),
        "--only-binary=:all:", "--python-version", python, "--implementation", "cp",
        "--abi", f"cp{minor}", "--abi", "abi3", "--abi", "none",
        *[arg for platform in target.wheel_platforms() for arg in ("--platform", platform)],
        str(project_wheel),
    ]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise _explain(proc.stderr, target, python)
    report_data: dict[str, Any] = json.loads(report.read_text())
    return report_data


def _explain(stderr: str, target: Target, python: str) -> ResolveError:
    missing = re.search(r"No matching distribution found for (\S+)", stderr)
    if missing:
        tags = [str(t) for t in target.wheel_tags(python)]
        shown = ", ".join(tags[:3])
        return ResolveError(
            f"no wheel of {missing.group(1)} for {target.triple} (Python {python}): tags tried {shown}, "
            f"and {len(tags) - 3} more; pick a version that publishes wheels for this target, or drop the target"
        )
    lines = [line for line in stderr.strip().splitlines() if line.startswith("ERROR")] or stderr.strip().splitlines()
    return ResolveError(f"resolving dependencies for {target.triple} failed: {lines[0] if lines else 'pip gave no reason'}")



def resolve(project_wheel: Path, target: Target, python: str, work: Path) -> list[ResolvedWheel]:
    """Every wheel the app needs on `target` (the project's own first), not yet downloaded."""
    log.info("resolving dependencies for %s (Python %s)", target.triple, python)
    report = _pip_report(project_wheel, target, python, work)
    wheels = []
    for item in report["install"]:
        info = item["download_info"]
        url = info["url"]
        file = unquote(url.rsplit("/", 1)[-1])
        digest = (info.get("archive_info", {}).get("hashes") or {}).get("sha256")
        if digest is None and url.startswith("file:"):
            digest = cache.sha256_file(Path(unquote(urlparse(url).path)))
        if digest is None:
            raise ResolveError(f"the package index gave no sha256 for {file}; xbuild only installs verified wheels")
        wheels.append(ResolvedWheel(item["metadata"]["name"], item["metadata"]["version"], file, digest, url))
    return wheels


def for_record(wheels: list[ResolvedWheel], project_wheel: Path) -> list[dict[str, str]]:
    """The resolved set as the build output records it (the project's own wheel has no URL)."""
    own = project_wheel.as_uri()
    return [{**asdict(w), "url": "" if w.url == own else w.url} for w in wheels]


def fetch_wheels(wheels: list[ResolvedWheel]) -> list[Path]:
    """Verified local copies of the wheels, from xbuild's cache when it has them."""
    return [download.fetch(download.PinnedFile(w.url, w.sha256, f"{w.name} {w.version} ({w.file})")) for w in wheels]

