"""The target table: names, aliases, floors and wheel tags."""

from __future__ import annotations

import platform

import pytest
from packaging.tags import Tag

from xbuild import targets
from xbuild.errors import UnknownTargetError
from xbuild.resources import load_toml, shipped


def test_table_covers_every_pbs_triple() -> None:
    """Every triple python-build-standalone is pinned for is a target, and every target has pbs pins."""
    pinned = {a["triple"] for a in load_toml(shipped("toolchains") / "pbs.toml")["archive"]}
    assert {t.triple for t in targets.all_targets() if not t.parts} == pinned


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


@pytest.mark.parametrize("target", targets.all_targets(), ids=lambda t: t.triple)
def test_zig_targets_pin_the_floor(target: targets.Target) -> None:
    """zig builds against exactly the floor the target promises: glibc and macOS versions are in zig's target."""
    if target.libc == "glibc":
        assert target.zig.endswith(f"-linux-{target.triple.rsplit('-', 1)[1]}.{target.floor}")
    elif target.os == "macos":
        assert target.zig.endswith(f"-macos.{target.floor}-none")
    elif target.libc == "musl":
        assert target.zig.endswith("-linux-musl")  # zig's own musl: the floor is its version
    else:
        assert target.zig.endswith("-windows-gnu")


@pytest.mark.parametrize(("machine", "triple"), [("x86_64", "x86_64-unknown-linux-gnu"), ("AMD64", "x86_64-unknown-linux-gnu"),
                                                  ("arm64", "aarch64-unknown-linux-gnu"), ("sparc64", None)])  # fmt: skip
def test_host_is_the_glibc_target_of_this_machine(monkeypatch: pytest.MonkeyPatch, machine: str, triple: str | None) -> None:
    monkeypatch.setattr(platform, "machine", lambda: machine)
    host = targets.host()
    assert (host.triple if host else None) == triple


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
