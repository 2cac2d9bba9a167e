"""The wine prefix setup and its stand-in DLLs, without running wine or zig.

What the stand-ins do under wine is in test_wine_apps.py (slow).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from xbuild import doctor, hosttools, runner, winestandins
from xbuild.errors import ToolchainError
from xbuild.toolchain import Zig

WINE = hosttools.find_wine()
BUILTINS = winestandins.builtin_dir(WINE) if WINE else None


def test_table_names_sources_that_exist() -> None:
    items = winestandins.standins()
    assert {s.name for s in items} == {"bcryptprimitives.dll", "ucrtbase.dll", "propsys.dll"}
    for standin in items:
        for source in standin.sources:
            assert (winestandins.source_dir() / source).is_file(), source
        if standin.def_file:
            assert (winestandins.source_dir() / standin.def_file).is_file()
        assert bool(standin.extends) == bool(standin.builtin_copy)


def test_standins_are_not_part_of_what_artifacts_are_made_of() -> None:
    # assemble.py copies the runtime, the app and its wheels; it must never reach winestubs/.
    assemble = (Path(winestandins.__file__).parent / "assemble.py").read_text()
    assert "winestubs" not in assemble and "winestandins" not in assemble


@pytest.mark.skipif(BUILTINS is None, reason="wine's x86_64 builtins not installed")
def test_extending_def_forwards_every_export_but_the_implemented_ones() -> None:
    assert BUILTINS is not None
    ucrt = next(s for s in winestandins.standins() if s.name == "ucrtbase.dll")
    text = winestandins.extending_def(ucrt, BUILTINS / "ucrtbase.dll")
    lines = text.splitlines()
    assert lines[:2] == ["LIBRARY ucrtbase.dll", "EXPORTS"]
    entries = {}
    for line in lines[2:]:
        name, _eq, target, at = line.split()
        entries[name] = (target, at)
    exports = winestandins._exports(BUILTINS / "ucrtbase.dll")
    assert len(entries) == len(exports) > 2000
    for ordinal, export in exports:
        assert export is not None
        assert entries[export] == (f"xb_{export}" if export in ucrt.implements else f"ucrtbase_wine.{export}", f"@{ordinal}")
    assert entries["crealf"][0] == "xb_crealf" and entries["malloc"][0] == "ucrtbase_wine.malloc"


def test_registry_sets_windows_10_and_the_load_order() -> None:
    text = runner._registry_file({"ucrtbase": "native,builtin"})
    assert text.startswith("REGEDIT4\r\n")
    assert '[HKEY_CURRENT_USER\\Software\\Wine]\r\n"Version"="win10"\r\n' in text
    assert '[HKEY_CURRENT_USER\\Software\\Wine\\DllOverrides]\r\n"ucrtbase"="native,builtin"\r\n' in text
    assert winestandins.dll_overrides() == {"ucrtbase": "native,builtin", "propsys": "native,builtin"}


class _FakeWine:
    """Stands in for wine and zig: records the wine commands a prefix setup runs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        self.calls: list[list[str]] = []
        self.key = "k1"
        self.zig_ok = True
        self.tmp = tmp_path
        monkeypatch.setattr(runner, "_wine_step", self._step)
        monkeypatch.setattr(runner, "find_zig", self._find_zig)
        monkeypatch.setattr(winestandins, "build_key", lambda zig, builtins: self.key)
        monkeypatch.setattr(winestandins, "build", self._build)

    def _step(self, wine: Path, env: dict[str, str], args: Sequence[str], what: str) -> None:
        self.calls.append(list(args))
        prefix = Path(env["WINEPREFIX"])
        if args[0] == "wineboot":
            (prefix / "drive_c" / "windows" / "system32").mkdir(parents=True)
            (prefix / "system.reg").write_text("")
        if args[0] == "reg":
            self.imported = (prefix / "drive_c" / "xbuild-prefix.reg").read_text()

    def _find_zig(self) -> Zig:
        if not self.zig_ok:
            raise ToolchainError("zig not found")
        return Zig(Path("/nonexistent/zig"), "0", self.tmp)

    def _build(self, zig: Zig, builtins: Path | None, key: str) -> Path:
        out = self.tmp / "built" / key
        out.mkdir(parents=True, exist_ok=True)
        (out / "bcryptprimitives.dll").write_bytes(f"dll {key}".encode())
        (out / winestandins.MANIFEST).write_text(json.dumps({"key": key, "files": {"bcryptprimitives.dll": "x"}}))
        return out


def _ensure(prefix: Path) -> None:
    runner.ensure_wine_prefix(Path("/usr/bin/false"), {"WINEPREFIX": str(prefix)})


