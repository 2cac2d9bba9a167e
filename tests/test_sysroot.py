"""Hermetic sysroots from pinned Debian packages: reproducible, usable by zig cc, tamper-proof.

Slow: downloads Debian packages (~30 MB per architecture) on a cold cache.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from xbuild import cache, debian, runner, sysroot, targets
from xbuild.audit.check import Context, audit
from xbuild.toolchain import OPT_LEVEL, Zig

from .conftest import DATA, assert_one_line_error, run_xbuild

pytestmark = pytest.mark.slow

TRIPLES = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"]


@pytest.mark.parametrize("triple", TRIPLES)
def test_two_builds_from_the_lock_are_identical(triple: str, tmp_path: Path) -> None:
    for name in ("a", "b"):
        proc = run_xbuild("-q", "sysroot", "build", "-t", triple, "--out", str(tmp_path / name), "--archive", str(tmp_path / f"{name}.tar.zst"))
        assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "a.tar.zst").read_bytes() == (tmp_path / "b.tar.zst").read_bytes()
    digest = (tmp_path / "a.tar.zst.sha256").read_text().split()[0]
    assert digest == cache.sha256_file(tmp_path / "a.tar.zst")
    first = list(sysroot.manifest(tmp_path / "a"))
    assert first == list(sysroot.manifest(tmp_path / "b"))
    assert len(first) > 500
    assert not [rel for rel, _mode, content in first if content.startswith("-> /")]  # no absolute links left
    assert not (tmp_path / "a" / "usr" / "share" / "doc").exists()
    assert (tmp_path / "a" / "usr" / "include" / "zlib.h").is_file() and (tmp_path / "a" / "usr" / "include" / "openssl" / "ssl.h").is_file()


def _built(triple: str) -> sysroot.Sysroot:
    return sysroot.build(targets.get(triple))


def _compile(zig: Zig, triple: str, out: Path, *extra: str) -> Path:
    target = targets.get(triple)
    args = [*_built(triple).compiler_flags(), OPT_LEVEL, "-o", str(out), str(DATA / "zlib_ssl.c"), "-lz", "-lcrypto", *extra]
    zig.run(zig.cc(target, args), what=f"zlib_ssl for {triple}")
    return out


def _check(stdout: str) -> None:
    zlib_line, ssl_line = stdout.strip().splitlines()
    assert zlib_line == "zlib 1.2.13 crc32=2d312bc9"  # crc32(b"xbuild"), as Python's zlib computes it
    assert ssl_line.startswith("OpenSSL 3.0.")


@pytest.mark.qemu
def test_zlib_and_openssl_program_for_aarch64_runs_under_qemu(zig: Zig, tmp_path: Path) -> None:
    exe = _compile(zig, "aarch64-unknown-linux-gnu", tmp_path / "zlib_ssl")
    proc = runner.run(targets.get("linux-aarch64"), [str(exe)], lib_root=_built("aarch64-unknown-linux-gnu").root)
    assert proc.returncode == 0, proc.stderr
    _check(proc.stdout)


def test_zlib_and_openssl_program_for_x86_64_runs_natively(zig: Zig, tmp_path: Path) -> None:
    exe = _compile(zig, "x86_64-unknown-linux-gnu", tmp_path / "zlib_ssl")
    proc = subprocess.run([str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    _check(proc.stdout)


def test_xbuild_cc_with_sysroot_and_the_raised_floor(zig: Zig, tmp_path: Path) -> None:
    triple = "aarch64-unknown-linux-gnu"
    built = _built(triple)
    app = tmp_path / "app"
    app.mkdir()
    proc = run_xbuild("cc", "-t", triple, "--sysroot", "--", "-O2", "-o", str(app / "zlib_ssl"), str(DATA / "zlib_ssl.c"), "-lz", "-lcrypto", "-Wl,-rpath,$ORIGIN")
    assert proc.returncode == 0, proc.stderr
    assert f"need glibc {built.glibc_floor}" in proc.stderr
    # Shipped with the sysroot's libraries, the program has their floor, not the target's 2.17.
    for name in ("libcrypto.so.3", "libz.so.1"):
        (found,) = [p for p in (built.root / "usr" / "lib" / built.triplet / name, built.root / "lib" / built.triplet / name) if p.exists()]
        shutil.copy(found, app / name)
    result = audit(app, Context(targets.get(triple), glibc="2.17"))
    assert result.floor("glibc") is not None and tuple(map(int, result.floor("glibc").split("."))) >= (2, 34)
    offenders = {v.file for v in result.violations if v.rule == "symbol-version"}
    assert "libcrypto.so.3" in offenders and "zlib_ssl" not in offenders  # the program itself stays at 2.17


# --- refusals ------------------------------------------------------------------------------


@pytest.fixture
def small_lock(tmp_path: Path) -> Path:
    """A lock of zlib's two packages for arm64: enough to show every refusal quickly."""
    full = sysroot.read_lock(targets.get("aarch64-unknown-linux-gnu"))
    keep = [d for d in full.packages if d.package in ("zlib1g", "zlib1g-dev")]
    data = {**full.to_json(), "packages": [d.__dict__ for d in keep], "target": "aarch64-unknown-linux-gnu"}
    path = tmp_path / "zlib.lock.json"
    path.write_text(json.dumps(data))
    return path


