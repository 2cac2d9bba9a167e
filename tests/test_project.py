"""The project's own side of a build: entry point names, dynamic versions, requires-python,
reproducible project wheels, and versions no runtime has — each refused in one line, early.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from xbuild import config
from xbuild.errors import ConfigError

from .conftest import DATA, assert_one_line_error, run_xbuild

HEAD = '[project]\nname = "demo"\nversion = "1.0"\n'


def _project(tmp_path: Path, body: str, backend: str = "") -> Path:
    (tmp_path / "pyproject.toml").write_text(backend + HEAD + body)
    return tmp_path


@pytest.mark.parametrize(
    ("scripts", "message"),
    [
        ('app = "demo:main"', "collide with the artifact's app/ folder"),
        ('Runtime = "demo:main"', "collide with the artifact's runtime/ folder"),
        ('".." = "demo:main"', "cannot start with '.'"),
        ('"bin/demo" = "demo:main"', "cannot contain a path separator"),
        ('"a\\\\b" = "demo:main"', "cannot contain a path separator"),
        ('"" = "demo:main"', "empty name"),
        ('"  " = "demo:main"', "empty name"),
        ('nul = "demo:main"', "reserved device name on Windows"),
        ('"COM1.tool" = "demo:main"', "reserved device name on Windows"),
    ],
)
def test_entry_point_names_that_cannot_be_launchers(tmp_path: Path, scripts: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config.load(_project(tmp_path, f"[project.scripts]\n{scripts}\n"))


def test_two_entry_points_cannot_share_a_launcher(tmp_path: Path) -> None:
    body = '[project.scripts]\ndemo = "demo:main"\n[project.gui-scripts]\nDemo = "demo:gui"\n'
    with pytest.raises(ConfigError, match=r"\[project.gui-scripts\] 'Demo' has the same launcher name as \[project.scripts\] 'demo'"):
        config.load(_project(tmp_path, body))


def test_good_names_are_kept(tmp_path: Path) -> None:
    project, _ = config.load(_project(tmp_path, '[project.scripts]\n"demo-cli" = "demo:main"\napp_tool = "demo.x:y"\n"v1.2" = "demo:main"\n'))
    assert [e.name for e in project.entry_points] == ["demo-cli", "app_tool", "v1.2"]


def test_wheel_floor_limits_are_versions(tmp_path: Path) -> None:
    base = '[project.scripts]\ndemo = "demo:main"\n[tool.xbuild]\n'
    _, options = config.load(_project(tmp_path, base + 'max-glibc = "2.28"\nmax-macos = "14.0"\nmacos = "11.0"\n'))
    assert (options.max_glibc, options.max_macos, options.macos, options.glibc) == ("2.28", "14.0", "11.0", None)
    with pytest.raises(ConfigError, match=r"\[tool.xbuild\] max-glibc must be the newest glibc a dependency's wheel may need"):
        config.load(_project(tmp_path, base + 'max-glibc = "new"\n'))
    proc = run_xbuild("build", str(_project(tmp_path, base)), "--max-glibc", "2.x")
    assert_one_line_error(proc, "--max-glibc must be the newest glibc")


# The project's wheel cannot be built (its backend does not exist): a refusal that comes
# before the wheel is built says so by being about something else.
UNBUILDABLE = '[build-system]\nrequires = []\nbuild-backend = "no_such_backend_xbuild"\n'


def test_a_python_no_runtime_source_has_is_refused_before_building(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    project = _project(tmp_path / "p", '[project.scripts]\ndemo = "demo:main"\n', UNBUILDABLE)
    proc = run_xbuild("build", str(project), "-t", "linux-x86_64", "--python", "2.7")
    assert_one_line_error(proc, "no runtime source has CPython 2.7 for x86_64-unknown-linux-gnu", "3.11", "--python")
    assert not (project / "dist").exists()


def test_requires_python_is_checked_against_the_runtime_before_building(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    project = _project(tmp_path / "p", 'requires-python = ">=3.12"\n[project.scripts]\ndemo = "demo:main"\n', UNBUILDABLE)
    proc = run_xbuild("build", str(project), "-t", "linux-x86_64", "--python", "3.11", "--source", "debian")
    assert_one_line_error(proc, "demo requires Python >=3.12", "CPython 3.11")
    assert not (project / "dist").exists()


def test_a_backend_failure_is_one_line_naming_the_cause(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    project = _project(tmp_path / "p", '[project.scripts]\ndemo = "demo:main"\n', UNBUILDABLE)
    proc = run_xbuild("-q", "build", str(project), "-t", "linux-x86_64", "--source", "debian", "--python", "3.11")
    assert_one_line_error(proc, "could not build a wheel of the project", "No module named 'no_such_backend_xbuild'")
    assert not (project / "dist").exists()


# --- slow: real builds ------------------------------------------------------------------------

LINUX = "x86_64-unknown-linux-gnu"


def _env_without_epoch() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}


def _build(project: Path, out: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    code = "import sys\nfrom xbuild.cli import main\nsys.exit(main(sys.argv[1:]))"
    argv = [sys.executable, "-c", code, "-q", "build", str(project), "--output-dir", str(out), *args]
    return subprocess.run(argv, env=env or _env_without_epoch(), capture_output=True, text=True, timeout=900)


def _git(project: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_DATE": "2024-05-01T12:00:00Z", "GIT_COMMITTER_DATE": "2024-05-01T12:00:00Z"}
    subprocess.run(["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args], check=True, env=env, capture_output=True)


def _tagged_checkout(source: Path, dest: Path, tag: str) -> Path:
    shutil.copytree(source, dest)
    (dest / ".gitignore").write_text("dist/\n")
    _git(dest, "init", "-q")
    _git(dest, "add", "-A")
    _git(dest, "commit", "-q", "-m", "release")
    _git(dest, "tag", tag)
    return dest


@pytest.fixture(scope="module")
def scm_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tagged_checkout(DATA / "scmversion", tmp_path_factory.mktemp("scm") / "scmversion", "v1.4.2")


@pytest.mark.slow
def test_setuptools_scm_version_names_the_artifact_and_builds_reproduce(scm_project: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    for out in (first, second):
        proc = _build(scm_project, out, "-t", LINUX, "--source", "debian", "--python", "3.11")
        assert proc.returncode == 0, proc.stderr
    folder = first / f"scmversion-1.4.2-{LINUX}"
    run = subprocess.run([str(folder / "scmversion")], capture_output=True, text=True)
    assert (run.returncode, run.stdout.strip()) == (0, "scmversion 1.4.2"), run.stderr
    archive = f"scmversion-1.4.2-{LINUX}.tar.gz"
    digests = {hashlib.sha256((out / archive).read_bytes()).hexdigest() for out in (first, second)}
    assert len(digests) == 1  # no SOURCE_DATE_EPOCH given: the last commit's time is used, the project wheel too
    assert not (scm_project / "build").exists() and not list(scm_project.glob("*.egg-info"))
    assert subprocess.run(["git", "-C", str(scm_project), "status", "--porcelain"], capture_output=True, text=True).stdout == ""


@pytest.mark.slow
def test_hatch_vcs_version_names_the_artifact(tmp_path: Path) -> None:
    project = _tagged_checkout(DATA / "vcsversion", tmp_path / "vcsversion", "v0.9.1")
    proc = _build(project, tmp_path / "out", "-t", LINUX, "--source", "debian", "--python", "3.11")
    assert proc.returncode == 0, proc.stderr
    run = subprocess.run([str(tmp_path / "out" / f"vcsversion-0.9.1-{LINUX}" / "vcsversion")], capture_output=True, text=True)
    assert (run.returncode, run.stdout.strip()) == (0, "vcsversion 0.9.1"), run.stderr


@pytest.mark.slow
def test_attr_version_names_the_artifact(tmp_path: Path) -> None:
    project = tmp_path / "attrversion"
    shutil.copytree(DATA / "attrversion", project)
    proc = _build(project, project / "dist", "-t", LINUX, "--source", "debian", "--python", "3.11")
    assert proc.returncode == 0, proc.stderr
    folder = project / "dist" / f"attrversion-2.5.1-{LINUX}"
    assert (project / "dist" / f"attrversion-2.5.1-{LINUX}.tar.gz").is_file()
    run = subprocess.run([str(folder / "attrversion")], capture_output=True, text=True)
    assert (run.returncode, run.stdout.strip()) == (0, "attrversion 2.5.1")
    found = run_xbuild("run", "-t", LINUX, "--project", str(project))  # the dynamic version is found in dist/
    assert (found.returncode, found.stdout.strip()) == (0, "attrversion 2.5.1"), found.stderr


@pytest.mark.slow
def test_an_entry_point_module_that_does_not_exist_fails_before_assembly(tmp_path: Path) -> None:
    project = tmp_path / "attrversion"
    shutil.copytree(DATA / "attrversion", project)
    text = (project / "pyproject.toml").read_text().replace('"attrversion.cli:main"', '"attrversion.nowhere:main"')
    (project / "pyproject.toml").write_text(text)
    proc = run_xbuild("-q", "build", str(project), "-t", LINUX, "--source", "debian", "--python", "3.11")
    assert_one_line_error(proc, "entry point attrversion = 'attrversion.nowhere:main'", "no module attrversion.nowhere", "attrversion-2.5.1-py3-none-any.whl")
    assert not (project / "dist").exists()


@pytest.mark.slow
@pytest.mark.wine
def test_requires_python_above_the_host_builds_for_a_newer_runtime(tmp_path: Path) -> None:
    """The host runs Python 3.11; the project needs 3.12+; the Windows runtime is 3.13,
    whose bytecode xbuild compiles with a 3.13 it finds or builds (none need be installed)."""
    assert sys.version_info < (3, 12)  # the point: pip runs under an older host interpreter
    env = _env_without_epoch()
    proc = _build(DATA / "reqpy312", tmp_path, "-t", "win_amd64", "--python", "3.13", env=env)
    assert proc.returncode == 0, proc.stderr
    run = run_xbuild("run", str(tmp_path / "reqpy312-1.0-x86_64-pc-windows-msvc"))
    assert (run.returncode, run.stdout.strip()) == (0, "reqpy312 on 3.13 >= 3.12"), run.stderr
