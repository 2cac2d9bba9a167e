"""Dependencies for a target: resolved for its wheel tags and markers, fetched verified.

pip resolves (`pip install --dry-run --report`) with the target's platform tags,
Python version and ABI, binary wheels only, so no code from any package runs on the
host. pip evaluates environment markers (`sys_platform == "win32"`) for the machine
it runs on, so it runs here with the *target's* marker values instead (see
`_PIP_MAIN`); otherwise a Windows build would miss Windows-only dependencies.
The report names each chosen wheel's URL and sha256; the wheels themselves come
through xbuild's verified downloader and cache.

Floors: wheels may require glibc (or macOS) up to a ceiling, by default the newest
manylinux policy (see `data/resolution.toml`), and pip is given the platform tags
oldest first, so of each release it takes the wheel that asks least of the system;
the audit then reports the artifact's effective floor. Only a floor the user pins
caps resolution, and a package that needs more is named in one line.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from email.parser import HeaderParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

from xbuild import cache, download
from xbuild.audit.claims import claimed_floor
from xbuild.audit.policy import newest_manylinux
from xbuild.errors import BuildError, ResolveError
from xbuild.resources import load_toml, package_data
from xbuild.targets import Target, mac_tag_version
from xbuild.versions import release

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
class Ceiling:
    """The newest glibc or macOS version a dependency's wheel may require on one target."""

    version: str | None  # None: the target has no such scale (Windows, musl)
    kind: str = ""  # "glibc" or "macOS"
    pinned: str = ""  # which setting pinned the artifact's floor, for messages; "" when none did

    @property
    def shown(self) -> str:
        return f"{self.kind} <= {self.version}" if self.version else "any OS version"


def ceiling(target: Target, pinned: str | None, newest: str | None, pinned_by: str = "") -> Ceiling:
    """The cap for `target`: a pinned floor, else `newest`, else the default (the newest
    manylinux policy for glibc, data/resolution.toml for macOS)."""
    if target.libc == "glibc":
        kind, default = "glibc", newest_manylinux()
    elif target.os == "macos":
        kind, default = "macOS", load_toml(package_data("resolution.toml"))["newest"]["macos"]
    else:
        return Ceiling(None)
    if pinned:
        return Ceiling(pinned, kind, pinned_by or f"{kind} {pinned}")
    return Ceiling(newest or default, kind)


def default_ceiling(target: Target) -> Ceiling:
    return ceiling(target, None, None)


@dataclass(frozen=True)
class ResolvedWheel:
    """One wheel of the app's dependency set, as recorded in the build output."""

    name: str
    version: str
    file: str
    sha256: str
    url: str


_NOT_SOURCE = (".git", ".hg", ".venv", "venv", ".tox", ".nox", "node_modules", "dist", "build", "*.egg-info", "__pycache__")


@dataclass(frozen=True)
class WheelMetadata:
    """What the project's built wheel says about it (its version may be dynamic in pyproject.toml)."""

    name: str
    version: str
    requires_python: str | None
    requires_dist: tuple[str, ...] = ()


def build_project_wheel(
    project_dir: Path, out_dir: Path, skip: Path | None = None, epoch: int | None = None, backend: Path | None = None, *, native_ok: bool = False
) -> Path:
    """The project's own wheel, built on the host from a copy (it must be pure Python).

    Build backends write `build/` and `*.egg-info` into the tree they build; a copy keeps
    the user's project as it was. `skip` is xbuild's output folder, if it is inside.
    The copy sees the project's git repository (for setuptools-scm and hatch-vcs
    versions) without copying it, and `epoch` (SOURCE_DATE_EPOCH) makes the wheel's
    bytes reproducible. pip runs on the host interpreter, so the project's
    requires-python is checked against each target's runtime instead (see build.py).
    `backend` is a folder holding the build backend already installed (a locked one,
    see xbuild/lock/backend.py): pip then builds without isolation and without the
    index, so no network is needed.
    """
    source = out_dir / "src"
    by_pattern = shutil.ignore_patterns(*_NOT_SOURCE)

    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = set(by_pattern(folder, names))
        return skipped | {n for n in names if skip is not None and Path(folder, n).resolve() == skip.resolve()}

    shutil.copytree(project_dir, source, ignore=ignore, symlinks=True)
    env = dict(os.environ)
    if git_dir := _git_dir(project_dir):
        (source / ".git").write_text(f"gitdir: {git_dir}\n")
        env["GIT_OPTIONAL_LOCKS"] = "0"  # git status must not refresh the user's index
    if epoch is not None:
        env["SOURCE_DATE_EPOCH"] = str(epoch)
    argv = [
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--disable-pip-version-check",
        "--ignore-requires-python", "-w", str(out_dir), str(source),
    ]  # fmt: skip
    if backend is not None:
        argv[4:4] = ["--no-build-isolation", "--no-index"]
        env["PYTHONPATH"] = os.pathsep.join([str(backend), *filter(None, [env.get("PYTHONPATH")])])
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise BuildError(f"could not build a wheel of the project in {project_dir}: {_build_failure(proc.stderr)}")
    (wheel,) = out_dir.glob("*.whl")
    tags = parse_wheel_filename(wheel.name)[3]
    if not native_ok and not any(t.platform == "any" for t in tags):
        raise BuildError(f"{wheel.name} is not pure Python: xbuild cross-builds pure-Python projects (dependencies may be compiled wheels)")
    return wheel


