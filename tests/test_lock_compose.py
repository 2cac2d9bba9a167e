"""How `xbuild lock` composes a PEP 751 lock from per-target resolutions (fast: no index, no build).

The document is read back with packaging.pylock, and each target's selection (PEP 751's
installer algorithm: markers, then wheel tags) must give exactly what was resolved for it.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import pytest
from packaging.pylock import Pylock

from xbuild import targets
from xbuild.errors import LockError
from xbuild.lock import document
from xbuild.lock.create import compose
from xbuild.lock.document import LockedWheel
from xbuild.lock.inputs import LockInputs, after_wheel
from xbuild.resolve import ResolvedWheel, WheelMetadata

LINUX, ARM, WIN, MUSL = "x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu", "x86_64-pc-windows-msvc", "x86_64-unknown-linux-musl"


def _wheel(file: str) -> ResolvedWheel:
    name, version = file.split("-")[:2]
    return ResolvedWheel(name, version, file, hashlib.sha256(file.encode()).hexdigest(), f"https://files.example.invalid/{file}")


def _compose(chosen: dict[str, list[str]]) -> tuple[dict[str, object], Pylock]:
    wheels = {t: [_wheel(f) for f in files] for t, files in chosen.items()}
    sized = {w.sha256: LockedWheel(w.name, w.version, w.file, w.url, w.sha256, 1000) for ws in wheels.values() for w in ws}
    chosen_targets = [targets.get(t) for t in chosen]
    inputs = LockInputs("3.11", ("app-dep",), ">=3.10", ("setuptools>=68",), dict.fromkeys(chosen, "any OS version"))
    doc = compose(wheels, chosen_targets, sized, inputs, dict.fromkeys(chosen, "3.11.9"), [])
    return doc, Pylock.from_dict(tomllib.loads(document.render(doc)))


def _selected(lock: Pylock, triple: str) -> set[str]:
    return {w.file for w in document.select(lock, targets.get(triple), "3.11.9", "2.41", "test lock")}


def test_a_package_only_windows_needs_gets_its_marker_and_only_windows_selects_it() -> None:
    common = {
        LINUX: ["pyyaml-6.0.3-cp311-cp311-manylinux_2_17_x86_64.whl"],
        ARM: ["pyyaml-6.0.3-cp311-cp311-manylinux_2_17_aarch64.whl"],
        WIN: ["pyyaml-6.0.3-cp311-cp311-win_amd64.whl", "colorama-0.4.6-py2.py3-none-any.whl"],
    }
    doc, lock = _compose(common)
    by_name = {p.name: p for p in lock.packages}
    assert by_name["pyyaml"].marker is None and len(by_name["pyyaml"].wheels or []) == 3
    assert str(by_name["colorama"].marker) == 'sys_platform == "win32" and platform_machine == "AMD64"'
    for triple, files in common.items():
        assert _selected(lock, triple) == set(files)
    assert [p.name for p in lock.packages] == ["colorama", "pyyaml"]  # sorted: the same inputs give the same bytes
    assert len(doc["environments"]) == 3  # type: ignore[arg-type]  # the composed document is a plain dict


def test_versions_that_differ_per_machine_are_two_entries_with_markers() -> None:
    chosen = {
        LINUX: ["numpy-2.4.6-cp311-cp311-manylinux_2_28_x86_64.whl"],
        ARM: ["numpy-2.3.0-cp311-cp311-manylinux_2_17_aarch64.whl"],
    }
    _, lock = _compose(chosen)
    assert [(p.name, str(p.version)) for p in lock.packages] == [("numpy", "2.3.0"), ("numpy", "2.4.6")]
    assert all(p.marker is not None for p in lock.packages)
    assert _selected(lock, LINUX) == set(chosen[LINUX]) and _selected(lock, ARM) == set(chosen[ARM])


def test_versions_markers_cannot_tell_apart_are_refused() -> None:
    chosen = {
        LINUX: ["numpy-2.4.6-cp311-cp311-manylinux_2_28_x86_64.whl"],
        MUSL: ["numpy-2.3.0-cp311-cp311-musllinux_1_2_x86_64.whl"],
    }
    with pytest.raises(LockError, match=r"numpy resolves to 2.3.0 and 2.4.6 on targets that PEP 751 markers cannot tell apart"):
        _compose(chosen)


def test_a_changed_dependency_is_named() -> None:
    locked = LockInputs("3.11", ("PyYAML==6.0.3",), ">=3.10", ("setuptools>=68",), {LINUX: "glibc <= 2.41"})
    same = WheelMetadata("app", "1.0", ">=3.10", ("PyYAML==6.0.3",))
    more = WheelMetadata("app", "1.0", ">=3.10", ("PyYAML==6.0.3", "requests>=2"))
    assert after_wheel(locked, same) is None
    assert after_wheel(locked, more) == "the project's dependencies changed (added requests>=2)"


def test_a_lock_that_is_not_pep_751_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "pylock.toml"
    path.write_text('lock-version = "1.0"\ncreated-by = "me"\n[[packages]]\nname = "PyYAML"\n')
    with pytest.raises(LockError, match=r"is not a valid PEP 751 lock .*run `xbuild lock`"):
        document.read(path)


def test_an_existing_lock_keeps_its_versions_unless_upgraded(tmp_path: Path) -> None:
    from xbuild.lock.create import _constraints

    doc, _ = _compose({LINUX: ["pyyaml-6.0.3-cp311-cp311-manylinux_2_17_x86_64.whl"], WIN: ["pyyaml-6.0.3-cp311-cp311-win_amd64.whl", "colorama-0.4.6-py2.py3-none-any.whl"]})
    path = tmp_path / "pylock.toml"
    document.write(path, doc)
    old = document.read(path)
    win, linux = targets.get(WIN), targets.get(LINUX)
    kept = _constraints(old, win, "3.11.9", None, tmp_path)
    assert kept is not None and kept.read_text() == "colorama==0.4.6\npyyaml==6.0.3\n"
    assert _constraints(old, linux, "3.11.2", None, tmp_path).read_text() == "pyyaml==6.0.3\n"  # type: ignore[union-attr]  # kept
    assert _constraints(old, win, "3.11.9", ["PyYAML"], tmp_path).read_text() == "colorama==0.4.6\n"  # type: ignore[union-attr]  # kept
    assert _constraints(old, win, "3.11.9", [], tmp_path) is None  # --upgrade alone: everything moves
