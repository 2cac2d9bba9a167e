"""Cross builds from sdists, the fast part: the cross environment a backend sees, wheel checks, integrity, overrides.

The builds themselves (zig, qemu, wine) are in test_crossbuild_slow.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

from xbuild import targets
from xbuild.crossbuild import backend, builder, crossenv, overrides, plan, sdist, verify
from xbuild.errors import BuildError, ExitCode, IntegrityError
from xbuild.runtimes.model import Runtime
from xbuild.toolchain import Zig

from .httpserver import FaultyServer, Route, start

AARCH64 = targets.get("aarch64-unknown-linux-gnu")
S390X = targets.get("s390x-unknown-linux-gnu")
WINDOWS = targets.get("x86_64-pc-windows-msvc")
X86_64 = targets.get("x86_64-unknown-linux-gnu")


def _zig(tmp_path: Path) -> Zig:
    return Zig(path=tmp_path / "zig", version="0.0-test", cache_dir=tmp_path / "zig-cache")


def _unix_runtime(root: Path, triple: str, multiarch: str) -> Runtime:
    """A runtime folder with the sysconfig data Debian's CPython has (prefix /usr)."""
    (root / "include" / "python3.11").mkdir(parents=True)
    stdlib = root / "lib" / "python3.11"
    stdlib.mkdir(parents=True)
    suffix = f".cpython-311-{multiarch}.so"
    data = {"prefix": "/usr", "INCLUDEPY": "/usr/include/python3.11", "LIBDIR": "/usr/lib", "LIBDEST": "/usr/lib/python3.11",
            "MULTIARCH": multiarch, "SOABI": f"cpython-311-{multiarch}", "EXT_SUFFIX": suffix, "CC": f"{multiarch}-gcc",
            "CFLAGS": "-g -fstack-protector-strong -Wformat -Werror=format-security", "Py_ENABLE_SHARED": 1}  # fmt: skip
    (stdlib / f"_sysconfigdata__linux_{multiarch}.py").write_text(f"build_time_vars = {data!r}\n")
    return Runtime(root, "3.11.2", triple, "debian", "test", {}, "2.36", "include/python3.11", "lib/python3.11", "bin/python3.11", None, None, suffix)


def _windows_runtime(root: Path) -> Runtime:
    (root / "include").mkdir(parents=True)
    (root / "libs").mkdir()
    return Runtime(root, "3.11.9", WINDOWS.triple, "pypi", "test", {}, None, "include", "Lib", "python.exe", "python311.dll", "libs/python311.lib", ".cp311-win_amd64.pyd")


_PROBE = """
import json, os, platform, sys, sysconfig
print(json.dumps({"ext": sysconfig.get_config_var("EXT_SUFFIX"), "include": sysconfig.get_config_var("INCLUDEPY"),
    "platform": sysconfig.get_platform(), "machine": os.uname().machine, "pmachine": platform.machine(),
    "cc": sysconfig.get_config_var("CC"), "cflags": sysconfig.get_config_var("CFLAGS"), "libdir": sysconfig.get_config_var("LIBDIR"),
    "multiarch": getattr(sys.implementation, "_multiarch", ""), "cross": getattr(sys, "cross_compiling", False)}))
"""