def _build_failure(stderr: str) -> str:
    """The line of pip's output that says why the backend failed (an exception or error message)."""
    lines = [line.strip(" │╰─>\u00d7").strip() for line in stderr.splitlines()]
    lines = [line for line in lines if line and not line.startswith("WARNING:")]
    reasons = [line for line in lines if re.match(r"^(\w+(Error|Exception)|error): \S+ \S", line)]
    summary = [line for line in lines if line.startswith(("Cannot import", "ERROR:"))]
    return (reasons or summary or lines or ["pip wheel failed"])[-1]


def _git_dir(project_dir: Path) -> str | None:
    """The git directory of the repository whose top is `project_dir`, if it is one."""
    if not (project_dir / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(project_dir), "rev-parse", "--absolute-git-dir"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def wheel_metadata(wheel: Path) -> WheelMetadata:
    """Name, version and Requires-Python from the wheel's METADATA."""
    with zipfile.ZipFile(wheel) as zf:
        member = next((n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")), None)
        if member is None:
            raise BuildError(f"{wheel.name} has no .dist-info/METADATA: the build backend made a broken wheel")
        headers = HeaderParser().parsestr(zf.read(member).decode("utf-8"))
    return WheelMetadata(headers["Name"], headers["Version"], headers.get("Requires-Python"), tuple(headers.get_all("Requires-Dist") or ()))


def wheel_modules(wheel: Path) -> set[str]:
    """Every importable module and package a wheel installs ("pkg", "pkg.sub", ...)."""
    modules: set[str] = set()
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    for name in names:
        path = re.sub(r"^[^/]+\.data/(purelib|platlib)/", "", name)
        if path.startswith(("/", "..")) or path.split("/", 1)[0].endswith((".dist-info", ".data")):
            continue
        parts = path.split("/")
        for depth in range(1, len(parts)):  # every folder is a package (regular or namespace)
            modules.add(".".join(parts[:depth]))
        stem = parts[-1].split(".", 1)[0]
        if parts[-1].endswith((".py", ".pyc", ".so", ".pyd")) and stem.isidentifier():
            modules.add(".".join([*parts[:-1], stem]).removesuffix(".__init__"))
    return modules


def _pip_platforms(target: Target, cap: Ceiling) -> list[str]:
    """The --platform values, most preferred first (pip keeps their order)."""
    platforms = target.wheel_platforms(cap.version)
    if not platforms:
        oldest = target.wheel_platforms(target.floor)[0]
        raise ResolveError(f"no wheel can fit {target.triple} with {cap.shown}: its oldest platform tag is {oldest}; raise the limit")
    if target.os == "macos":
        # pip expands each macOS tag to every older version and binary format; one tag
        # per version, oldest first, keeps the preference order.
        versions = dict.fromkeys(mac_tag_version(p) for p in platforms)
        return [f"macosx_{major}_{minor}_{target.wheel_arch}" for major, minor in versions]
    return platforms


def _pip_report(
    project_wheel: Path, target: Target, python: str, work: Path, cap: Ceiling, constraints: Path | None = None, extra: Sequence[Path] = ()
) -> tuple[dict[str, Any] | None, str]:
    """pip's installation report (None when resolution failed) and what pip printed."""
    minor = "".join(python.split(".")[:2])
    report = work / f"pip-report-{target.triple}.json"
    report.unlink(missing_ok=True)
    argv = [
        sys.executable, "-c", _PIP_MAIN, json.dumps(target.marker_environment(python)),
        "install", "--dry-run", "--ignore-installed", "--quiet", "--disable-pip-version-check",
        "--report", str(report), "--target", str(work / "pip-target"),
        "--only-binary=:all:", "--python-version", python, "--implementation", "cp",
        "--abi", f"cp{minor}", "--abi", "abi3", "--abi", "none",
        *[arg for platform in _pip_platforms(target, cap) for arg in ("--platform", platform)],
        *(["--constraint", str(constraints)] if constraints else []),
        str(project_wheel), *map(str, extra),
    ]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        return None, proc.stderr
    return json.loads(report.read_text()), proc.stderr


def _on_index(name: str) -> bool:
    """Whether the package index knows `name` at all (any version, any file)."""
    argv = [sys.executable, "-m", "pip", "index", "versions", name, "--ignore-requires-python", "--pre", "--disable-pip-version-check"]
    return subprocess.run(argv, capture_output=True, text=True).returncode == 0


def _requirement_name(text: str) -> str:
    try:
        return canonicalize_name(Requirement(text).name)
    except InvalidRequirement:
        return canonicalize_name(re.split(r"[<>=!~;\[ ]", text, maxsplit=1)[0])


def _explain(stderr: str, project_wheel: Path, target: Target, python: str, work: Path, cap: Ceiling) -> ResolveError:
    missing = re.search(r"No matching distribution found for (\S+)", stderr)
    if not missing:
        lines = [line for line in stderr.strip().splitlines() if line.startswith("ERROR")] or stderr.strip().splitlines()
        return ResolveError(f"resolving dependencies for {target.triple} failed: {lines[0] if lines else 'pip gave no reason'}")
    requirement = missing.group(1)
    name = _requirement_name(requirement)
    if not _on_index(name):
        return ResolveError(f"{name} does not exist on the package index (required as {requirement}): check its name in [project] dependencies")
    if cap.pinned:
        wider = default_ceiling(target)
        report, _ = _pip_report(project_wheel, target, python, work, wider)
        if report is not None:
            over = [(floor, w) for w in report_wheels(report) if (floor := claimed_floor(w.file, target)) and floor > release(cap.version or "0")]
            chosen = next((o for o in over if canonicalize_name(o[1].name) == name), over[0] if over else None)
            if chosen is not None:
                floor, w = chosen
                needs = f"manylinux_{floor[0]}_{floor[1]}" if cap.kind == "glibc" else f"macOS {floor[0]}.{floor[1]}"
                return ResolveError(
                    f"{w.name} {w.version} publishes no wheel for {cap.shown} on {target.triple} (its wheels for it need {needs}), "
                    f"and the floor is pinned ({cap.pinned}): raise the pin, or require an older {w.name}"
                )
    tags = [str(t) for t in target.wheel_tags(python, cap.version)]
    platforms = target.wheel_platforms(cap.version)
    return ResolveError(
        f"no wheel of {requirement} for {target.triple} (Python {python}): none of its files fits the {len(tags)} tags tried "
        f"({tags[0]}, ..., platforms {platforms[0]} to {platforms[-1]}, and pure-Python py3-none-any); "
        f"pick a version that publishes wheels for this target, or drop the target"
    )



def report_wheels(report: dict[str, Any]) -> list[ResolvedWheel]:
    """The wheels of a pip installation report, each with its URL and sha256."""
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


def resolve(
    project_wheel: Path, target: Target, python: str, work: Path, cap: Ceiling | None = None, constraints: Path | None = None, extra: Sequence[Path] = ()
) -> list[ResolvedWheel]:
    """Every wheel the app needs on `target` (the project's own first), not yet downloaded.

    `constraints` is a pip constraints file (the versions a lock keeps, see xbuild/lock/);
    `extra`: wheels that must be used (built from source, see xbuild/crossbuild/).
    """
    cap = cap or default_ceiling(target)
    limit = f", wheels for {cap.shown}" if cap.version else ""
    log.info("resolving dependencies for %s (Python %s%s)", target.triple, python, limit)
    report, stderr = _pip_report(project_wheel, target, python, work, cap, constraints, extra)
    if report is None:
        raise _explain(stderr, project_wheel, target, python, work, cap)
    return report_wheels(report)


def for_record(wheels: list[ResolvedWheel], project_wheel: Path) -> list[dict[str, str]]:
    """The resolved set as the build output records it (the project's own wheel has no URL)."""
    own = project_wheel.as_uri()
    return [{**asdict(w), "url": "" if w.url == own else w.url} for w in wheels]


def fetch_wheels(wheels: list[ResolvedWheel]) -> list[Path]:
    """Verified local copies of the wheels, from xbuild's cache when it has them."""
    return [download.fetch(download.PinnedFile(w.url, w.sha256, f"{w.name} {w.version} ({w.file})")) for w in wheels]

