"""The target table: names, aliases, floors and wheel tags."""

from __future__ import annotations

import pytest
from packaging.tags import Tag

from xbuild import targets
from xbuild.errors import UnknownTargetError

# The 14 triples python-build-standalone publishes (release 20260814).
PBS_TRIPLES = {
    "aarch64-apple-darwin", "x86_64-apple-darwin",
    "aarch64-unknown-linux-gnu", "aarch64-unknown-linux-musl",
    "armv7-unknown-linux-gnueabi", "armv7-unknown-linux-gnueabihf",
    "ppc64le-unknown-linux-gnu", "riscv64-unknown-linux-gnu", "s390x-unknown-linux-gnu",
    "x86_64-unknown-linux-gnu", "x86_64-unknown-linux-musl",
    "i686-pc-windows-msvc", "x86_64-pc-windows-msvc", "aarch64-pc-windows-msvc",
}  # fmt: skip


def test_table_covers_every_pbs_triple() -> None:
    assert {t.triple for t in targets.all_targets()} == PBS_TRIPLES


def test_names_are_unique_across_triples_and_aliases() -> None:
    names = [n.lower() for t in targets.all_targets() for n in (t.triple, *t.aliases)]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("name", "triple"),
    [
        ("win_amd64", "x86_64-pc-windows-msvc"),
        ("linux-aarch64", "aarch64-unknown-linux-gnu"),
        ("macos-arm64", "aarch64-apple-darwin"),
        ("X86_64-UNKNOWN-LINUX-MUSL", "x86_64-unknown-linux-musl"),
    ],
)
def test_aliases_resolve(name: str, triple: str) -> None:
    assert targets.get(name).triple == triple


def test_unknown_target_lists_close_matches() -> None:
    with pytest.raises(UnknownTargetError) as e:
        targets.get("x86_64-pc-windows")
    assert "unknown target 'x86_64-pc-windows'" in str(e.value)
    assert "x86_64-pc-windows-msvc" in str(e.value)


def test_unknown_target_without_close_match_points_at_the_list() -> None:
    with pytest.raises(UnknownTargetError, match="xbuild targets"):
        targets.get("plan9")


def test_select_all_and_dedup() -> None:
    assert len(targets.select(["all"])) == len(targets.all_targets())
    assert [t.triple for t in targets.select(["win_amd64", "x86_64-pc-windows-msvc"])] == ["x86_64-pc-windows-msvc"]


def test_pinned_floors_in_zig_targets() -> None:
    expected = {
        "x86_64-unknown-linux-gnu": "x86_64-linux-gnu.2.17",
        "aarch64-unknown-linux-gnu": "aarch64-linux-gnu.2.17",
        "armv7-unknown-linux-gnueabihf": "arm-linux-gnueabihf.2.17",
        "s390x-unknown-linux-gnu": "s390x-linux-gnu.2.17",
        "ppc64le-unknown-linux-gnu": "powerpc64le-linux-gnu.2.19",
        "x86_64-apple-darwin": "x86_64-macos.10.15-none",
        "aarch64-apple-darwin": "aarch64-macos.11.0-none",
    }
    for triple, zig_target in expected.items():
        assert targets.get(triple).zig == zig_target


def test_manylinux_platforms_go_up_to_the_floor_least_demanding_first() -> None:
    plats = targets.get("x86_64-unknown-linux-gnu").wheel_platforms()
    assert plats[0] == "manylinux1_x86_64" and plats[-1] == "manylinux_2_17_x86_64"
    assert plats.index("manylinux2010_x86_64") < plats.index("manylinux2014_x86_64")
    assert {"manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "manylinux_2_5_x86_64"} <= set(plats)
    assert "manylinux_2_18_x86_64" not in plats
    aarch64 = targets.get("aarch64-unknown-linux-gnu").wheel_platforms()
    assert "manylinux2014_aarch64" in aarch64 and "manylinux2010_aarch64" not in aarch64
    assert not any(p.startswith("manylinux_2_16") for p in aarch64)  # below 2.17 only x86 has tags


def test_a_newer_ceiling_adds_newer_manylinux_tags_after_older_ones() -> None:
    plats = targets.get("aarch64-unknown-linux-gnu").wheel_platforms("2.28")
    assert plats[0] == "manylinux2014_aarch64" and plats[-1] == "manylinux_2_28_aarch64"
    assert plats.index("manylinux_2_17_aarch64") < plats.index("manylinux_2_27_aarch64") < plats.index("manylinux_2_28_aarch64")
    assert "manylinux_2_29_aarch64" not in plats


def test_other_platform_tags() -> None:
    assert targets.get("x86_64-unknown-linux-musl").wheel_platforms() == ["musllinux_1_1_x86_64", "musllinux_1_2_x86_64"]
    assert targets.get("win32").wheel_platforms() == ["win32"]
    assert targets.get("win_arm64").wheel_platforms() == ["win_arm64"]
    mac = targets.get("macos-arm64").wheel_platforms()
    assert mac[-2:] == ["macosx_11_0_arm64", "macosx_11_0_universal2"] and "macosx_10_9_universal2" in mac
    assert not any(p.startswith("macosx_12") for p in mac)
    newer = targets.get("macos-arm64").wheel_platforms("14.0")
    assert newer.index("macosx_11_0_arm64") < newer.index("macosx_13_0_arm64") < newer.index("macosx_14_0_arm64")


def test_wheel_tags_for_a_python_version() -> None:
    tags = targets.get("win_amd64").wheel_tags("3.11")
    assert tags[0] == Tag("cp311", "cp311", "win_amd64")
    assert Tag("cp38", "abi3", "win_amd64") in tags
    assert Tag("py3", "none", "any") in tags
    assert Tag("cp312", "cp312", "win_amd64") not in tags
    assert all(t.platform in ("win_amd64", "any") for t in tags)
