"""One version vocabulary: pre-releases sort and match like packaging says, legacy names are packaging's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging._manylinux import _LEGACY_MANYLINUX_MAP
from packaging.version import Version

from xbuild import targets, versions

from .conftest import assert_one_line_error, run_xbuild
from .runtime_archives import pins_toml

TRIPLE = "x86_64-unknown-linux-gnu"


def test_prereleases_sort_below_their_release() -> None:
    pins = ["3.15.0", "3.11.16", "3.15.0b1", "3.15.0rc1", "3.9.25"]
    assert sorted(pins, key=versions.python) == ["3.9.25", "3.11.16", "3.15.0b1", "3.15.0rc1", "3.15.0"]


@pytest.mark.parametrize(
    ("version", "wanted", "expected"),
    [
        ("3.11.16", None, True), ("3.11.16", "3.11", True), ("3.11.16", "3.11.16", True), ("3.11.16", "3.1", False),
        ("3.11.16", "3.11.9", False), ("3.15.0b1", "3.15", True), ("3.15.0b1", "3.15.0", True),
        ("3.15.0b1", "3.15.0rc1", False), ("3.15.0rc1", "3.15.0rc1", True), ("3.12.1", "3", True),
    ],
)  # fmt: skip
def test_a_pin_matches_a_requested_python(version: str, wanted: str | None, expected: bool) -> None:
    assert versions.matches(version, wanted) is expected


def test_release_numbers_compare_as_numbers() -> None:
    assert versions.release("2.17") < versions.release("2.28") and versions.release("2.9") < versions.release("2.17")
    assert versions.release("3.4.21") == (3, 4, 21) and versions.release("PRIVATE") == ()


def test_legacy_manylinux_names_are_packagings() -> None:
    assert {(v[0], v[1]): n for v, n in _LEGACY_MANYLINUX_MAP.items()} == versions.LEGACY_MANYLINUX
    for (major, minor), name in versions.LEGACY_MANYLINUX.items():
        assert versions.LEGACY_MANYLINUX_GLIBC[name] == f"{major}.{minor}"


def test_every_glibc_target_accepts_each_legacy_alias_of_a_tag_it_accepts() -> None:
    """A legacy tag is listed right after the manylinux_X_Y tag it aliases, and only for an arch that had it."""
    for target in targets.all_targets():
        if target.libc != "glibc":
            continue
        platforms = target.wheel_platforms()
        for glibc, name in versions.LEGACY_MANYLINUX.items():
            legacy = f"{name}_{target.wheel_arch}"
            modern = f"manylinux_{glibc[0]}_{glibc[1]}_{target.wheel_arch}"
            had_it = glibc >= (2, 17) or target.wheel_arch in ("x86_64", "i686")
            assert (legacy in platforms) == (modern in platforms and had_it), (target.triple, legacy)
            if legacy in platforms:
                assert abs(platforms.index(legacy) - platforms.index(modern)) == 1  # side by side: the same floor


def test_runtime_list_with_a_beta_pin(tmp_path: Path) -> None:
    """A beta pin (3.15.0b1) lists in packaging's order instead of crashing `runtime list`."""
    pins = tmp_path / "pbs.toml"
    rows = [(v, TRIPLE, f"cpython-{v}.tar.gz", f"{i:064x}") for i, v in enumerate(["3.15.0b1", "3.14.2", "3.15.0rc1"])]
    pins.write_text(pins_toml("https://unused.invalid", rows))
    env = {"XBUILD_PBS_PINS": str(pins), "XBUILD_CACHE_DIR": str(tmp_path / "cache")}
    proc = run_xbuild("runtime", "list", "-t", TRIPLE, "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    listed = [r["python"] for r in json.loads(proc.stdout) if r["source"] == "pbs"]
    assert listed == ["3.15.0rc1", "3.15.0b1", "3.14.2"]
    assert [r["python"] for r in json.loads(run_xbuild("runtime", "list", "-t", TRIPLE, "--python", "3.15", "--json", env=env).stdout)
            if r["source"] == "pbs"] == ["3.15.0rc1", "3.15.0b1"]  # fmt: skip
    assert Version(listed[0]).is_prerelease


def test_a_python_that_is_not_a_version_is_one_line(tmp_path: Path) -> None:
    proc = run_xbuild("runtime", "list", "--python", "3.x", env={"XBUILD_CACHE_DIR": str(tmp_path / "cache")})
    assert_one_line_error(proc, "'3.x' is not a Python version", code=2)