def _probe(tmp_path: Path, cross: crossenv.CrossEnv, on: bool = True) -> dict[str, object]:
    """What a build backend sees in a host venv that has the cross environment's site files."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(subprocess.run([str(venv / "bin/python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], capture_output=True, text=True, check=True).stdout.strip())
    for name, text in cross.site_files.items():
        (site / name).write_text(text)
    env = {"PATH": "/usr/bin:/bin", **(cross.env if on else {})}
    out = subprocess.run([str(venv / "bin/python"), "-c", _PROBE], capture_output=True, text=True, env=env, check=True)
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_the_host_interpreter_reports_the_linux_target(tmp_path: Path) -> None:
    runtime = _unix_runtime(tmp_path / "rt", AARCH64.triple, "aarch64-linux-gnu")
    cross = crossenv.write(_zig(tmp_path), AARCH64, runtime, tmp_path / "cross")
    seen = _probe(tmp_path, cross)
    assert seen["ext"] == ".cpython-311-aarch64-linux-gnu.so"
    assert seen["include"] == str(runtime.root / "include/python3.11")  # the runtime's headers, not /usr/include
    assert seen["libdir"] == str(runtime.root / "lib")
    assert (seen["platform"], seen["machine"], seen["pmachine"]) == ("linux-aarch64", "aarch64", "aarch64")
    assert seen["multiarch"] == "aarch64-linux-gnu" and seen["cross"] is True
    assert seen["cc"] == str(tmp_path / "cross/bin/cc")  # zig's wrapper, not aarch64-linux-gnu-gcc
    assert "-Werror=format-security" not in str(seen["cflags"])
    # Without the cross variables (how build requirements are installed) the host is itself again.
    host = _probe(tmp_path / "again", cross, on=False)
    assert host["ext"] == sysconfig.get_config_var("EXT_SUFFIX") and host["cross"] is False


def test_windows_environment_gives_pyd_names_and_links_python3xy(tmp_path: Path) -> None:
    runtime = _windows_runtime(tmp_path / "rt")
    cross = crossenv.write(_zig(tmp_path), WINDOWS, runtime, tmp_path / "cross")
    seen = _probe(tmp_path, cross)
    assert (seen["ext"], seen["platform"], seen["include"]) == (".cp311-win_amd64.pyd", "win-amd64", str(runtime.root / "include"))
    assert cross.env["SETUPTOOLS_EXT_SUFFIX"] == ".cp311-win_amd64.pyd"
    extra = Path(cross.env["DIST_EXTRA_CONFIG"]).read_text()
    assert "plat_name = win-amd64" in extra and f"library_dirs = {runtime.root / 'libs'}" in extra
    assert "[build]" not in extra  # build --plat-name is refused off Windows
    cc = (tmp_path / "cross/bin/cc").read_text()
    assert "-DMS_WIN64" in cc and f"-L{runtime.root / 'libs'} -lpython311" in cc and "x86_64-windows-gnu" in cc


def test_cmake_and_meson_files_describe_the_target(tmp_path: Path) -> None:
    runtime = _unix_runtime(tmp_path / "rt", S390X.triple, "s390x-linux-gnu")
    cross = crossenv.write(_zig(tmp_path), S390X, runtime, tmp_path / "cross")
    meson = cross.meson_cross_file.read_text()
    assert "endian = 'big'" in meson and "cpu_family = 's390x'" in meson and f"c = '{tmp_path / 'cross/bin/cc'}'" in meson
    cmake = cross.cmake_toolchain.read_text()
    assert "set(CMAKE_SYSTEM_NAME Linux)" in cmake and "set(CMAKE_SYSTEM_PROCESSOR s390x)" in cmake
    assert f'set(Python_INCLUDE_DIR "{runtime.root / "include/python3.11"}")' in cmake and 'set(Python_SOABI "cpython-311-s390x-linux-gnu")' in cmake
    assert cross.env["CMAKE_TOOLCHAIN_FILE"] == str(cross.cmake_toolchain)


def test_compiler_wrapper_drops_host_flags(tmp_path: Path) -> None:
    """The wrapper's filter, run with a stand-in for zig that prints its arguments."""
    fake = tmp_path / "zig"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    fake.chmod(0o755)
    runtime = _unix_runtime(tmp_path / "rt", AARCH64.triple, "aarch64-linux-gnu")
    crossenv.write(_zig(tmp_path), AARCH64, runtime, tmp_path / "cross")
    args = ["-I/usr/include/python3.11", "-march=native", "-Wp,-D_FORTIFY_SOURCE=2", "-Wp,-MD,dep.d", "-Ikeep", "-lgcc_s", "-c", "x.c"]
    out = subprocess.run([str(tmp_path / "cross/bin/cc"), *args], capture_output=True, text=True, check=True).stdout.split("\n")
    assert "-Ikeep" in out and "-Wp,-MD,dep.d" in out and "-lunwind" in out and "aarch64-linux-gnu.2.17" in out
    assert not {"-I/usr/include/python3.11", "-march=native", "-Wp,-D_FORTIFY_SOURCE=2", "-lgcc_s"} & set(out)
    assert "-s" not in out  # compile only: no link flags
    linked = subprocess.run([str(tmp_path / "cross/bin/cc"), "-shared", "x.o"], capture_output=True, text=True, check=True).stdout.split("\n")
    assert "-s" in linked


def _wheel(path: Path, files: dict[str, bytes], tag: str) -> Path:
    name = "demo"
    wheel = path / f"{name}-1.0-cp311-cp311-{tag}.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for rel, data in files.items():
            zf.writestr(rel, data)
        zf.writestr(f"{name}-1.0.dist-info/WHEEL", f"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp311-cp311-{tag}\n")
        zf.writestr(f"{name}-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n")
        zf.writestr(f"{name}-1.0.dist-info/RECORD", "")
    return wheel


