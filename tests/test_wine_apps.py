"""Real Windows apps under `xbuild run`: a Rust-built extension (cryptography) and numpy.

They need what Debian's wine 8 lacks (bcryptprimitives.dll, ucrtbase's
complex functions, propsys's VariantToString for CPython 3.13, Windows 10), which xbuild's stand-ins give its own prefix. Each test
also shows that without the stand-in the same artifact fails the way wine fails, so the
stand-ins are what makes them pass.

The prefix starts as an old xbuild left it (plain `wineboot --init`: Windows 7, no
stand-ins, no marker), so the first run also proves the one-time upgrade.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pefile
import pytest

from xbuild import hosttools, runner, targets, winestandins
from xbuild.toolchain import find_zig

from .conftest import DATA, run_xbuild

pytestmark = [pytest.mark.slow, pytest.mark.wine]

TRIPLE = "x86_64-pc-windows-msvc"


@pytest.fixture(scope="module")
def prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wine = hosttools.find_wine()
    assert wine is not None, "wine64 is not installed (apt-get install wine64)"
    path = tmp_path_factory.mktemp("wine") / "prefix"
    env = {**os.environ, "WINEPREFIX": str(path), "WINEDEBUG": "-all", "WINEDLLOVERRIDES": "mscoree,mshtml="}
    subprocess.run([str(wine), "wineboot", "--init"], env=env, capture_output=True, timeout=600, check=True)
    assert (path / "system.reg").is_file() and not (path / runner.PREFIX_MARKER).exists()
    return path


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    crypto = run_xbuild("-q", "build", str(DATA / "winecrypto"), "-t", TRIPLE, "--output-dir", str(out))
    assert crypto.returncode == 0, crypto.stderr
    # Strict: the audit must find numpy's OpenBLAS and msvcp140 in numpy.libs (delvewheel's folder).
    numpy = run_xbuild("-q", "build", str(DATA / "winenumpy"), "-t", TRIPLE, "--output-dir", str(out))
    assert numpy.returncode == 0, numpy.stderr
    return out


def _run(dist: Path, app: str, prefix: Path, *args: str, overrides: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"WINEPREFIX": str(prefix)}
    if overrides is not None:
        env["WINEDLLOVERRIDES"] = overrides
    return run_xbuild("run", str(dist / f"{app}-0.1-{TRIPLE}"), "--", *args, env=env)


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").strip().splitlines()


def test_cryptography_signs_and_verifies_under_wine(dist: Path, prefix: Path) -> None:
    proc = _run(dist, "winecrypto", prefix, "hello", "from", "wine")
    assert proc.returncode == 0, proc.stderr
    assert _lines(proc.stdout) == [
        "signed 15 bytes: signature 64 bytes, verified, tampered rejected",
        "public key 32 bytes, keys distinct: True",
        "windows version 10.0",
    ]
    marker = json.loads((prefix / runner.PREFIX_MARKER).read_text())
    assert marker["setup"] == runner.PREFIX_SETUP_VERSION and isinstance(marker["standins"], str)
    system32 = prefix / "drive_c" / "windows" / "system32"
    assert all((system32 / name).is_file() for name in winestandins.names())
    # Rust's std also imports the synch API set; wine's API set schema maps it to kernelbase,
    # so it needs no stand-in, as this run shows.
    rust = pefile.PE(str(dist / f"winecrypto-0.1-{TRIPLE}" / "app/cryptography/hazmat/bindings/_rust.pyd"))
    imported = {e.dll.decode().lower() for e in rust.DIRECTORY_ENTRY_IMPORT}
    assert {"bcryptprimitives.dll", "api-ms-win-core-synch-l1-2-0.dll"} <= imported
    assert not (system32 / "api-ms-win-core-synch-l1-2-0.dll").exists()


def test_cryptography_fails_without_bcryptprimitives(dist: Path, prefix: Path) -> None:
    proc = _run(dist, "winecrypto", prefix, "x", overrides="mscoree,mshtml=;bcryptprimitives=d")
    assert proc.returncode == 1
    assert "ImportError: DLL load failed while importing _rust" in proc.stderr


def _expected_trace(n: int) -> float:
    total = 0.0
    for i in range(n):
        for j in range(n):
            value = (i * n + j + 1) / (n * n) + (n if i == j else 0)
            total += value * value
    return total


def test_numpy_computes_under_wine(dist: Path, prefix: Path) -> None:
    proc = _run(dist, "winenumpy", prefix, "48")
    assert proc.returncode == 0, proc.stderr
    lines = _lines(proc.stdout)
    assert lines[0] == "numpy 2.4.6 n=48"
    assert lines[1] == f"trace(a a^T) = {_expected_trace(48):.6f}"
    assert lines[2] == "solve residual < 1e-9: True"
    assert lines[3] == f"vdot(z, z) = {2 * sum(k * k for k in range(48)):.1f}+0.0j"
    assert lines[4] == "det sign = 1"
    # numpy's complex ufuncs call the UCRT's cexp, csqrt, ... (the ucrtbase stand-in); CPython's
    # cmath computes the same values without them.
    assert lines[5].startswith("complex128: 18 functions vs cmath, worst relative error ")
    assert lines[6].startswith("complex64: 18 functions vs cmath, worst relative error ")
    assert len(lines) == 7, "\n".join(lines)  # no MISMATCH lines


def test_numpy_fails_with_wines_own_ucrtbase(dist: Path, prefix: Path) -> None:
    proc = _run(dist, "winenumpy", prefix, overrides="mscoree,mshtml=;ucrtbase=b")
    assert proc.returncode != 0
    assert "unimplemented function ucrtbase.dll.crealf" in proc.stdout + proc.stderr


def _windows_runtime(python: str) -> Path:
    proc = run_xbuild("runtime", "fetch", "--target", TRIPLE, "--python", python)
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip().splitlines()[-1])


def test_ucrtbase_complex_functions_agree_with_cmath(prefix: Path) -> None:
    # Every complex function of the stand-in, in double, long double and float, called the
    # way MSVC-built code calls it (structs by value), against CPython's own cmath.
    python = _windows_runtime("3.11") / "python.exe"
    script = (DATA / "ucrt_complex_check.py").read_text()
    out = runner.run(targets.get(TRIPLE), [str(python), "-I", "-c", script], extra_env={"WINEPREFIX": str(prefix)})
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["bad"] == [] and result["checked"] > 1000


def test_cpython_313_platform_under_wine(prefix: Path) -> None:
    # CPython 3.12+ asks WMI for the Windows version and formats it with propsys's
    # VariantToString, a stub in wine 8; the propsys stand-in implements it.
    python = _windows_runtime("3.13") / "python.exe"
    code = "import platform, sys; print(sys.version_info[:2], platform.platform())"
    target = targets.get(TRIPLE)
    out = runner.run(target, [str(python), "-I", "-c", code], extra_env={"WINEPREFIX": str(prefix)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("(3, 13) Windows-10-10.0."), out.stdout
    plain = runner.run(target, [str(python), "-I", "-c", code], extra_env={"WINEPREFIX": str(prefix), "WINEDLLOVERRIDES": "mscoree,mshtml=;propsys=b"})
    assert plain.returncode != 0
    assert "unimplemented function propsys.dll.VariantToString" in plain.stdout + plain.stderr


def test_built_standins_are_what_the_table_says() -> None:
    wine = hosttools.find_wine()
    assert wine is not None
    builtins = winestandins.builtin_dir(wine)
    assert builtins is not None
    zig = find_zig()
    built = winestandins.build(zig, builtins, winestandins.build_key(zig, builtins))

    def exports(name: str) -> dict[str, bytes | None]:
        pe = pefile.PE(str(built / name))
        return {s.name.decode(): s.forwarder for s in pe.DIRECTORY_ENTRY_EXPORT.symbols if s.name}

    def imports(name: str) -> dict[str, set[str]]:
        pe = pefile.PE(str(built / name))
        return {e.dll.decode().lower(): {i.name.decode() for i in e.imports} for e in getattr(pe, "DIRECTORY_ENTRY_IMPORT", [])}

    assert exports("bcryptprimitives.dll") == {"ProcessPrng": None}
    assert imports("bcryptprimitives.dll") == {"advapi32.dll": {"SystemFunction036"}}
    ucrt = next(s for s in winestandins.standins() if s.name == "ucrtbase.dll")
    table = exports("ucrtbase.dll")
    wine_names = {n for _o, n in winestandins._exports(builtins / "ucrtbase.dll") if n}
    assert len(wine_names) > 2000 and set(table) == wine_names | set(ucrt.implements)
    for name, forwarder in table.items():
        assert forwarder == (None if name in ucrt.implements else f"ucrtbase_wine.{name}".encode()), name
    # Its own code calls wine's real-valued math in the renamed copy, never ucrtbase (itself).
    deps = imports("ucrtbase.dll")
    assert set(deps) == {"ucrtbase_wine.dll", "kernel32.dll"} and {"exp", "atan2", "hypot"} <= deps["ucrtbase_wine.dll"]
    assert (built / "ucrtbase_wine.dll").read_bytes() == (builtins / "ucrtbase.dll").read_bytes()
    propsys = exports("propsys.dll")
    assert propsys["VariantToString"] is None and propsys["PropVariantToString"] == b"propsys_wine.PropVariantToString"
    assert imports("propsys.dll") == {"oleaut32.dll": {"VariantChangeType", "VariantClear", "VariantInit", "SysStringLen"}}
