"""From-source CPython runtimes, built for real and run: x86_64 glibc 2.17, static x86_64 musl, aarch64 under qemu.

Slow: a cold build compiles CPython and eleven C libraries with zig (several minutes
per target on 2 cores). Builds are published in the shared cache (~/.cache/xbuild)
under a key of (source lock, recipes, zig, target), so later runs reuse them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

from xbuild import targets
from xbuild.audit.inputs import audit_path
from xbuild.cpython import runtime as built
from xbuild.cpython import sources
from xbuild.runtimes import debian as debian_runtime
from xbuild.runtimes.model import Runtime
from xbuild.runtimes.store import verify

from .conftest import DATA

pytestmark = pytest.mark.slow

SMOKE = (DATA / "cpython_smoke.py").read_text()
# glibc's own libraries (and, for bin/python3.13, its libpython)
GLIBC_LIBS = {"libpython3.13.so.1.0", "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"}


def _runtime(triple: str) -> Runtime:
    return built.build_runtime(targets.get(triple))


@pytest.fixture(scope="module")
def gnu() -> Runtime:
    return _runtime("x86_64-unknown-linux-gnu")


@pytest.fixture(scope="module")
def musl() -> Runtime:
    return _runtime("x86_64-unknown-linux-musl")


@pytest.fixture(scope="module")
def arm64() -> Runtime:
    return _runtime("aarch64-unknown-linux-gnu")


def _elf(path: Path) -> ELFFile:
    return ELFFile(path.open("rb"))


def _needed(path: Path) -> set[str]:
    dynamic = _elf(path).get_section_by_name(".dynamic")
    if not isinstance(dynamic, DynamicSection):
        return set()
    return {tag.needed for tag in dynamic.iter_tags() if tag.entry.d_tag == "DT_NEEDED"}


def _glibc_versions(path: Path) -> set[str]:
    section = _elf(path).get_section_by_name(".gnu.version_r")
    if not isinstance(section, GNUVerNeedSection):
        return set()
    return {aux.name for _, auxes in section.iter_versions() for aux in auxes if aux.name.startswith("GLIBC_")}


def _smoke(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, object]:
    proc = subprocess.run([*cmd, "-I", "-c", SMOKE], capture_output=True, text=True, timeout=300, env={"TERM": "xterm", **(env or {})})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def _check_smoke(facts: dict[str, object], lock_version: str) -> None:
    lock = sources.load_lock()
    assert facts["version"] == lock_version
    assert f"OpenSSL {lock.packages['openssl'].upstream_version}" in str(facts["openssl"])
    assert facts["sqlite"] == [lock.packages["sqlite"].upstream_version, 1]
    assert facts["ctypes_callback"] == 42
    assert facts["compression"] == [True, True, True]
    assert facts["json"] == {"a": [1, 2.5, None]}
    assert facts["decimal"] == ["0.1428571428571428571428571429", lock.packages["mpdecimal"].upstream_version]
    assert facts["sha3_256"] == "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"
    assert facts["uuid"] == [1, 4, True]
    assert facts["expat"] == f"expat_{lock.packages['expat'].upstream_version}"
    assert facts["readline"] == "editline"
    assert facts["terminfo_clear"] is True
    assert facts["computed_gotos"] == 1
    assert str(facts["cc"]).split()[0] == "cc" and facts["build_paths"] == []


def test_x86_64_gnu_runs_every_linked_library(gnu: Runtime) -> None:
    facts = _smoke([str(gnu.path(gnu.executable))])
    _check_smoke(facts, gnu.python)
    assert facts["qsort"] == [1, 2, 3, 4, 5]
    assert facts["log2"] == -1065.0  # glibc's libm, not zig's compiler-rt (musl uses zig's math by design)


def test_x86_64_gnu_needs_glibc_2_17_and_nothing_but_glibc(gnu: Runtime) -> None:
    assert gnu.libc_floor == "2.17" and gnu.source == "source"
    assert gnu.libpython == "lib/libpython3.13.so"
    for rel in (gnu.executable, "lib/libpython3.13.so.1.0"):
        path = gnu.path(rel)
        assert _needed(path) <= GLIBC_LIBS, (rel, _needed(path))
        versions = _glibc_versions(path)
        assert versions and all(tuple(int(p) for p in v[6:].split(".")) <= (2, 17) for v in versions), versions
    # libm's functions come from glibc, bound to its base version, not zig's compiler-rt copies.
    libpython = _elf(gnu.path("lib/libpython3.13.so.1.0"))
    dynsym = libpython.get_section_by_name(".dynsym")
    undefined = {s.name for s in dynsym.iter_symbols() if s["st_shndx"] == "SHN_UNDEF"}
    assert {"log2", "fma", "exp", "sqrt"} <= undefined


def test_x86_64_gnu_exports_no_dependency_symbols(gnu: Runtime) -> None:
    """libpython exports CPython's C API and nothing of the C libraries linked into it."""
    dynsym = _elf(gnu.path("lib/libpython3.13.so.1.0")).get_section_by_name(".dynsym")
    exported = {s.name for s in dynsym.iter_symbols() if s["st_shndx"] != "SHN_UNDEF" and s.name}
    assert {"Py_BytesMain", "PyInit__ssl", "_PyRuntime", "PyUnicode_FromString"} <= exported
    assert {s for s in exported if not s.startswith(("Py", "_Py", "PY_"))} == set()
    # ...and the C API is still found by name at run time (ctypes.pythonapi: dlsym).
    code = "import ctypes; f = ctypes.pythonapi.Py_GetVersion; f.restype = ctypes.c_char_p; print(f().decode())"
    proc = subprocess.run([str(gnu.path(gnu.executable)), "-I", "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith(gnu.python), proc.stderr


def test_x86_64_gnu_finds_its_stdlib_whatever_argv0_says(gnu: Runtime, tmp_path: Path) -> None:
    """A child started as subprocess.run([name], executable=sys.executable) with a name found
    nowhere still finds lib/python3.13 (the compiled-in prefix /install exists nowhere)."""
    exe = gnu.path(gnu.executable)
    code = "import sys, encodings; print(sys.prefix)"
    proc = subprocess.run(["no-such-python", "-I", "-c", code], executable=exe, capture_output=True, text=True, timeout=60, cwd=tmp_path, env={})
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()).resolve() == gnu.root.resolve()


def test_x86_64_gnu_layout_licences_static_lib_and_build_info(gnu: Runtime) -> None:
    root = gnu.root
    assert (root / "lib" / "libpython3.13.a").stat().st_size > 1_000_000
    assert (root / "bin" / "python3").resolve() == (root / "bin" / "python3.13").resolve()
    licences = {p.parent.name for p in (root / "share" / "licenses").glob("*/*")}
    assert licences == {*built.dependencies(), "cpython"}
    info = json.loads((root / built.BUILD_INFO).read_text())
    lock = sources.load_lock()
    assert info["zig"] == "0.17.1" and info["sources_lock"] == sources.lock_digest(lock)
    assert {n: s["sha256"] for n, s in info["sources"].items()} == {n: p.orig.sha256 for n, p in lock.packages.items()}
    assert "-Wno-date-time" in info["flags"]["cpython"]["CFLAGS"]
    assert not list(root.glob("lib/python3.13/lib-dynload/*.so")), "every stdlib extension module is built in"
    assert verify(gnu) == []


def _testsuite() -> dict[str, object]:
    return tomllib.loads((DATA / "cpython-testsuite.toml").read_text())


def _with_test_package(runtime: Runtime, tmp_path: Path) -> Path:
    """A copy of the runtime with CPython's own Lib/test (from the pinned source tarball) in
    its stdlib, as in a full install: child interpreters started with -I or without
    PYTHONPATH import `test` too. Returns the copy's root."""
    root = tmp_path / "runtime"
    shutil.copytree(runtime.root, root, symlinks=True, ignore=shutil.ignore_patterns("libpython*.a"))
    stdlib = root / runtime.stdlib
    tarball = sources.fetch(sources.load_lock(), "cpython")
    with tarfile.open(tarball) as tar:
        members = [m for m in tar.getmembers() if "/Lib/test/" in m.name]
        for member in members:
            member.name = member.name.split("/Lib/", 1)[1]
        tar.extractall(stdlib, members=members, filter="data")
    return root


def _run_testsuite(cmd: list[str], tmp_path: Path, *, jobs: int = 2, timeout: int = 1800, ignore: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    suite = _testsuite()
    env = {"TERM": "xterm", "HOME": str(tmp_path), "LANG": "C.UTF-8", "PATH": os.environ["PATH"]}
    ignored = [arg for test in [*suite["ignored"], *ignore] for arg in ("-i", test)]  # type: ignore[misc]
    argv = [*cmd, "-m", "test", *([f"-j{jobs}"] if jobs > 1 else []), "--timeout", "600", *ignored, *suite["tests"]]  # type: ignore[misc]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp_path)


def _failed_modules(output: str) -> set[str]:
    """The modules regrtest lists under "N tests failed:" (or "1 test failed:")."""
    import re

    match = re.search(r"\d+ tests? failed:\n((?:[ \t]+\S.*\n)+)", output)
    return set(match.group(1).split()) if match else set()


def test_x86_64_gnu_passes_cpython_test_subset(gnu: Runtime, tmp_path: Path) -> None:
    root = _with_test_package(gnu, tmp_path)
    proc = _run_testsuite([str(root / gnu.executable)], tmp_path)
    known = set(_testsuite()["known_failures"].get(gnu.triple, {}))  # type: ignore[attr-defined]
    assert _failed_modules(proc.stdout) == known, proc.stdout[-3000:]
    assert "test_math" not in known and "Total test files" in proc.stdout
    assert "Result: SUCCESS" in proc.stdout or known


def test_x86_64_musl_is_fully_static_and_runs_with_no_libc(musl: Runtime, tmp_path: Path) -> None:
    exe = musl.path(musl.executable)
    elf = _elf(exe)
    assert not any(seg["p_type"] == "PT_INTERP" for seg in elf.iter_segments())
    assert _needed(exe) == set()
    assert musl.libpython is None and (musl.root / "lib" / "libpython3.13.a").is_file()
    _check_smoke(_smoke([str(exe)]), musl.python)
    # In a mount namespace whose root holds only the runtime: no loader, no libc anywhere.
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    jail = tmp_path / "jail"
    shutil.copytree(musl.root, jail / "python", symlinks=True)
    proc = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "chroot", str(jail), "/python/bin/python3", "-I", "-c",
         "import sys, os, ssl, sqlite3; print(sys.version_info[:2], os.listdir('/'), ssl.OPENSSL_VERSION.split()[0])"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if proc.returncode != 0 and "Operation not permitted" in proc.stderr:
        pytest.skip(f"user namespaces are not available here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "(3, 13) ['python'] OpenSSL"


@pytest.mark.qemu
def test_aarch64_gnu_runs_under_qemu_with_glibc_2_17_floor(arm64: Runtime) -> None:
    assert arm64.libc_floor == "2.17"
    for rel in (arm64.executable, "lib/libpython3.13.so.1.0"):
        assert _needed(arm64.path(rel)) <= GLIBC_LIBS
    libc = debian_runtime.libc_root(targets.get("aarch64-unknown-linux-gnu"))
    facts = _smoke(["qemu-aarch64", "-L", str(libc), str(arm64.path(arm64.executable))])
    _check_smoke(facts, arm64.python)
    assert facts["qsort"] == [1, 2, 3, 4, 5] and facts["log2"] == -1065.0


QEMU_WRAPPER = """#!{host_python} -I
# Written by the test: runs the aarch64 interpreter next to it under qemu-user, with argv[0]
# naming this file so sys.executable does too and child interpreters come back here. In
# Python, not sh: dash drops environment variables whose names are not shell identifiers.
import os, sys
here = os.path.dirname(os.path.abspath(__file__))
env = dict(os.environ, QEMU_LD_PREFIX={libc!r})
os.execvpe("qemu-aarch64", ["qemu-aarch64", "-0", os.path.abspath(__file__), os.path.join(here, {exe!r}), *sys.argv[1:]], env)
"""


@pytest.mark.qemu
@pytest.mark.extended
def test_aarch64_gnu_passes_cpython_test_subset_under_qemu(arm64: Runtime, tmp_path: Path) -> None:
    """The same subset under qemu-aarch64 with the target's Debian libc. There is no
    binfmt_misc to rely on, so bin/python3-qemu (a host script) starts qemu with argv[0]
    set to itself: sys.executable names it, and every child interpreter a test starts runs
    under qemu too (QEMU_LD_PREFIX: also when a test execs the binary itself)."""
    root = _with_test_package(arm64, tmp_path)
    libc = debian_runtime.libc_root(targets.get(arm64.triple))
    wrapper = root / "bin" / "python3-qemu"
    wrapper.write_text(QEMU_WRAPPER.format(host_python=sys.executable, libc=str(libc), exe=f"python{arm64.minor}"))
    wrapper.chmod(0o755)
    suite = _testsuite()
    proc = _run_testsuite([str(wrapper)], tmp_path, timeout=3600, ignore=tuple(suite["qemu_ignored"]))  # type: ignore[arg-type]
    known = set(suite["known_failures"].get(arm64.triple, {}))  # type: ignore[attr-defined]
    assert _failed_modules(proc.stdout) == known, proc.stdout[-3000:]
    assert "Total test files" in proc.stdout


@pytest.mark.qemu
def test_aarch64_musl_is_static_and_runs_under_qemu_without_a_libc_root() -> None:
    """Not built by the test suite (a cold build costs half an hour): checked when
    `xbuild runtime build -t aarch64-unknown-linux-musl --python 3.13` (or
    bench/runtime_builds.py) has published it in this cache, skipped otherwise."""
    runtime = built.published_runtime(targets.get("aarch64-unknown-linux-musl"))
    if runtime is None:
        pytest.skip("the aarch64-unknown-linux-musl source runtime is not in this cache (not built by CI: too costly)")
    exe = runtime.path(runtime.executable)
    assert not any(seg["p_type"] == "PT_INTERP" for seg in _elf(exe).iter_segments())
    assert _needed(exe) == set()
    _check_smoke(_smoke(["qemu-aarch64", str(exe)]), runtime.python)


# The other glibc targets: built (each costs 10-20 min cold) and run only with `-m extended`.
CROSS_FLOORS = {"s390x-unknown-linux-gnu": "2.17", "armv7-unknown-linux-gnueabihf": "2.17", "ppc64le-unknown-linux-gnu": "2.19"}


@pytest.mark.qemu
@pytest.mark.extended
@pytest.mark.parametrize("triple", sorted(CROSS_FLOORS))
def test_cross_gnu_runtime_runs_under_qemu_and_audits_clean(triple: str) -> None:
    """Every linked library exercised under qemu-user with the target's Debian libc
    (s390x: big-endian), and the runtime audited against its own target's policy."""
    target = targets.get(triple)
    runtime = _runtime(triple)
    assert runtime.libc_floor is not None and tuple(map(int, runtime.libc_floor.split("."))) <= tuple(map(int, CROSS_FLOORS[triple].split(".")))
    result = audit_path(runtime.root, target)
    assert [v.sentence() for v in result.violations] == []
    libc = debian_runtime.libc_root(target)
    assert target.qemu
    facts = _smoke([target.qemu, "-L", str(libc), str(runtime.path(runtime.executable))])
    _check_smoke(facts, runtime.python)
    assert facts["qsort"] == [1, 2, 3, 4, 5] and facts["log2"] == -1065.0


@pytest.mark.extended
def test_riscv64_gnu_runtime_builds_and_audits_clean_at_glibc_2_27() -> None:
    """riscv64 (its glibc port begins at 2.27) is built and audited against its own policy;
    xbuild pins no Debian riscv64 libc, so it is not run under qemu here."""
    target = targets.get("riscv64-unknown-linux-gnu")
    runtime = _runtime(target.triple)
    assert runtime.libc_floor is not None and tuple(map(int, runtime.libc_floor.split("."))) <= (2, 27)
    assert [v.sentence() for v in audit_path(runtime.root, target).violations] == []
    assert runtime.libpython is not None
    for binary in (runtime.path(runtime.executable), runtime.path(runtime.libpython)):
        assert _elf(binary)["e_machine"] == "EM_RISCV"
        assert max(tuple(map(int, v.removeprefix("GLIBC_").split("."))) for v in _glibc_versions(binary)) <= (2, 27)


def test_windows_bytecode_needs_no_installed_python(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A fresh machine has no python3.13 (CI's has Debian's 3.11 only): the bytecode of a
    Windows 3.13 artifact is compiled by this host's CPython 3.13 built from the source lock."""
    from xbuild import bytecode, cache

    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    if shutil.which("python3.13"):
        pytest.skip("/usr/bin has a python3.13: the fallback is not reached")
    windows = targets.get("x86_64-pc-windows-msvc")
    runtime = Runtime(tmp_path / "runtime", "3.13.2", windows.triple, "pypi", "", {}, None, "include", "Lib", "python.exe", "python313.dll", None, ".cp313-win_amd64.pyd")
    python = bytecode.host_python("3.13", runtime, windows)
    assert python.resolve().is_relative_to(cache.root().resolve()), python
    app = tmp_path / "app"
    app.mkdir()
    (app / "hello.py").write_text("print('hello')\n")
    bytecode.compile_tree(python, app, strip=tmp_path, optimize=0)
    assert (app / "__pycache__" / "hello.cpython-313.pyc").is_file()