def _build_with(lock: Path, out: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_xbuild("-q", "sysroot", "build", "-t", "aarch64-unknown-linux-gnu", "--lock", str(lock), "--out", str(out), env=env)


def test_tampered_cached_deb_is_refused(small_lock: Path, tmp_path: Path) -> None:
    env = {"XBUILD_CACHE_DIR": str(tmp_path / "cache")}
    assert _build_with(small_lock, tmp_path / "good", env).returncode == 0
    deb = next(d for d in json.loads(small_lock.read_text())["packages"] if d["package"] == "zlib1g-dev")
    blob = tmp_path / "cache" / "blobs" / "sha256" / deb["sha256"][:2] / deb["sha256"]
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    line = assert_one_line_error(_build_with(small_lock, tmp_path / "again", env), "zlib1g-dev", deb["sha256"], cache.sha256_bytes(bytes(data)))
    assert "changed after it was verified" in line
    assert not (tmp_path / "again").exists()


def test_tampered_lock_entry_is_refused(small_lock: Path, tmp_path: Path) -> None:
    data = json.loads(small_lock.read_text())
    entry = next(d for d in data["packages"] if d["package"] == "zlib1g")
    real, forged = entry["sha256"], "ab" * 32
    entry["sha256"] = forged
    small_lock.write_text(json.dumps(data))
    assert_one_line_error(_build_with(small_lock, tmp_path / "out"), "zlib1g", forged, real)
    assert not (tmp_path / "out").exists()


def test_version_gone_from_the_mirror_says_how_to_recover(small_lock: Path, tmp_path: Path) -> None:
    data = json.loads(small_lock.read_text())
    data["index_sha256"] = "00" * 32  # an index that can no longer be had: the chain check is skipped
    entry = next(d for d in data["packages"] if d["package"] == "zlib1g")
    entry["version"] = "1:1.2.11.dfsg-1"
    entry["filename"] = "pool/main/z/zlib/zlib1g_1.2.11.dfsg-1_arm64.deb"
    entry["sha256"] = "cd" * 32
    small_lock.write_text(json.dumps(data))
    env = {"XBUILD_CACHE_DIR": str(tmp_path / "cache")}
    line = assert_one_line_error(_build_with(small_lock, tmp_path / "out", env), "zlib1g 1:1.2.11.dfsg-1 is not on")
    assert "re-lock" in line and "snapshot" in line and debian.MIRROR_VAR in line


def test_verify_notices_a_changed_sysroot(tmp_path: Path) -> None:
    env = {"XBUILD_CACHE_DIR": str(tmp_path / "cache")}
    assert run_xbuild("-q", "sysroot", "build", "-t", "aarch64-unknown-linux-gnu", env=env).returncode == 0
    intact = run_xbuild("sysroot", "verify", env=env)
    assert intact.returncode == 0 and "aarch64-unknown-linux-gnu: intact" in intact.stdout
    root = Path(run_xbuild("sysroot", "path", "-t", "linux-aarch64", env=env).stdout.strip())
    (root / "usr" / "include" / "zlib.h").write_text("/* changed */\n")
    changed = run_xbuild("sysroot", "verify", env=env)
    assert changed.returncode == 1 and "CHANGED since it was built" in changed.stdout


def test_unknown_target_has_no_recipe() -> None:
    assert_one_line_error(run_xbuild("sysroot", "build", "-t", "win_amd64"), "no sysroot recipe for x86_64-pc-windows-msvc")
