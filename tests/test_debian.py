"""Debian, without the network: dependency resolution on a small Packages index, the runtime layout from data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from xbuild import debian, targets, versions
from xbuild.errors import DebianError
from xbuild.resources import load_toml, shipped
from xbuild.runtimes import debian as debian_runtime

INDEX = """\
Package: app
Version: 1.0
Pre-Depends: libc6 (>= 2.36)
Depends: libssl3 (>= 3.0), python3.11-minimal | python3-minimal, mail-transport-agent, zlib1g

Package: libc6
Version: 2.36-9
Depends: libgcc-s1

Package: libgcc-s1
Version: 12.2.0-14
Depends: gcc-12-base (= 12.2.0-14), libc6 (>= 2.35)

Package: gcc-12-base
Version: 12.2.0-14

Package: libssl3
Version: 3.0.17-1
Depends: libc6 (>= 2.34)

Package: python3-minimal
Version: 3.11.2-1

Package: exim4-daemon-light
Version: 4.96-15
Provides: mail-transport-agent, exim4-localscanapi-6.0

Package: zlib1g
Version: 1:1.2.13.dfsg-1
Depends: libc6 (>= 2.14)

Package: unrelated
Version: 1
Depends: nothing-has-this
"""


def _names(packages: list[Any]) -> list[str]:
    return [p["Package"] for p in packages]


def test_resolve_follows_depends_alternatives_and_provides() -> None:
    resolved = _names(debian.resolve(debian.Index(INDEX), ["app"]))
    # python3.11-minimal is not in the index: the alternative is taken; the virtual package by its provider.
    assert resolved == ["app", "exim4-daemon-light", "gcc-12-base", "libc6", "libgcc-s1", "libssl3", "python3-minimal", "zlib1g"]


def test_resolve_leaves_out_the_excluded_and_what_only_they_need() -> None:
    resolved = _names(debian.resolve(debian.Index(INDEX), ["app"], exclude=["libc6", "mail-transport-agent"]))
    assert resolved == ["app", "libssl3", "python3-minimal", "zlib1g"]


def test_missing_root_or_dependency_is_named() -> None:
    with pytest.raises(DebianError, match="package 'nosuch' is not in the index"):
        debian.resolve(debian.Index(INDEX), ["nosuch"])
    with pytest.raises(DebianError, match="unrelated depends on nothing-has-this, which the index does not have"):
        debian.resolve(debian.Index(INDEX), ["unrelated"])


def _debian_tree(fs: Path, python: str, triplet: str) -> None:
    files = [
        f"usr/lib/{python}/os.py", f"usr/lib/{python}/lib-dynload/_ssl.cpython-311-{triplet}.so",
        f"usr/lib/{triplet}/lib{python}.so.1.0", f"lib/{triplet}/libz.so.1.2.13", f"usr/lib/{triplet}/libz.a",
        f"usr/include/{python}/Python.h", f"usr/include/{python}/pyconfig.h", f"usr/include/{triplet}/{python}/pyconfig.h",
    ]  # fmt: skip
    for rel in files:
        (fs / rel).parent.mkdir(parents=True, exist_ok=True)
        (fs / rel).write_text(rel)
    (fs / f"usr/lib/{triplet}/lib{python}.so").symlink_to(f"lib{python}.so.1.0")
    (fs / f"lib/{triplet}/libz.so.1").symlink_to("libz.so.1.2.13")
    (fs / f"usr/lib/{triplet}/libgone.so").symlink_to("libgone.so.9")  # dangling: dropped


def test_the_runtime_layout_comes_from_debian_toml(tmp_path: Path) -> None:
    python = f"python{load_toml(shipped('toolchains') / 'debian.toml')['python']}"
    _debian_tree(tmp_path / "fs", python, "aarch64-linux-gnu")
    root = debian_runtime._assemble(tmp_path / "fs", tmp_path / "python")
    found = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() or p.is_symlink()}
    assert found == {
        f"lib/{python}/os.py", f"lib/{python}/lib-dynload/_ssl.cpython-311-aarch64-linux-gnu.so",
        f"lib/lib{python}.so.1.0", f"lib/lib{python}.so", "lib/libz.so.1.2.13", "lib/libz.so.1",
        f"include/{python}/Python.h", f"include/{python}/pyconfig.h",
    }  # fmt: skip
    assert (root / f"include/{python}/pyconfig.h").read_text() == f"usr/include/aarch64-linux-gnu/{python}/pyconfig.h"


def test_another_python_version_is_a_data_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recipe = {**debian_runtime._recipe(), "python": "3.13"}
    monkeypatch.setattr(debian_runtime, "_recipe", lambda: recipe)
    debian_runtime._layout.cache_clear()
    try:
        _debian_tree(tmp_path / "fs", "python3.13", "s390x-linux-gnu")
        root = debian_runtime._assemble(tmp_path / "fs", tmp_path / "python")
        assert (root / "lib/python3.13/os.py").is_file() and (root / "include/python3.13/Python.h").is_file()
        assert (root / "lib/libpython3.13.so").is_symlink()
        assert debian_runtime._layout().libpython_package == "libpython3.13"
    finally:
        debian_runtime._layout.cache_clear()


def test_offers_are_the_locked_python_of_the_configured_version() -> None:
    wanted = load_toml(shipped("toolchains") / "debian.toml")["python"]
    offers = debian_runtime.offers(targets.get("linux-aarch64"))
    assert len(offers) == 1 and versions.matches(offers[0].python, wanted)
    assert debian_runtime.offers(targets.get("win_amd64")) == []
