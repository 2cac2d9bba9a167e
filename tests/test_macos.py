"""macOS artifacts from Linux: x86_64, arm64 and universal2, proven from the files.

macOS cannot run here, so these tests check what a Mac would check before running a
file: each slice's CPU and minimum macOS, every library load resolved through the
launcher's LC_RPATH, and each arm64 code signature's page hashes. The runtime is the
zig-made PBS-shaped fixture (tests/macos_fixture.py) served by the local HTTP server;
PyYAML's wheels are the real ones from PyPI.
"""

from __future__ import annotations

import json
import shutil
import struct
import tarfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from macholib import mach_o
from macholib.MachO import MachO

from xbuild import targets
from xbuild.audit.check import Context, audit, find_binaries
from xbuild.macho import codesign, fat, rpath
from xbuild.toolchain import Zig

from .conftest import REPO, assert_one_line_error, run_xbuild
from .httpserver import FaultyServer, Route, start
from .macos_fixture import DYNLOAD, pbs_macos_archive, pins, source_runtime, tar_members

pytestmark = pytest.mark.slow

THIN = ("x86_64-apple-darwin", "aarch64-apple-darwin")
ALL = (*THIN, "universal2-apple-darwin")
MINIMUM = {"x86_64": (10, 15), "arm64": (11, 0)}
CPU = {0x01000007: "x86_64", 0x0100000C: "arm64"}
EXAMPLE = REPO / "examples" / "yamldigest"