def test_new_prefix_is_created_set_to_windows_10_and_given_the_standins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XBUILD_CACHE_DIR", str(tmp_path / "cache"))
    fake = _FakeWine(monkeypatch, tmp_path)
    prefix = tmp_path / "prefix"
    _ensure(prefix)
    assert fake.calls == [["wineboot", "--init"], ["reg", "import", "C:\\xbuild-prefix.reg"]]
    assert '"Version"="win10"' in fake.imported and '"ucrtbase"="native,builtin"' in fake.imported
    assert (prefix / "drive_c/windows/system32/bcryptprimitives.dll").read_bytes() == b"dll k1"
    marker = json.loads((prefix / runner.PREFIX_MARKER).read_text())
    assert marker == {"setup": runner.PREFIX_SETUP_VERSION, "standins": "k1", "files": ["bcryptprimitives.dll"]}
    assert not (prefix / "drive_c" / "xbuild-prefix.reg").exists()
    _ensure(prefix)
    assert len(fake.calls) == 2, "a prefix that is up to date is left alone"


def test_old_prefix_is_upgraded_once_and_new_sources_reinstalled(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XBUILD_CACHE_DIR", str(tmp_path / "cache"))
    fake = _FakeWine(monkeypatch, tmp_path)
    prefix = tmp_path / "prefix"
    (prefix / "drive_c/windows/system32").mkdir(parents=True)
    (prefix / "system.reg").write_text("")  # made by an xbuild without the setup: no marker
    _ensure(prefix)
    _ensure(prefix)
    assert fake.calls == [["reg", "import", "C:\\xbuild-prefix.reg"]]
    system32 = prefix / "drive_c/windows/system32"
    marker = json.loads((prefix / runner.PREFIX_MARKER).read_text())
    (prefix / runner.PREFIX_MARKER).write_text(json.dumps({**marker, "files": [*marker["files"], "retired.dll"]}))
    (system32 / "retired.dll").write_bytes(b"MZ")  # a stand-in an older xbuild installed
    (system32 / "kernel32.dll").write_bytes(b"MZ")  # wine's own: never touched
    fake.key = "k2"  # the stand-ins' sources changed
    _ensure(prefix)
    _ensure(prefix)
    assert len(fake.calls) == 2
    assert (system32 / "bcryptprimitives.dll").read_bytes() == b"dll k2"
    assert not (system32 / "retired.dll").exists() and (system32 / "kernel32.dll").exists()


def test_without_zig_the_prefix_still_gets_windows_10_and_a_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("XBUILD_CACHE_DIR", str(tmp_path / "cache"))
    fake = _FakeWine(monkeypatch, tmp_path)
    fake.zig_ok = False
    prefix = tmp_path / "prefix"
    with caplog.at_level(logging.WARNING):
        _ensure(prefix)
    assert "wine stand-ins not available" in caplog.text
    assert '"Version"="win10"' in fake.imported and "ucrtbase" not in fake.imported
    assert json.loads((prefix / runner.PREFIX_MARKER).read_text())["standins"] is None


@pytest.mark.skipif(WINE is None, reason="wine64 not installed")
def test_doctor_lists_the_standins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    monkeypatch.setenv("WINEPREFIX", str(prefix))
    checks = {c.name: c for c in doctor.run_checks()}
    for name in winestandins.names():
        assert name in checks and "wine stand-in" in checks[name].detail
        assert f"not in {prefix} yet" in checks[name].detail
    system32 = prefix / "drive_c/windows/system32"
    system32.mkdir(parents=True)
    for name in winestandins.names():
        (system32 / name).write_bytes(b"MZ")
    (prefix / runner.PREFIX_MARKER).write_text(json.dumps({"setup": 1, "standins": "k"}))
    checks = {c.name: c for c in doctor.run_checks()}
    assert all(f"installed in {system32}" in checks[n].detail for n in winestandins.names())


def test_build_key_follows_sources_zig_and_the_extended_builtins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    sources = tmp_path / "winestubs"
    shutil.copytree(winestandins.source_dir(), sources)
    monkeypatch.setattr(winestandins, "source_dir", lambda: sources)
    builtins = tmp_path / "builtins"
    builtins.mkdir()
    (builtins / "ucrtbase.dll").write_bytes(b"wine 8")
    (builtins / "propsys.dll").write_bytes(b"wine 8")
    zig = Zig(Path("/nonexistent/zig"), "0.17.1", tmp_path)
    first = winestandins.build_key(zig, builtins)
    assert winestandins.build_key(zig, builtins) == first
    complex_c = sources / "ucrtbase_complex.c"
    complex_c.write_text(complex_c.read_text() + "\n/* changed */\n")
    second = winestandins.build_key(zig, builtins)
    (builtins / "ucrtbase.dll").write_bytes(b"wine 9")
    third = winestandins.build_key(zig, builtins)
    fourth = winestandins.build_key(Zig(zig.path, "0.18.0", tmp_path), builtins)
    assert len({first, second, third, fourth}) == 4
