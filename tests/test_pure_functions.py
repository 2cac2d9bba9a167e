"""Pure functions that were tested only through slow builds: no network, no zig, no qemu or wine here.

Wheel tags -> target, policy selection, and the runner's command line.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from xbuild import hosttools, runner, targets
from xbuild.audit import claims, policy
from xbuild.audit.inputs import _target_for_claim
from xbuild.errors import CannotRunError, UsageError

# --- wheel platform tags -> target ------------------------------------------------------------


def _target_for_platforms(platforms: set[str], name: str) -> targets.Target:
    """The target `xbuild audit` assumes for a wheel with these platform tags and no --target."""
    wheel = f"some-1.0-cp311-cp311-{'.'.join(sorted(platforms))}.whl"
    return _target_for_claim(claims.claim_for(wheel), name)


@pytest.mark.parametrize(
    ("platforms", "triple"),
    [
        ({"manylinux_2_17_x86_64", "manylinux2014_x86_64"}, "x86_64-unknown-linux-gnu"),
        ({"manylinux1_x86_64"}, "x86_64-unknown-linux-gnu"),
        ({"manylinux_2_28_aarch64"}, "aarch64-unknown-linux-gnu"),
        ({"manylinux2014_ppc64le"}, "ppc64le-unknown-linux-gnu"),
        ({"musllinux_1_2_aarch64"}, "aarch64-unknown-linux-musl"),
        ({"win_amd64"}, "x86_64-pc-windows-msvc"),
        ({"win32"}, "i686-pc-windows-msvc"),
        ({"win_arm64"}, "aarch64-pc-windows-msvc"),
        ({"macosx_11_0_arm64"}, "aarch64-apple-darwin"),
        ({"macosx_10_9_universal2"}, "aarch64-apple-darwin"),  # universal2: the arm64 half
        ({"macosx_10_15_x86_64"}, "x86_64-apple-darwin"),
        ({"any", "win_amd64"}, "x86_64-pc-windows-msvc"),  # tags xbuild cannot place are skipped
    ],
)
def test_wheel_platform_tags_name_their_target(platforms: set[str], triple: str) -> None:
    assert _target_for_platforms(platforms, "some.whl").triple == triple


@pytest.mark.parametrize("platforms", [{"any"}, {"linux_x86_64"}, {"manylinux_2_17_sparc64"}, {"freebsd_14_0_amd64"}])
def test_wheel_tags_without_a_target_ask_for_one(platforms: set[str]) -> None:
    with pytest.raises(UsageError, match=r"some\.whl: cannot tell the target from its platform tags; pass --target"):
        _target_for_platforms(platforms, "some.whl")


def test_every_targets_first_wheel_platform_leads_back_to_it() -> None:
    """Except where two targets share wheels (armv7 hard- and soft-float), a target's own tag names it.

    universal2 is built from its thin parts: its wheels' tags name the arm64 target, as `xbuild audit` documents."""
    for target in (t for t in targets.all_targets() if not t.parts):
        found = _target_for_platforms({target.wheel_platforms()[0]}, "x.whl")
        assert found == target or (found.wheel_platforms()[0] == target.wheel_platforms()[0]), target.triple


# --- policy selection ---------------------------------------------------------------------------


def test_glibc_policy_is_the_targets_floor_by_default() -> None:
    pol = policy.linux_policy(targets.get("linux-x86_64"), None)
    assert (pol.name, pol.libc, pol.glibc) == ("manylinux_2_17", "glibc", (2, 17))
    assert pol.caps["GLIBCXX_"] == (3, 4, 19) and "libc.so.6" in pol.allowed_libs  # auditwheel's manylinux2014
    assert policy.linux_policy(targets.get("ppc64le-unknown-linux-gnu"), None).glibc == (2, 19)


