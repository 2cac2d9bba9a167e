"""`xbuild sysroot verify` and `build --offline` without building anything: a sysroot folder is faked in a private cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from xbuild import sysroot, targets
from xbuild.errors import ExitCode

from .conftest import assert_one_line_error, run_xbuild

TRIPLE = "aarch64-unknown-linux-gnu"


def _fake_sysroot(monkeypatch: pytest.MonkeyPatch, cache: Path, *, manifest: bool) -> Path:
    monkeypatch.setenv("XBUILD_CACHE_DIR", str(cache))
    target = targets.get(TRIPLE)
    root = sysroot._published(target, sysroot.lock_digest(sysroot.read_lock(target)))
    (root / "usr" / "include").mkdir(parents=True)
    (root / "usr" / "include" / "zlib.h").write_text("/* zlib */\n")
    if manifest:
        sysroot.write_manifest(root, root / sysroot.MANIFEST)
    return root


def test_sysroot_without_manifest_is_one_problem_not_intact(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_sysroot(monkeypatch, tmp_path / "cache", manifest=False)
    proc = run_xbuild("sysroot", "verify", env={"XBUILD_CACHE_DIR": str(tmp_path / "cache")})
    assert proc.returncode == 1, proc
    assert proc.stdout.splitlines() == [f"{TRIPLE}: no manifest (built by an older xbuild): rebuild it"]


def test_sysroot_verify_reports_intact_then_changed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = _fake_sysroot(monkeypatch, tmp_path / "cache", manifest=True)
    env = {"XBUILD_CACHE_DIR": str(tmp_path / "cache")}
    intact = run_xbuild("sysroot", "verify", env=env)
    assert (intact.returncode, intact.stdout) == (0, f"{TRIPLE}: intact ({root})\n")
    (root / "usr" / "include" / "zlib.h").write_text("/* changed */\n")
    changed = run_xbuild("sysroot", "verify", env=env)
    assert (changed.returncode, changed.stdout) == (1, f"{TRIPLE}: CHANGED since it was built ({root})\n")


def test_sysroot_build_honours_xbuild_offline(tmp_path: Path) -> None:
    """XBUILD_OFFLINE=1 means what --offline means, for `sysroot build` as for `build` and `runtime fetch`."""
    env = {"XBUILD_CACHE_DIR": str(tmp_path / "cache"), "XBUILD_OFFLINE": "1", "XBUILD_DEBIAN_MIRROR": "http://127.0.0.1:9"}
    proc = run_xbuild("-q", "sysroot", "build", "-t", TRIPLE, "--out", str(tmp_path / "out"), env=env)
    assert_one_line_error(proc, "offline:", "is not in the cache", code=ExitCode.NETWORK)
    assert not (tmp_path / "out").exists()
