"""Audit policies as data (xbuild/audit/policies/*.json), chosen per target and floor.

The figures are auditwheel's (manylinux, musllinux), delvewheel's (Windows DLLs) and
delocate's rules (macOS); `scripts/regen_policies.py` rebuilds the JSON from them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from xbuild.audit.elf import version_tuple
from xbuild.errors import UsageError
from xbuild.targets import Target
from xbuild.versions import LEGACY_MANYLINUX_GLIBC

_DIR = Path(__file__).resolve().parent / "policies"
# Symbol-version prefixes capped by manylinux policies, and their names in the policy data.
CAPPED_PREFIXES = {"GLIBC_": "GLIBC", "GLIBCXX_": "GLIBCXX", "CXXABI_": "CXXABI", "GCC_": "GCC"}


@cache
def _load(name: str) -> dict[str, Any]:
    return json.loads((_DIR / f"{name}.json").read_text())  # type: ignore[no-any-return]


@dataclass(frozen=True)
class LinuxPolicy:
    """What a Linux binary may need from the system at a given floor."""

    name: str
    libc: str  # glibc | musl
    glibc: tuple[int, ...] | None  # the GLIBC_ cap (None for musl)
    caps: dict[str, tuple[int, ...]]  # prefix -> highest allowed version (besides GLIBC)
    allowed_libs: frozenset[str]


def linux_policy(target: Target, glibc: str | None) -> LinuxPolicy:
    """The manylinux policy at `glibc` (default: the target's floor), or musllinux for musl."""
    if target.libc == "musl":
        data = _load("musllinux")["policies"][target.policy]
        return LinuxPolicy(target.policy, "musl", None, {}, frozenset(data["lib_whitelist"]))
    floor = version_tuple(glibc or target.floor or "2.17")
    policies = _load("manylinux")["policies"]
    # The newest published policy at or below the floor gives the library list and C++ caps.
    _name, data = max(
        ((n, p) for n, p in policies.items() if version_tuple(p["glibc"]) <= floor),
        key=lambda item: version_tuple(item[1]["glibc"]),
    )
    arch = target.wheel_arch
    caps = {
        prefix: version_tuple(value)
        for key, value in (data["max_versions"].get(arch) or {}).items()
        for prefix, policy_key in CAPPED_PREFIXES.items()
        if policy_key == key and key != "GLIBC" and value
    }
    label = f"manylinux_{floor[0]}_{floor[1]}"
    return LinuxPolicy(label, "glibc", floor, caps, frozenset(data["lib_whitelist"]))


def parse_policy_name(name: str) -> str:
    """`manylinux_2_28` or `manylinux2014` -> the glibc floor it stands for."""
    legacy = LEGACY_MANYLINUX_GLIBC
    if name in legacy:
        return legacy[name]
    match = re.fullmatch(r"manylinux_(\d+)_(\d+)", name)
    if not match:
        raise UsageError(f"unknown policy {name!r}: use manylinux_X_Y (for example manylinux_2_28) or manylinux2014")
    return f"{match[1]}.{match[2]}"


@dataclass(frozen=True)
class WindowsPolicy:
    system_dlls: frozenset[str]  # lower-case names present on every supported Windows
    always_allowed: tuple[re.Pattern[str], ...]
    python_dll: re.Pattern[str]
    vc_shipped_with_python: tuple[str, ...]  # provided by CPython itself next to python3XY.dll


def windows_policy(target: Target, python_abi: str = "cp311") -> WindowsPolicy:
    """System DLLs for the target's CPU; `python_abi` (cp311) picks the VC runtime CPython ships."""
    data = _load("windows")
    machine = {"x86_64": "AMD64", "aarch64": "ARM64", "i686": "I386"}[target.machine]
    shipped: list[str] = next(
        (dlls for pattern, dlls in data["vc_runtime_shipped_with_python"].items() if re.fullmatch(pattern, f"{python_abi}-{_platform(target)}")),
        [],
    )
    return WindowsPolicy(
        system_dlls=frozenset(n.lower() for n in data["system_dlls"][machine]),
        always_allowed=tuple(re.compile(r, re.IGNORECASE) for r in data["always_allowed_regexes"]),
        python_dll=re.compile(data["python_dll_regex"], re.IGNORECASE),
        vc_shipped_with_python=tuple(shipped),
    )


def _platform(target: Target) -> str:
    return {"x86_64": "win_amd64", "aarch64": "win_arm64", "i686": "win32"}[target.machine]


@dataclass(frozen=True)
class MacosPolicy:
    minimum: tuple[int, ...]
    system_prefixes: tuple[str, ...]


def macos_policy(target: Target, minimum: str | None) -> MacosPolicy:
    data = _load("macos")
    return MacosPolicy(version_tuple(minimum or target.floor or "11.0"), tuple(data["system_prefixes"]))