def test_a_floor_between_policies_takes_the_newest_policy_below_it() -> None:
    between = policy.linux_policy(targets.get("linux-x86_64"), "2.30")
    at = policy.linux_policy(targets.get("linux-x86_64"), "2.28")
    assert (between.name, between.glibc) == ("manylinux_2_30", (2, 30))
    assert between.caps == at.caps and between.allowed_libs == at.allowed_libs  # manylinux_2_28's lists
    assert at.caps["GLIBCXX_"] > policy.linux_policy(targets.get("linux-x86_64"), None).caps["GLIBCXX_"]


def test_musl_targets_get_the_musllinux_policy() -> None:
    pol = policy.linux_policy(targets.get("x86_64-unknown-linux-musl"), None)
    assert (pol.name, pol.libc, pol.glibc, pol.caps) == ("musllinux_1_2", "musl", None, {})
    assert "libc.so" in pol.allowed_libs


def test_policy_names_parse_to_their_floor() -> None:
    assert [policy.parse_policy_name(n) for n in ("manylinux_2_28", "manylinux2014", "manylinux2010", "manylinux1")] == [
        "2.28", "2.17", "2.12", "2.5"]  # fmt: skip
    with pytest.raises(UsageError, match="unknown policy 'manylinux_2'"):
        policy.parse_policy_name("manylinux_2")


# --- the runner's command line ------------------------------------------------------------------

X86_64 = targets.get("x86_64-unknown-linux-gnu")
AARCH64 = targets.get("aarch64-unknown-linux-gnu")
WINDOWS = targets.get("x86_64-pc-windows-msvc")


@pytest.fixture
def x86_64_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "_host_machine", lambda: "x86_64")


def test_same_machine_runs_natively(x86_64_host: None) -> None:
    inv = runner.invocation(X86_64, ["./app", "--flag"])
    assert (inv.argv, inv.how) == (["./app", "--flag"], "native")


def test_foreign_linux_runs_under_qemu_with_its_library_root(x86_64_host: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hosttools, "find_qemu", lambda t: Path("/usr/bin") / str(t.qemu))
    inv = runner.invocation(AARCH64, ["./app", "x"], lib_root=Path("/libc-root"))
    assert (inv.argv, inv.how) == (["/usr/bin/qemu-aarch64", "-L", "/libc-root", "./app", "x"], "qemu")
    assert runner.invocation(AARCH64, ["./static"]).argv == ["/usr/bin/qemu-aarch64", "./static"]


def test_missing_qemu_says_what_to_install(x86_64_host: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hosttools, "find_qemu", lambda t: None)
    with pytest.raises(CannotRunError, match=r"qemu-aarch64 not found \(apt-get install qemu-user\)"):
        runner.invocation(AARCH64, ["./app"])


def test_windows_runs_under_wine_in_xbuilds_own_quiet_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hosttools, "find_wine", lambda: Path("/usr/bin/wine64"))
    monkeypatch.delenv("WINEPREFIX", raising=False)
    prefix = Path(runner.wine_environ({})["WINEPREFIX"])
    assert prefix.is_relative_to(Path(os.environ["XBUILD_CACHE_DIR"]).resolve())
    prefix.mkdir(parents=True)
    (prefix / "system.reg").write_text("")  # an initialized prefix: no wineboot
    inv = runner.invocation(WINDOWS, ["app.exe", "ünï"])
    assert (inv.argv, inv.how) == (["/usr/bin/wine64", "app.exe", "ünï"], "wine")
    assert (inv.env["WINEPREFIX"], inv.env["WINEDEBUG"], inv.env["WINEDLLOVERRIDES"]) == (str(prefix), "-all", "mscoree,mshtml=")


@pytest.mark.parametrize(
    ("name", "needle"),
    [("win_arm64", "wine64 runs x86_64 Windows programs only"), ("macos-arm64", "audit them instead")],
)
def test_what_cannot_run_here_says_so(name: str, needle: str) -> None:
    with pytest.raises(CannotRunError, match=needle):
        runner.invocation(targets.get(name), ["app"])