@pytest.fixture(scope="session")
def macos_env(zig: Zig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """XBUILD_PBS_PINS / XBUILD_PBS_MIRROR pointing at the fixture archives on a local server."""
    source = source_runtime()
    archives = {t: pbs_macos_archive(zig, t, source) for t in THIN}
    state = FaultyServer()
    for path in archives.values():
        state.routes[f"/{quote(path.name)}"] = Route(path.read_bytes())  # xbuild asks for the URL-quoted name (+ -> %2B)
    httpd, _ = start(state)
    pin_file = tmp_path_factory.mktemp("pins") / "pbs.toml"
    pin_file.write_text(pins("https://unused.invalid", archives, source.python))
    yield {"XBUILD_PBS_PINS": str(pin_file), "XBUILD_PBS_MIRROR": state.url}
    httpd.shutdown()


@pytest.fixture(scope="session")
def dist(macos_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example app built once for x86_64, arm64 and universal2 macOS."""
    out = tmp_path_factory.mktemp("macos-dist")
    args = [a for t in ALL for a in ("-t", t)]
    proc = run_xbuild("build", str(EXAMPLE), *args, "--source", "pbs", "--python", "3.11", "--output-dir", str(out), env=macos_env)
    assert proc.returncode == 0, proc.stderr
    return out


def _slices(path: Path) -> list[tuple[str, list[tuple[int, object, bytes]], object]]:
    """(cpu name, load commands, header) per slice, read by macholib."""
    return [(CPU[h.header.cputype], h.commands, h) for h in MachO(str(path)).headers]


def _minos(commands: list[tuple[int, object, bytes]]) -> tuple[int, int]:
    """LC_BUILD_VERSION's minos, or LC_VERSION_MIN_MACOSX's version (older linkers, e.g. PyYAML's x86_64 wheel)."""
    for load, command, _ in commands:
        if load.cmd == mach_o.LC_BUILD_VERSION:  # type: ignore[attr-defined]
            packed = command.minos  # type: ignore[attr-defined]
        elif load.cmd == mach_o.LC_VERSION_MIN_MACOSX:  # type: ignore[attr-defined]
            packed = command.version  # type: ignore[attr-defined]
        else:
            continue
        return packed >> 16, (packed >> 8) & 0xFF
    raise AssertionError("no LC_BUILD_VERSION or LC_VERSION_MIN_MACOSX")


def _strings(commands: list[tuple[int, object, bytes]], cmd: int) -> list[str]:
    return [data.rstrip(b"\0").decode() for load, _, data in commands if load.cmd == cmd]  # type: ignore[attr-defined]


def test_fixture_is_shaped_like_pbs(zig: Zig) -> None:
    source = source_runtime()
    for triple in THIN:
        archive = pbs_macos_archive(zig, triple, source)
        assert archive.name == f"cpython-{source.python}+20260814-{triple}-install_only_stripped.tar.gz"
        names = set(tar_members(archive))
        assert {"python/bin/python3.11", "python/lib/libpython3.11.dylib", "python/include/python3.11/Python.h", "python/lib/python3.11/os.py"} <= names
        assert {f"python/lib/python3.11/lib-dynload/{m}.cpython-311-darwin.so" for m in DYNLOAD} <= names


def test_every_artifact_proven_from_its_files(dist: Path) -> None:
    """Done when: launchers' LC_LOAD_DYLIB/LC_RPATH, each slice's minos, every arm64 signature verifies, audit 0."""
    for triple in ALL:
        folder = dist / f"yamldigest-1.0.0-{triple}"
        assert (dist / f"{folder.name}.tar.gz").is_file()
        report = json.loads((folder / "xbuild-audit.json").read_text())
        assert report["violations"] == [], report["violations"]
        wanted = {"x86_64", "arm64"} if triple.startswith("universal2") else {"arm64" if triple.startswith("aarch64") else "x86_64"}
        machos = find_binaries(folder)
        rels = {p.relative_to(folder).as_posix() for p in machos}
        assert {"yamldigest", "runtime/lib/libpython3.11.dylib", "app/yaml/_yaml.cpython-311-darwin.so"} <= rels
        arm64_checked = 0
        for path in machos:
            slices = _slices(path)
            assert {cpu for cpu, _, _ in slices} == wanted, path
            assert fat.is_fat(path.read_bytes()[:8]) == (len(wanted) == 2), path
            for cpu, commands, _ in slices:
                assert _minos(commands) <= MINIMUM[cpu], (path, cpu)
            for thin in fat.slices(path.read_bytes()):
                if fat.cpu_of(thin)[0] == fat.CPU_ARM64:
                    codesign.verify(thin)  # raises with the page that does not match
                    arm64_checked += 1
        launcher = folder / "yamldigest"
        for thin in fat.slices(launcher.read_bytes()):
            codesign.verify(thin)  # zig signed arm64, xbuild signed x86_64
        for _cpu, commands, _ in _slices(launcher):
            assert "@rpath/libpython3.11.dylib" in _strings(commands, mach_o.LC_LOAD_DYLIB)
            assert _strings(commands, mach_o.LC_RPATH) == ["@executable_path/runtime/lib"]
            assert all(n.startswith(("/usr/lib/", "/System/Library/", "@rpath/")) for n in _strings(commands, mach_o.LC_LOAD_DYLIB))
        libpython = folder / "runtime/lib/libpython3.11.dylib"
        for _cpu, commands, _ in _slices(libpython):
            assert _strings(commands, mach_o.LC_ID_DYLIB) == ["@rpath/libpython3.11.dylib"]
        assert arm64_checked >= (len(machos) if "arm64" in wanted else 0)


def _copy(dist: Path, triple: str, tmp_path: Path) -> Path:
    copy = tmp_path / triple
    shutil.copytree(dist / f"yamldigest-1.0.0-{triple}", copy, symlinks=True)
    return copy


def _violations(folder: Path, triple: str) -> list[str]:
    return [v.sentence() for v in audit(folder, Context(targets.get(triple))).violations]


def test_audit_catches_a_binary_edited_after_signing(dist: Path, tmp_path: Path) -> None:
    folder = _copy(dist, "aarch64-apple-darwin", tmp_path)
    launcher = folder / "yamldigest"
    data = bytearray(launcher.read_bytes())
    sig = codesign.read_signature(data)
    assert sig is not None
    at = sig.offset - 1  # the last byte the signature covers: in __LINKEDIT's string table, the file still parses
    data[at] ^= 0xFF
    launcher.write_bytes(data)
    page = sig.directories[0].page_size
    first = at // page * page
    assert _violations(folder, "aarch64-apple-darwin") == [
        f"yamldigest: its aarch64 slice's code signature is not valid (page {at // page} (bytes {first}-{sig.offset - 1}) "
        "does not match its hash: the file was changed after signing): macOS will not run it"
    ]


def test_audit_catches_the_pre_914_absolute_install_name(dist: Path, tmp_path: Path) -> None:
    """A launcher linked against a pre-#914 PBS libpython loads /install/lib/...: absent on every Mac."""
    folder = _copy(dist, "aarch64-apple-darwin", tmp_path)
    launcher = folder / "yamldigest"
    edited = rpath.edit(launcher.read_bytes(), "yamldigest", lambda d: rpath.change_dylib(d, "@rpath/libpython3.11.dylib", "/install/lib/libpython3.11.dylib"))
    launcher.write_bytes(edited)
    codesign.verify(edited)  # re-signed: the only fault left is the load
    assert _violations(folder, "aarch64-apple-darwin") == [
        "yamldigest: needs /install/lib/libpython3.11.dylib, which is neither bundled nor one of the macOS system libraries "
        "(/usr/lib, /System/Library) (aarch64 slice: an absolute path outside /usr/lib and /System/Library)"
    ]
    # What build_launcher does to a launcher linked against such a runtime: load it through @rpath, re-signed.
    assert rpath.load_through_rpath(launcher, "libpython3.11.dylib") is True
    assert rpath.dylib_loads(launcher.read_bytes()) == ["/usr/lib/libSystem.B.dylib", "@rpath/libpython3.11.dylib"]
    codesign.verify(launcher.read_bytes())
    assert _violations(folder, "aarch64-apple-darwin") == []
    assert rpath.load_through_rpath(launcher, "libpython3.11.dylib") is False


def _set_minos(thin: bytes, version: tuple[int, int]) -> bytes:
    out = bytearray(thin)
    ncmds, offset = struct.unpack_from("<I", out, 16)[0], 32
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", out, offset)
        if cmd == mach_o.LC_BUILD_VERSION:
            struct.pack_into("<I", out, offset + 12, version[0] << 16 | version[1] << 8)
        offset += size
    return bytes(out)


def test_audit_catches_arm64_minos_above_the_target(dist: Path, tmp_path: Path) -> None:
    folder = _copy(dist, "aarch64-apple-darwin", tmp_path)
    so = folder / "app/yaml/_yaml.cpython-311-darwin.so"
    so.write_bytes(rpath.edit(so.read_bytes(), "_yaml", lambda d: _set_minos(d, (13, 0))))
    assert _violations(folder, "aarch64-apple-darwin") == [
        "app/yaml/_yaml.cpython-311-darwin.so: requires macOS (aarch64 slice) 13.0, above the target's minimum 11.0"
    ]


def test_audit_catches_an_x86_64_only_wheel_in_universal2(dist: Path, tmp_path: Path) -> None:
    folder = _copy(dist, "universal2-apple-darwin", tmp_path)
    so = folder / "app/yaml/_yaml.cpython-311-darwin.so"
    (x86,) = [t for t in fat.slices(so.read_bytes()) if fat.cpu_of(t)[0] == fat.CPU_X86_64]
    so.write_bytes(x86)
    assert _violations(folder, "universal2-apple-darwin") == [
        "app/yaml/_yaml.cpython-311-darwin.so: built for x86_64, the target is x86_64+aarch64"
    ]


def test_zig_signatures_verify_and_ours_match_them_byte_for_byte(zig: Zig) -> None:
    """Independent check: zig's linker signs arm64 output; re-signing it the way a linker does gives zig's bytes."""
    with tarfile.open(pbs_macos_archive(zig, "aarch64-apple-darwin")) as tar:
        member = tar.extractfile("python/lib/libpython3.11.dylib")
        assert member is not None
        signed = member.read()
    sig = codesign.verify(signed)
    assert sig.directories[0].adhoc and sig.directories[0].identifier == "libpython3.11.dylib"
    assert codesign.sign(signed, "libpython3.11.dylib", page_size=sig.directories[0].page_size, linker_signed=True) == signed
    ours = codesign.sign(signed, "libpython3.11.dylib")  # codesign -s - style: 4 KiB pages, requirements blob
    cd = codesign.verify(ours).directories[0]
    assert (cd.page_size, cd.version, cd.hash_type, cd.flags) == (4096, 0x20400, 2, codesign.CS_ADHOC)


def test_universal2_with_a_thin_only_file_fails_in_one_line(macos_env: dict[str, str], tmp_path: Path, dist: Path) -> None:
    """A project shipping an x86_64-only extension cannot become universal2: one line, nothing written."""
    project = tmp_path / "thinapp"
    (project / "thinapp").mkdir(parents=True)
    (project / "thinapp" / "__init__.py").write_text("def main() -> None:\n    print('hi')\n")
    so = dist / "yamldigest-1.0.0-x86_64-apple-darwin/app/yaml/_yaml.cpython-311-darwin.so"
    shutil.copy(so, project / "thinapp" / "_thin.cpython-311-darwin.so")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "thinapp"\nversion = "1.0"\n[project.scripts]\nthinapp = "thinapp:main"\n'
        '[tool.setuptools.package-data]\nthinapp = ["*.so"]\n'
    )
    out = tmp_path / "out"
    proc = run_xbuild("-q", "build", str(project), "-t", "universal2", "--source", "pbs", "--python", "3.11", "--output-dir", str(out), env=macos_env)
    assert_one_line_error(proc, "thinapp/_thin.cpython-311-darwin.so has no aarch64 code", "thin-only")
    assert not out.exists() or not list(out.iterdir())


def test_cli_audit_of_the_universal2_folder_judges_each_slice_by_its_own_minimum(dist: Path) -> None:
    folder = dist / "yamldigest-1.0.0-universal2-apple-darwin"
    proc = run_xbuild("audit", str(folder), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["policy"] == "macos_x86_64_10_15_aarch64_11_0" and report["violations"] == []