def _host_module(name: str) -> bytes:
    path = Path(sysconfig.get_config_var("DESTSHARED")) / f"{name}{sysconfig.get_config_var('EXT_SUFFIX')}"
    if not path.is_file():
        pytest.skip(f"{path} is not on this host")
    return path.read_bytes()


def test_verify_refuses_a_module_for_another_machine(tmp_path: Path) -> None:
    runtime = _unix_runtime(tmp_path / "rt", AARCH64.triple, "aarch64-linux-gnu")
    wheel = _wheel(tmp_path, {"demo/_fast.cpython-311-aarch64-linux-gnu.so": _host_module("_bisect")}, "linux_aarch64")
    with pytest.raises(BuildError, match=r"demo/_fast.cpython-311-aarch64-linux-gnu.so is ELF x86_64 64-bit, not ELF aarch64 64-bit"):
        verify.verify(wheel, AARCH64, runtime, tmp_path / "out", native_sources=True, allow_pure=False, what="demo 1.0")


def test_verify_refuses_the_silent_pure_python_fallback_unless_allowed(tmp_path: Path) -> None:
    runtime = _unix_runtime(tmp_path / "rt", AARCH64.triple, "aarch64-linux-gnu")
    wheel = _wheel(tmp_path, {"demo/__init__.py": b""}, "linux_aarch64")
    with pytest.raises(BuildError, match="has C/C\\+\\+/Cython sources but the wheel has no extension module"):
        verify.verify(wheel, AARCH64, runtime, tmp_path / "out", native_sources=True, allow_pure=False, what="demo 1.0")
    ok = verify.verify(wheel, AARCH64, runtime, tmp_path / "out", native_sources=True, allow_pure=True, what="demo 1.0")
    assert ok.extensions == ()


def test_verify_audits_and_retags_to_the_floor_the_files_earn(tmp_path: Path) -> None:
    runtime = _unix_runtime(tmp_path / "rt", X86_64.triple, "x86_64-linux-gnu")
    good = _wheel(tmp_path, {"demo/_fast.cpython-311-x86_64-linux-gnu.so": _host_module("_bisect")}, "linux_x86_64")
    checked = verify.verify(good, X86_64, runtime, tmp_path / "out", native_sources=True, allow_pure=False, what="demo 1.0")
    assert checked.path.name == "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    with zipfile.ZipFile(checked.path) as zf:
        assert "Tag: cp311-cp311-manylinux_2_17_x86_64" in zf.read("demo-1.0.dist-info/WHEEL").decode()
        record = zf.read("demo-1.0.dist-info/RECORD").decode()
        so = zf.read("demo/_fast.cpython-311-x86_64-linux-gnu.so")
    import base64

    digest = base64.urlsafe_b64encode(hashlib.sha256(so).digest()).rstrip(b"=").decode()
    assert f"demo/_fast.cpython-311-x86_64-linux-gnu.so,sha256={digest},{len(so)}" in record
    # A module that needs glibc 2.29 (math's log2/exp2 versions) breaks the manylinux_2_17 policy.
    bad = tmp_path / "bad"
    bad.mkdir()
    newer = _wheel(bad, {"demo/_m.cpython-311-x86_64-linux-gnu.so": _host_module("math")}, "linux_x86_64")
    with pytest.raises(BuildError, match=r"demo 1.0: the audit against manylinux_2_17 failed: .*GLIBC_2\.(2[89]|3\d)"):
        verify.verify(newer, X86_64, runtime, tmp_path / "out2", native_sources=True, allow_pure=False, what="demo 1.0")


def test_native_sources_found_outside_tests(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg/__init__.py").write_text("")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests/helper.c").write_text("")
    assert not verify.has_native_sources(tmp_path)
    (tmp_path / "pkg/_speed.pyx").write_text("")
    assert verify.has_native_sources(tmp_path)


