"""The stdlib's bytecode is compiled once per runtime and reused, verified (fast: the host Python compiles)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from xbuild import bytecode, cache

SOURCES = {"os2.py": "X = 1\n", "pkg/__init__.py": "", "pkg/mod.py": "def f():\n    return 2\n", "bad.py": "def (:\n"}


def _stage(root: Path) -> Path:
    folder = root / "runtime" / "lib" / "python3.x"
    for rel, text in SOURCES.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    return folder


def _pycs(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.pyc"))}


def test_stdlib_bytecode_is_reused_only_while_sources_and_cache_match(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    python = Path(sys.executable)
    runtime = SimpleNamespace(root=tmp_path / "the-runtime")
    first = _stage(tmp_path / "a")
    bytecode.compile_stdlib(python, runtime, first, strip=tmp_path / "a", optimize=0)  # type: ignore[arg-type]  # only .root is read
    compiled = _pycs(first)
    assert len(compiled) == 3 and not any("bad" in name for name in compiled)  # bad.py stays source-only

    calls: list[Path] = []
    real = bytecode.compile_tree
    monkeypatch.setattr(bytecode, "compile_tree", lambda py, folder, **kw: (calls.append(folder), real(py, folder, **kw)))
    second = _stage(tmp_path / "b")
    bytecode.compile_stdlib(python, runtime, second, strip=tmp_path / "b", optimize=0)  # type: ignore[arg-type]  # only .root is read
    assert calls == [] and _pycs(second) == compiled  # copied, byte for byte

    third = _stage(tmp_path / "c")
    (third / "pkg/mod.py").write_text("def f():\n    return 3\n")  # a changed source is never served stale bytecode
    bytecode.compile_stdlib(python, runtime, third, strip=tmp_path / "c", optimize=0)  # type: ignore[arg-type]  # only .root is read
    mod = next(name for name in compiled if "/mod." in name)
    assert calls == [third] and _pycs(third)[mod] != compiled[mod]

    (store,) = (cache.root() / "bytecode").iterdir()
    victim = next(store.rglob("mod*.pyc"))
    victim.write_bytes(b"tampered")
    fourth = _stage(tmp_path / "d")
    (fourth / "pkg/mod.py").write_text("def f():\n    return 3\n")
    bytecode.compile_stdlib(python, runtime, fourth, strip=tmp_path / "d", optimize=0)  # type: ignore[arg-type]  # only .root is read
    assert calls == [third, fourth] and b"tampered" not in _pycs(fourth).values()
    shutil.rmtree(cache.root() / "bytecode")
