"""zig cc really compiles and links for every target, and what it emits runs.

Slow on a cold cache: zig builds musl and MinGW libc on first use per target.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from xbuild import hosttools, runner, targets
from xbuild.binfile import BinaryKind, identify
from xbuild.errors import CompileError
from xbuild.targets import Target
from xbuild.toolchain import OPT_LEVEL, Zig, write_wrappers

from .conftest import DATA, run_xbuild

pytestmark = pytest.mark.slow

ALL = [t for t in targets.all_targets() if not t.parts]  # universal2 is compiled per part, see test_macos.py


@pytest.fixture(scope="module")
def hello_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hello")


def _hello(zig: Zig, target: Target, out_dir: Path) -> Path:
    out = out_dir / f"hello-{target.triple}{target.exe_suffix}"
    if not out.exists():
        zig.run(zig.cc(target, [OPT_LEVEL, "-o", str(out), str(DATA / "hello.c")]), what=f"hello for {target.triple}")
    return out


@pytest.mark.parametrize("target", ALL, ids=lambda t: t.triple)
def test_compiles_and_links_for_every_target(zig: Zig, target: Target, hello_dir: Path) -> None:
    exe = _hello(zig, target, hello_dir)
    assert identify(exe) == [BinaryKind(target.format, target.machine, target.bits)]


def _max_glibc_needed(path: Path) -> tuple[int, ...]:
    with path.open("rb") as f:
        section = ELFFile(f).get_section_by_name(".gnu.version_r")
        versions = [
            tuple(int(p) for p in aux.name.removeprefix("GLIBC_").split("."))
            for _lib, auxes in section.iter_versions()
            for aux in auxes
            if aux.name.startswith("GLIBC_")
        ]
    return max(versions)


@pytest.mark.parametrize("target", [t for t in ALL if t.libc == "glibc"], ids=lambda t: t.triple)
def test_glibc_floor_is_honoured(zig: Zig, target: Target, hello_dir: Path) -> None:
    exe = _hello(zig, target, hello_dir)
    assert target.floor_tuple is not None
    assert _max_glibc_needed(exe) <= target.floor_tuple


@pytest.mark.parametrize("name", ["x86_64-unknown-linux-gnu", "x86_64-unknown-linux-musl"])
def test_runs_natively(zig: Zig, name: str, hello_dir: Path) -> None:
    target = targets.get(name)
    proc = runner.run(target, [str(_hello(zig, target, hello_dir)), "native"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hello from a 64-bit program, arg=native\n"


@pytest.mark.qemu
def test_static_aarch64_musl_runs_under_qemu(zig: Zig, hello_dir: Path) -> None:
    target = targets.get("aarch64-unknown-linux-musl")
    assert runner.invocation(target, ["x"]).how == "qemu"
    proc = runner.run(target, [str(_hello(zig, target, hello_dir)), "qemu"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hello from a 64-bit program, arg=qemu\n"


@pytest.mark.wine
def test_windows_x86_64_runs_under_wine(zig: Zig, hello_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    target = targets.get("x86_64-pc-windows-msvc")
    assert hosttools.find_wine() is not None, "wine64 is not installed (apt-get install wine64)"
    prefix = tmp_path_factory.mktemp("wineprefix")
    proc = runner.run(target, [str(_hello(zig, target, hello_dir)), "wine"], extra_env={"WINEPREFIX": str(prefix)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.replace("\r\n", "\n") == "hello from a 64-bit program, arg=wine\n"


def test_compile_error_names_the_problem(zig: Zig, tmp_path: Path) -> None:
    bad = tmp_path / "bad.c"
    bad.write_text("int main(void) { return undefined_thing; }\n")
    with pytest.raises(CompileError) as e:
        zig.run(zig.cc(targets.get("linux-x86_64"), ["-c", str(bad), "-o", str(tmp_path / "bad.o")]), what="bad.c")
    assert "bad.c failed" in str(e.value) and "undefined_thing" in str(e.value)


def test_wrappers_scrub_the_host_environment(zig: Zig, tmp_path: Path) -> None:
    target = targets.get("aarch64-unknown-linux-gnu")
    wrappers = write_wrappers(zig, target, tmp_path / "bin")
    assert {"cc", "c++", "ar", "ranlib", "rc"} <= set(wrappers)
    # A host CPATH whose stdio.h breaks any compile that honours it; a source of its
    # own so zig's cache cannot answer for it.
    poison = tmp_path / "poison"
    poison.mkdir()
    (poison / "stdio.h").write_text('#error "host CPATH leaked into the cross compile"\n')
    source = tmp_path / "hello.c"
    source.write_text(f"/* {tmp_path} */\n" + (DATA / "hello.c").read_text())
    env = {**os.environ, "CPATH": str(poison)}

    unscrubbed = subprocess.run([*zig.cc(target), "-c", "-o", str(tmp_path / "x.o"), str(source)], env=env, capture_output=True, text=True)
    assert unscrubbed.returncode != 0 and "leaked" in unscrubbed.stderr

    out = tmp_path / "hello"
    proc = subprocess.run([str(wrappers["cc"]), "-O2", "-o", str(out), str(source)], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert identify(out) == [BinaryKind("elf", "aarch64", 64)]


def test_windows_wrappers_include_dlltool(zig: Zig, tmp_path: Path) -> None:
    target = targets.get("win_amd64")
    wrappers = write_wrappers(zig, target, tmp_path)
    assert "-m i386:x86-64" in wrappers["dlltool"].read_text()


def test_xbuild_cc_passes_arguments_through(tmp_path: Path) -> None:
    out = tmp_path / "hello.exe"
    proc = run_xbuild("cc", "-t", "win_amd64", "--", "-O2", "-o", str(out), str(DATA / "hello.c"))
    assert proc.returncode == 0, proc.stderr
    assert identify(out) == [BinaryKind("pe", "x86_64", 64)]
