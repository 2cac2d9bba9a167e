"""`xbuild build` end to end: the example app built for Linux x86_64, Linux aarch64 and
Windows x86_64 from this host, then run natively, under qemu-aarch64 and under wine64.

Slow: the first run fetches runtimes and wheels and compiles zig's libc for each target.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pefile
import pytest

from xbuild.errors import ExitCode

from .conftest import DATA, REPO, assert_one_line_error, run_xbuild

pytestmark = pytest.mark.slow

EXAMPLE = REPO / "examples" / "yamldigest"
TRIPLES = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu", "x86_64-pc-windows-msvc"]
EPOCH = {"SOURCE_DATE_EPOCH": "1700000000"}
YAML_TEXT = "name: xbuild\nitems: [1, 2, 3]\nnested: {ok: true}\n"
# The runtime sources these tests mean, pinned: PyPI's CPython for Windows, Debian's for Linux glibc.
SOURCES = ["--source", "pypi", "--source", "debian", "--python", "3.11"]
ARGS = ["--info", "--echo", "héllo", "wörld ✓", "--text", YAML_TEXT]


def _expected_digest() -> str:
    document = {"name": "xbuild", "items": [1, 2, 3], "nested": {"ok": True}}
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = run_xbuild("build", str(EXAMPLE), "--output-dir", str(out), *SOURCES, *[a for t in TRIPLES for a in ("-t", t)], env=EPOCH)
    assert proc.returncode == 0, proc.stderr
    for triple in TRIPLES:
        assert triple in proc.stdout
    return out


def _folder(dist: Path, triple: str) -> Path:
    return dist / f"yamldigest-1.0.0-{triple}"


def _run_artifact(folder: Path, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return run_xbuild("run", str(folder), "--", *args, **kw)  # type: ignore[arg-type]


def _check_output(out: str, platform_words: str) -> None:
    lines = out.replace("\r\n", "\n").strip().splitlines()
    assert lines[0].startswith("python 3.11.") and platform_words in lines[0] and "loader CSafeLoader" in lines[0], lines
    assert lines[1] == "echo: héllo wörld ✓"
    assert lines[2] == f"sha256:{_expected_digest()} keys=3"


def test_native_linux_x86_64(dist: Path) -> None:
    folder = _folder(dist, "x86_64-unknown-linux-gnu")
    proc = subprocess.run([str(folder / "yamldigest"), *ARGS], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    _check_output(proc.stdout, "linux/x86_64")


@pytest.mark.qemu
def test_aarch64_under_qemu(dist: Path) -> None:
    proc = _run_artifact(_folder(dist, "aarch64-unknown-linux-gnu"), *ARGS)
    assert proc.returncode == 0, proc.stderr
    _check_output(proc.stdout, "linux/aarch64")


@pytest.mark.wine
def test_windows_under_wine(dist: Path) -> None:
    folder = _folder(dist, "x86_64-pc-windows-msvc")
    assert {"yamldigest.exe", "python311.dll", "vcruntime140.dll"} <= {p.name for p in folder.iterdir()}
    proc = _run_artifact(folder, *ARGS)
    assert proc.returncode == 0, proc.stderr
    _check_output(proc.stdout, "win32/AMD64")


@pytest.mark.parametrize("triple", TRIPLES)
def test_exit_codes_pass_through(dist: Path, triple: str) -> None:
    assert _run_artifact(_folder(dist, triple), "--exit", "5").returncode == 5


@pytest.mark.parametrize("triple", TRIPLES)
def test_uncaught_exception_prints_traceback_and_exits_1(dist: Path, triple: str) -> None:
    proc = _run_artifact(_folder(dist, triple), "--text", "a: [1, 2")
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr and "yaml" in proc.stderr


def test_moved_folder_still_runs(dist: Path, tmp_path: Path) -> None:
    moved = tmp_path / "somewhere else" / "renamed app"
    shutil.copytree(_folder(dist, "x86_64-unknown-linux-gnu"), moved, symlinks=True)
    proc = subprocess.run([str(moved / "yamldigest"), *ARGS], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    _check_output(proc.stdout, "linux/x86_64")


def test_hostile_environment_is_ignored(dist: Path, tmp_path: Path) -> None:
    evil = tmp_path / "evil"
    evil.mkdir()
    for module in ("yaml", "json", "sitecustomize", "usercustomize", "hashlib"):
        (evil / f"{module}.py").write_text('print("HIJACKED"); raise SystemExit(99)\n')
    env = {**os.environ, "PYTHONPATH": str(evil), "PYTHONHOME": str(evil), "PYTHONSTARTUP": str(evil / "yaml.py"),
           "PYTHONUSERBASE": str(evil), "PYTHONINSPECT": "1", "PYTHONSAFEPATH": "0"}  # fmt: skip
    folder = _folder(dist, "x86_64-unknown-linux-gnu")
    proc = subprocess.run([str(folder / "yamldigest"), *ARGS], capture_output=True, text=True, cwd=evil, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "HIJACKED" not in proc.stdout + proc.stderr
    _check_output(proc.stdout, "linux/x86_64")


def test_damaged_runtime_gives_a_clear_message(dist: Path, tmp_path: Path) -> None:
    copy = tmp_path / "app"
    shutil.copytree(_folder(dist, "x86_64-unknown-linux-gnu"), copy, symlinks=True)
    shutil.rmtree(copy / "runtime" / "lib" / "python3.11")
    proc = subprocess.run([str(copy / "yamldigest")], capture_output=True, text=True)
    assert proc.returncode == 127
    assert "bundled Python runtime is missing or damaged" in proc.stderr
    shutil.rmtree(copy / "runtime")
    proc = subprocess.run([str(copy / "yamldigest")], capture_output=True, text=True)
    # Without runtime/ the loader either finds no libpython (and says so) or a host one; either
    # way the launcher must not crash.
    assert proc.returncode == 127
    assert "libpython3.11.so" in proc.stderr or "bundled Python runtime is missing or damaged" in proc.stderr


def test_build_record_lists_every_input(dist: Path) -> None:
    record = json.loads((_folder(dist, "x86_64-pc-windows-msvc") / "xbuild-build.json").read_text())
    assert record["target"] == "x86_64-pc-windows-msvc"
    assert record["runtime"]["source"] == "pypi" and record["runtime"]["python"] == "3.11.9"
    wheels = {w["name"]: w for w in record["wheels"]}
    assert wheels["PyYAML"]["file"].endswith("-cp311-cp311-win_amd64.whl") and len(wheels["PyYAML"]["sha256"]) == 64
    assert record["entry_points"] == {"yamldigest": "yamldigest.cli:main"}


def test_runtime_is_trimmed(dist: Path) -> None:
    runtime = _folder(dist, "x86_64-unknown-linux-gnu") / "runtime" / "lib" / "python3.11"
    assert (runtime / "json").is_dir() and (runtime / "lib-dynload").is_dir()
    for gone in ("test", "idlelib", "ensurepip", "tkinter"):
        assert not (runtime / gone).exists()
    assert list(runtime.glob("__pycache__/os.cpython-311.pyc"))


def test_archives_are_reproducible(dist: Path, tmp_path: Path) -> None:
    triple = "x86_64-unknown-linux-gnu"
    proc = run_xbuild("-q", "build", str(EXAMPLE), "--output-dir", str(tmp_path), *SOURCES, "-t", triple, env=EPOCH)
    assert proc.returncode == 0, proc.stderr
    first = dist / f"yamldigest-1.0.0-{triple}.tar.gz"
    second = tmp_path / first.name
    assert hashlib.sha256(first.read_bytes()).hexdigest() == hashlib.sha256(second.read_bytes()).hexdigest()
    with tarfile.open(first) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert {m.mtime for m in members} == {1700000000} and {m.uid for m in members} == {0}
    zipped = dist / "yamldigest-1.0.0-x86_64-pc-windows-msvc.zip"
    assert zipped.is_file()


@pytest.mark.wine
def test_gui_and_console_launchers_on_windows(tmp_path: Path) -> None:
    proc = run_xbuild("-q", "build", str(DATA / "guiapp"), "--output-dir", str(tmp_path), "-t", "win_amd64")
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "guiapp-0.1-x86_64-pc-windows-msvc"
    subsystems = {name: pefile.PE(str(folder / f"{name}.exe"), fast_load=True).OPTIONAL_HEADER.Subsystem for name in ("guiapp", "guiapp-cli")}
    assert subsystems == {"guiapp": 2, "guiapp-cli": 3}  # IMAGE_SUBSYSTEM_WINDOWS_GUI, _CUI
    out = run_xbuild("run", str(folder), "--entry", "guiapp-cli", "--", "ünïcode", "2")
    assert out.returncode == 0 and out.stdout.strip() == "console ['ünïcode', '2']"
    fail = run_xbuild("run", str(folder), "--entry", "guiapp-fail")
    assert fail.returncode == 1 and "RuntimeError: deliberate failure from guiapp" in fail.stderr


# --- failures: one line, non-zero, and no partial dist/ -------------------------------------


def _copy_project(tmp_path: Path, pyproject_edit: tuple[str, str] | None = None, extra: str = "") -> Path:
    project = tmp_path / "proj"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("dist", "build", "*.egg-info"))
    text = (project / "pyproject.toml").read_text()
    if pyproject_edit:
        assert pyproject_edit[0] in text, f"the example's pyproject.toml no longer says {pyproject_edit[0]!r}"
        text = text.replace(*pyproject_edit)
    (project / "pyproject.toml").write_text(text + extra)
    return project


def test_dependency_without_a_wheel_is_built_from_its_sdist(tmp_path: Path) -> None:
    """docopt 0.6.2 publishes only an sdist: it is built for the target and recorded as such."""
    project = _copy_project(tmp_path, ('dependencies = ["PyYAML==6.0.3"]', 'dependencies = ["PyYAML==6.0.3", "docopt==0.6.2"]'))
    proc = run_xbuild("-q", "build", str(project), "-t", "linux-x86_64", "--source", "debian", "--python", "3.11")
    assert proc.returncode == 0, proc.stderr
    (record,) = (project / "dist").glob("*-x86_64-unknown-linux-gnu/xbuild-build.json")
    built = json.loads(record.read_text())["built_from_source"]
    assert [name for name in built if name.startswith("docopt-0.6.2-")], built


def test_bad_tool_key_fails_cleanly(tmp_path: Path) -> None:
    project = _copy_project(tmp_path, ("[tool.xbuild]", "[tool.xbuild]\noptimise = 2"))
    assert_one_line_error(run_xbuild("build", str(project)), "unknown key [tool.xbuild] optimise", "did you mean 'optimize'")
    assert not (project / "dist").exists()


def test_missing_entry_point_fails_cleanly(tmp_path: Path) -> None:
    project = _copy_project(tmp_path, ('[project.scripts]\nyamldigest = "yamldigest.cli:main"\n', ""))
    assert_one_line_error(run_xbuild("build", str(project)), "no entry point")
    assert not (project / "dist").exists()


def test_audit_violations_fail_the_build_unless_told_to_warn(tmp_path: Path) -> None:
    project = _copy_project(tmp_path, ('python = "3.13"', 'python = "3.11"\nglibc = "2.17"'))
    proc = run_xbuild("-q", "build", str(project), "-t", "linux-x86_64", "--source", "debian", "--python", "3.11")
    line = assert_one_line_error(proc, "audit of x86_64-unknown-linux-gnu failed with", "GLIBC_2.", "--audit warn", code=ExitCode.AUDIT)
    report = project / "dist" / "yamldigest-1.0.0-x86_64-unknown-linux-gnu.audit-failed.md"
    assert str(report) in line and "| symbol-version |" in report.read_text()
    assert sorted(p.name for p in (project / "dist").iterdir()) == [report.name]  # no artifact folder, no archive
    warned = run_xbuild("build", str(project), "-t", "linux-x86_64", "--source", "debian", "--python", "3.11", "--audit", "warn")
    assert warned.returncode == 0 and "xbuild: warning: audit:" in warned.stderr
    assert "FAIL" in warned.stdout
    audit_doc = json.loads((project / "dist" / "yamldigest-1.0.0-x86_64-unknown-linux-gnu" / "xbuild-audit.json").read_text())
    assert audit_doc["caps"]["glibc"] == "2.17" and "set by the project" in audit_doc["caps"]["glibc_reason"]


def test_entry_point_module_that_does_not_exist(tmp_path: Path) -> None:
    project = _copy_project(tmp_path, ('"yamldigest.cli:main"', '"yamldigest.nowhere:main"'))
    proc = run_xbuild("-q", "build", str(project), "-t", "linux-x86_64", "--source", "debian", "--python", "3.11")
    assert_one_line_error(proc, "entry point yamldigest = 'yamldigest.nowhere:main'", "no module yamldigest.nowhere")
    assert not (project / "dist").exists()  # refused before assembly: nothing half-written


@pytest.mark.qemu
def test_armv7_ppc64le_s390x_build_and_run_under_qemu(tmp_path: Path) -> None:
    """A pure-Python app on the rest of the Debian-served Linux CPUs, 32-bit and big-endian included."""
    triples = ["armv7-unknown-linux-gnueabihf", "ppc64le-unknown-linux-gnu", "s390x-unknown-linux-gnu"]
    proc = run_xbuild("-q", "build", str(DATA / "guiapp"), "--output-dir", str(tmp_path), "--source", "debian", "--python", "3.11", *[a for t in triples for a in ("-t", t)])
    assert proc.returncode == 0, proc.stderr
    for triple in triples:
        folder = tmp_path / f"guiapp-0.1-{triple}"
        out = run_xbuild("run", str(folder), "--entry", "guiapp-cli", "--", "héllo", triple)
        assert (out.returncode, out.stdout.strip()) == (0, f"console ['héllo', '{triple}']"), out.stderr
        audit_doc = json.loads((folder / "xbuild-audit.json").read_text())
        assert audit_doc["summary"]["violations"] == 0 and audit_doc["target"] == triple
    fail = run_xbuild("run", str(tmp_path / "guiapp-0.1-s390x-unknown-linux-gnu"), "--entry", "guiapp-fail")
    assert fail.returncode == 1 and "RuntimeError: deliberate failure from guiapp" in fail.stderr
