"""The launcher's compile-time contract: every macro launcher.c uses is defined by launcher.py, once."""

from __future__ import annotations

import re
from pathlib import Path

from xbuild import launcher
from xbuild.launcher import APP_DIR, RUNTIME_DIR, EntryPoint
from xbuild.resources import shipped
from xbuild.runtimes.model import Runtime

SOURCE = shipped("runtime") / "launcher.c"


def _runtime(windows: bool) -> Runtime:
    return Runtime(
        root=Path("/rt"), python="3.11.9", triple="t", source="local", origin="", inputs={}, libc_floor=None,
        include="include", stdlib="Lib" if windows else "lib/python3.11", executable="python.exe",
        libpython=None, import_lib="libs/python311.lib" if windows else None, ext_suffix=".pyd",
    )  # fmt: skip


def _defines(windows: bool) -> dict[str, str]:
    args = launcher._defines(EntryPoint.parse("app", "pkg.cli:App.run"), _runtime(windows))
    found = [re.fullmatch(r'-D(\w+)="(.*)"', a) for a in args]
    return {m[1]: m[2] for m in found if m}


def test_every_macro_the_launcher_uses_is_defined() -> None:
    used = set(re.findall(r"\b(XBUILD_[A-Z_]+)\b", SOURCE.read_text()))
    for windows in (False, True):
        assert set(_defines(windows)) == used
        assert len(_defines(windows)) == len(launcher._defines(EntryPoint.parse("a", "m:f"), _runtime(windows)))


def test_folder_names_come_from_launcher_py_not_from_c_literals() -> None:
    text = SOURCE.read_text()
    assert 'L"runtime"' not in text and 'L"app"' not in text
    defines = _defines(False)
    assert (defines["XBUILD_RUNTIME_DIR"], defines["XBUILD_APP_DIR"]) == (RUNTIME_DIR, APP_DIR)
    assert defines["XBUILD_DYNLOAD"] == "lib/python3.11/lib-dynload" and _defines(True)["XBUILD_DYNLOAD"] == "DLLs"
    assert (defines["XBUILD_ENTRY_MODULE"], defines["XBUILD_ENTRY_HEAD"], defines["XBUILD_ENTRY_TAIL"]) == ("pkg.cli", "App", ".run")
