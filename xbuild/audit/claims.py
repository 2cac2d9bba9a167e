"""What a wheel's platform tag claims, and whether its files honour it.

The verdict of `xbuild audit` is always against the target's policy; this is the
separate question auditwheel and delocate answer for the wheel's author: does a wheel
tagged manylinux_2_28 need no more than glibc 2.28 and the libraries that policy allows,
does a macosx_10_9_universal2 wheel's x86_64 slice run on 10.9 (its arm64 slice may
need 11.0, the first macOS on arm64)?
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from packaging.utils import parse_wheel_filename

from xbuild import targets
from xbuild.audit.check import AuditResult, Claim, Context, Tree, check
from xbuild.audit.policy import dotted
from xbuild.targets import Target, mac_tag_version
from xbuild.versions import LEGACY_MANYLINUX, release

_ARM64_MACOS = (11, 0)  # the first macOS for Apple silicon


@dataclass(frozen=True)
class TagClaim:
    """The promise of a wheel's platform tags, as contexts to check (one per slice for universal2)."""

    tag: str
    contexts: tuple[Context, ...]


def wheel_abi(name: str) -> str:
    tags = parse_wheel_filename(name)[3]
    return next((t.abi for t in tags if t.abi.startswith("cp") and t.abi != "abi3"), None) or next(
        (f"cp{t.interpreter[2:]}" for t in tags if t.interpreter.startswith("cp")), "cp311"
    )


def _target(os_name: str, libc: str, arch: str) -> Target | None:
    for target in targets.all_targets():
        if (target.os, target.libc) == (os_name, libc) and arch in (target.wheel_arch, target.machine):
            return target
    return None


def claim_for(wheel_name: str) -> TagClaim | None:
    """The strongest promise among the wheel's platform tags (its lowest floor), or None."""
    platforms = sorted({t.platform for t in parse_wheel_filename(wheel_name)[3]})
    abi = wheel_abi(wheel_name)
    glibc = [(m[1], m[2], m[3]) for p in platforms if (m := re.fullmatch(r"manylinux_(\d+)_(\d+)_(\w+)", p))]
    legacy = {name: version for version, name in LEGACY_MANYLINUX.items()}
    glibc += [(str(v[0]), str(v[1]), m[2]) for p in platforms if (m := re.fullmatch(r"(manylinux\d+)_(\w+)", p)) and (v := legacy.get(m[1]))]
    if glibc:
        major, minor, arch = min(glibc, key=lambda g: (int(g[0]), int(g[1])))
        target = _target("linux", "glibc", arch)
        if target is None:
            return None
        ctx = Context(target, glibc=f"{major}.{minor}", glibc_reason="the wheel's own tag", python_abi=abi, artifact=False)
        return TagClaim(f"manylinux_{major}_{minor}_{arch}", (ctx,))
    musl = [(m[1], m[2], m[3]) for p in platforms if (m := re.fullmatch(r"musllinux_(\d+)_(\d+)_(\w+)", p))]
    if musl:
        major, minor, arch = min(musl, key=lambda g: (int(g[0]), int(g[1])))
        target = _target("linux", "musl", arch)
        return TagClaim(f"musllinux_{major}_{minor}_{arch}", (Context(target, python_abi=abi, artifact=False),)) if target else None
    macos = [(m[1], m[2], m[3]) for p in platforms if (m := re.fullmatch(r"macosx_(\d+)_(\d+)_(\w+)", p))]
    if macos:
        major, minor, arch = min(macos, key=lambda g: (int(g[0]), int(g[1])))
        claimed = (int(major), int(minor))
        arches = ("x86_64", "arm64") if arch in ("universal2", "universal") else ("x86_64", "arm64") if arch == "intel" else (arch,)
        contexts = []
        for a in dict.fromkeys(arches):
            target = _target("macos", "libsystem", "aarch64" if a == "arm64" else a)
            if target is not None:
                minimum = max(claimed, _ARM64_MACOS) if a == "arm64" else claimed
                contexts.append(Context(target, macos=dotted(minimum), python_abi=abi, artifact=False))
        return TagClaim(f"macosx_{major}_{minor}_{arch}", tuple(contexts)) if contexts else None
    for p in platforms:
        if p in ("win_amd64", "win_arm64", "win32"):
            target = _target("windows", "msvcrt", {"win_amd64": "x86_64", "win_arm64": "aarch64", "win32": "i686"}[p])
            return TagClaim(p, (Context(target, python_abi=abi, artifact=False),)) if target else None
    return None


def _needs(result: AuditResult) -> str:
    ctx = result.context
    if ctx.target.os == "linux" and ctx.target.libc == "glibc":
        floor = result.floor("glibc")
        return f"glibc {floor}" if floor else "no versioned glibc symbols"
    if ctx.target.os == "linux":
        return "musl"
    if ctx.target.os == "macos":
        floor = result.floor("macos")
        return f"macOS {floor} ({ctx.target.machine})" if floor else f"no macOS minimum ({ctx.target.machine})"
    return f"{ctx.target.machine} Windows DLLs"


def judge_claim(tree: Tree, claim: TagClaim, verdict: AuditResult) -> Claim:
    """Check the tree against its own tag (reusing the verdict when it asked the same question)."""
    results = [verdict if ctx == verdict.context else check(tree, ctx) for ctx in claim.contexts]
    needs = ", ".join(_needs(r) for r in results)
    broken = [v for r in results for v in r.violations]
    unreadable = any(r.errors for r in results)
    if unreadable and not broken:
        return Claim(claim.tag, needs, "not-applicable", "some files are unreadable")
    if broken:
        return Claim(claim.tag, needs, "inconsistent", broken[0].sentence(against="the tag") + (f"; {len(broken) - 1} more" if len(broken) > 1 else ""))
    return Claim(claim.tag, needs, "consistent")


def claimed_floor(file: str, target: Target) -> tuple[int, int] | None:
    """The lowest glibc or macOS version a wheel's platform tags claim to need (None: no claim)."""
    found: list[tuple[int, int]] = []
    for tag in parse_wheel_filename(file)[3]:
        platform = tag.platform
        if target.libc == "glibc":
            if match := re.match(r"manylinux_(\d+)_(\d+)_", platform):
                found.append((int(match[1]), int(match[2])))
            found += [version for version, name in LEGACY_MANYLINUX.items() if platform.startswith(name + "_")]
        elif target.os == "macos" and platform.startswith("macosx_"):
            found.append(mac_tag_version(platform))
    return min(found) if found else None


def raise_to_claims(context: Context, files: Sequence[str]) -> Context:
    """An artifact's audit caps, raised to the highest floor its wheels' tags claim.

    Used when no floor is pinned: a wheel tagged manylinux_2_28 makes 2.28 the cap, so
    the audit still catches a file needing more than its wheel's tag (or the runtime) says.
    """
    target = context.target
    claims = [(claim, file) for file in files if (claim := claimed_floor(file, target))]
    if not claims:
        return context
    (major, minor), file = max(claims)
    floor = f"{major}.{minor}"
    if target.libc == "glibc" and release(floor) > release(context.glibc or "0"):
        return dataclasses.replace(context, glibc=floor, glibc_reason=f"raised to {floor} by {file}, whose platform tag claims it")
    if target.os == "macos" and release(floor) > release(context.macos or target.floor or "0"):
        return dataclasses.replace(context, macos=floor)
    return context
