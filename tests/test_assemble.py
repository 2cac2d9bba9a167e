"""The runtime trim (`assemble.copy_runtime`): what ships, what is dropped, and paths kept exact."""

from __future__ import annotations

import os
from pathlib import Path

from xbuild import assemble, targets
from xbuild.runtimes.model import METADATA, Runtime
from xbuild.runtimes.store import MANIFEST


def _runtime(root: Path) -> Runtime:
    return Runtime(
        root=root, python="3.11.9", triple="x86_64-unknown-linux-gnu", source="local", origin=str(root), inputs={},
        libc_floor=None, include="include/python3.11", stdlib="lib/python3.11", executable="bin/python3.11",
        libpython=None, import_lib=None, ext_suffix=".cpython-311-x86_64-linux-gnu.so",
    )  # fmt: skip


def _tree(root: Path, files: list[str]) -> None:
    for rel in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)


def _shipped(dest: Path) -> set[str]:
    return {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file() or p.is_symlink()}


def test_default_trim_drops_tests_and_keeps_the_stdlib(tmp_path: Path) -> None:
    src = tmp_path / "rt"
    _tree(src, ["bin/python3.11", "lib/python3.11/os.py", "lib/python3.11/test/test_os.py", "lib/libpython3.11.so.1.0", "lib/libpython3.so",
                "lib/python3.11/idlelib/idle.py", "lib/python3.11/json/__init__.py", METADATA, MANIFEST])  # fmt: skip
    patterns = assemble.trim_patterns(targets.get("linux-x86_64"), [])
    assemble.copy_runtime(_runtime(src), tmp_path / "out", patterns, [])
    shipped = _shipped(tmp_path / "out")
    assert {"lib/python3.11/os.py", "lib/python3.11/json/__init__.py", "lib/libpython3.11.so.1.0"} <= shipped
    assert "lib/libpython3.so" not in shipped  # the stable-ABI alias no Linux extension links
    # The launcher embeds CPython: the interpreter binary, tests and IDLE do not ship.
    assert not any(rel.startswith(("bin/", "lib/python3.11/test/", "lib/python3.11/idlelib/")) for rel in shipped)
    assert METADATA not in shipped and MANIFEST not in shipped  # xbuild's own records stay in the cache


def test_include_wins_over_exclude_and_extra_excludes_apply(tmp_path: Path) -> None:
    src = tmp_path / "rt"
    _tree(src, ["lib/python3.11/unittest/case.py", "lib/python3.11/test/support.py", "lib/python3.11/os.py"])
    patterns = assemble.trim_patterns(targets.get("linux-x86_64"), ["*/unittest"])
    assemble.copy_runtime(_runtime(src), tmp_path / "out", patterns, ["lib/python3.11/test"])
    assert _shipped(tmp_path / "out") == {"lib/python3.11/os.py", "lib/python3.11/test/support.py"}


def test_top_level_dot_names_keep_their_dot(tmp_path: Path) -> None:
    """A path is a prefix plus a name: `.foo` at the top stays `.foo` (not `foo`)."""
    src = tmp_path / "rt"
    _tree(src, [".foo", ".hidden/x.txt", "./lib/.keep"])
    os.symlink(".foo", src / ".link")
    assemble.copy_runtime(_runtime(src), tmp_path / "out", [], [])
    assert _shipped(tmp_path / "out") == {".foo", ".hidden/x.txt", "lib/.keep", ".link"}
    assert os.readlink(tmp_path / "out" / ".link") == ".foo"


def test_excluding_a_dot_name_matches_it_exactly(tmp_path: Path) -> None:
    src = tmp_path / "rt"
    _tree(src, [".foo", "foo"])
    assemble.copy_runtime(_runtime(src), tmp_path / "out", ["foo"], [])
    assert _shipped(tmp_path / "out") == {".foo"}