def _sdist_bytes() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = b"raise SystemExit('this setup.py must never run')\n"
        info = tarfile.TarInfo("evil-1.0/setup.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_a_tampered_sdist_is_refused_before_anything_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body = _sdist_bytes()
    claimed = hashlib.sha256(body + b"original").hexdigest()  # the index lists another file's hash
    page = {"meta": {"api-version": "1.1"}, "name": "evil", "files": [
        {"filename": "evil-1.0.tar.gz", "url": "/files/evil-1.0.tar.gz", "hashes": {"sha256": claimed}, "requires-python": ">=3.8"},
        {"filename": "evil-0.9.tar.gz", "url": "/files/evil-0.9.tar.gz", "hashes": {"sha256": claimed}, "yanked": "broken"},
    ]}  # fmt: skip
    server = FaultyServer({"/simple/evil/": Route(json.dumps(page).encode()), "/files/evil-1.0.tar.gz": Route(body)})
    httpd, _ = start(server)
    try:
        monkeypatch.setenv("PIP_INDEX_URL", f"{server.url}/simple")
        found = sdist.find("evil", ">=0.5", "3.11.2")
        assert (found.version, found.sha256) == ("1.0", claimed)
        runtime = _unix_runtime(tmp_path / "rt", AARCH64.triple, "aarch64-linux-gnu")
        with pytest.raises(IntegrityError) as e:
            builder.from_sdist(found, builder.Request(AARCH64, runtime, _zig(tmp_path)))
        assert e.value.exit_code == ExitCode.INTEGRITY and "evil 1.0 sdist" in str(e.value)
        assert not builder.log_path("evil", "1.0", AARCH64).exists()  # no build started
    finally:
        httpd.shutdown()


def test_no_sdist_for_the_python_version_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = {"meta": {"api-version": "1.1"}, "name": "old", "files": [
        {"filename": "old-1.0.tar.gz", "url": "old-1.0.tar.gz", "hashes": {"sha256": "0" * 64}, "requires-python": "<3"},
    ]}  # fmt: skip
    server = FaultyServer({"/simple/old/": Route(json.dumps(page).encode())})
    httpd, _ = start(server)
    try:
        monkeypatch.setenv("PIP_INDEX_URL", f"{server.url}/simple")
        with pytest.raises(Exception, match=r"no sdist of old for Python 3.11.2"):
            sdist.find("old", "", "3.11.2")
    finally:
        httpd.shutdown()


def test_every_override_has_a_reason_and_known_keys() -> None:
    table = overrides._table()
    assert table, "overrides.toml is empty"
    for name in table:
        found = overrides.for_package(name, AARCH64.triple)
        assert found is not None and len(found.reason) > 20
    yaml = overrides.for_package("PyYAML", AARCH64.triple)
    assert yaml is not None and "libyaml-dev" in yaml.sysroot_packages


def test_last_error_prefers_the_compiler_line() -> None:
    log = "running build_ext\nfoo.c:3:2: error: no aarch64 support\n1 error generated.\nerror: command 'cc' failed with exit code 1\n"
    assert backend.last_error(log) == "foo.c:3:2: error: no aarch64 support"
    assert backend.last_error("Traceback\nModuleNotFoundError: No module named 'Cython'\n") == "ModuleNotFoundError: No module named 'Cython'"


def test_build_from_source_names_match_canonically() -> None:
    assert plan._wants(["PyYAML"], "pyyaml") and plan._wants([":all:"], "anything") and not plan._wants(["markupsafe"], "pyyaml")
    missing = plan._missing("ERROR: No matching distribution found for brotli>=1.1\n")
    assert missing is not None and (missing.name, str(missing.specifier)) == ("brotli", ">=1.1")


def test_options_reach_the_cross_build_request(tmp_path: Path) -> None:
    from xbuild import config, crossbuild

    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "1.0"\n[project.scripts]\ndemo = "demo:main"\n'
        '[tool.xbuild]\nbuild-from-source = ["PyYAML"]\nsysroot-packages = ["libyaml-dev"]\nallow-pure-fallback = ["Pyrsistent"]\n'
    )
    _, options = config.load(tmp_path, env={}, flags={})
    assert options.build_from_source == ("PyYAML",) and options.sysroot_packages == ("libyaml-dev",)
    runtime = _unix_runtime(tmp_path / "rt", AARCH64.triple, "aarch64-linux-gnu")
    req = crossbuild.request(options, AARCH64, runtime, _zig(tmp_path))
    assert req.sysroot_packages == ("libyaml-dev",) and req.allows_pure("pyrsistent") and not req.allows_pure("markupsafe")
    from .test_config import _flags

    _, flagged = config.load(tmp_path, env={}, flags=_flags("--no-binary", ":all:"))
    assert flagged.build_from_source == (":all:",)
