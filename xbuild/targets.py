"""The target table: every platform xbuild builds for, loaded from `data/targets.toml`.

A target is named by its python-build-standalone triple; short aliases map onto it.
Everything platform-specific that code needs (zig's target string, the libc floor,
wheel tags, the audit policy) is read from here, so adding a target is a data change.
"""

from __future__ import annotations

import difflib
import platform
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Literal, get_args

from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms

from xbuild import versions
from xbuild.errors import UnknownTargetError
from xbuild.resources import load_toml, package_data

# manylinux tags below glibc 2.17 exist only for x86 (PEP 513, 571); packaging's
# manylinux support draws the same line.
_OLDEST_MANYLINUX = {"x86_64": (2, 5), "i686": (2, 5)}
_MACOS_TAG = re.compile(r"^macosx_(\d+)_(\d+)_")

# The closed vocabularies of the target table: a row with another value does not load.
Os = Literal["linux", "windows", "macos"]
Libc = Literal["glibc", "musl", "msvcrt", "libsystem"]
Format = Literal["elf", "pe", "macho"]

_MARKER_OS = {
    "linux": {"os_name": "posix", "platform_system": "Linux", "sys_platform": "linux"},
    "windows": {"os_name": "nt", "platform_system": "Windows", "sys_platform": "win32"},
    "macos": {"os_name": "posix", "platform_system": "Darwin", "sys_platform": "darwin"},
}


@dataclass(frozen=True)
class Target:
    """One row of the target table."""

    triple: str
    os: Os
    libc: Libc
    zig: str
    format: Format
    machine: str
    bits: int
    wheel_arch: str
    policy: str
    aliases: tuple[str, ...] = ()
    floor: str | None = None
    cflags: tuple[str, ...] = ()
    qemu: str | None = None
    debian: str | None = None
    dlltool: str | None = None
    marker_machine: str = ""
    parts: tuple[str, ...] = ()  # a universal2 target: the thin targets whose builds are merged into fat files
    exe_suffix: str = field(init=False)

    def __post_init__(self) -> None:
        for key, vocabulary in (("os", Os), ("libc", Libc), ("format", Format)):
            if getattr(self, key) not in get_args(vocabulary):
                raise ValueError(f"targets.toml: {self.triple} has {key} = {getattr(self, key)!r}, not one of {get_args(vocabulary)}")
        object.__setattr__(self, "exe_suffix", ".exe" if self.os == "windows" else "")

    @property
    def floor_tuple(self) -> tuple[int, ...] | None:
        return versions.release(self.floor) if self.floor else None

    @property
    def floor_label(self) -> str:
        """How people say the floor: `glibc 2.17`, `musl 1.2`, `macOS 11.0`."""
        names = {"glibc": "glibc", "musl": "musl", "libsystem": "macOS"}
        return f"{names.get(self.libc, self.libc)} {self.floor}" if self.floor else "-"

    def wheel_platforms(self, newest: str | None = None) -> list[str]:
        """Platform tags of wheels that load on this target, the least demanding first.

        `newest` is the highest glibc or macOS version a wheel may require (default: the
        target's floor). pip prefers earlier tags, so of each release it takes the wheel
        that asks least of the system.
        """
        arch = self.wheel_arch
        if self.libc == "glibc":
            assert self.floor_tuple is not None
            top = versions.release(newest) if newest else self.floor_tuple
            major, lowest = _OLDEST_MANYLINUX.get(arch, (2, 17))
            tags: list[str] = []
            for minor in range(lowest, top[1] + 1 if top[0] == major else lowest):
                if legacy := versions.legacy_manylinux((major, minor), arch):
                    tags.append(legacy)
                tags.append(f"manylinux_{major}_{minor}_{arch}")
            return tags
        if self.libc == "musl":
            assert self.floor_tuple is not None
            major, minor = self.floor_tuple
            return [f"musllinux_{major}_{m}_{arch}" for m in range(1, minor + 1)]
        if self.os == "windows":
            return [arch if arch == "win32" else f"win_{arch}"]
        if self.os == "macos":
            assert self.floor_tuple is not None
            top = versions.release(newest) if newest else self.floor_tuple
            newest_first = mac_platforms((top[0], top[1] if len(top) > 1 else 0), arch)
            # Stable sort: oldest macOS first, packaging's order of formats within each version.
            return sorted(newest_first, key=lambda tag: mac_tag_version(tag))
        raise AssertionError(f"no wheel platforms for {self.triple}")

    def marker_environment(self, python: str) -> dict[str, str]:
        """PEP 508 marker values as a CPython `python` (full version) on this target reports them."""
        os_values = _MARKER_OS[self.os]
        return {
            "implementation_name": "cpython",
            "implementation_version": python,
            "os_name": os_values["os_name"],
            "platform_machine": self.marker_machine,
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": os_values["platform_system"],
            "platform_version": "",
            "python_full_version": python,
            "python_version": ".".join(python.split(".")[:2]),
            "sys_platform": os_values["sys_platform"],
        }

    def wheel_tags(self, python: str, newest: str | None = None) -> list[Tag]:
        """Every wheel tag a CPython `python` ("3.11") runtime for this target accepts, preferred first."""
        version = versions.python(python).release[:2]
        platforms = self.wheel_platforms(newest)
        abi = f"cp{version[0]}{version[1]}"
        return [
            *cpython_tags(version, [abi, "abi3", "none"], platforms),
            *compatible_tags(version, abi, platforms),
        ]



def mac_tag_version(tag: str) -> tuple[int, int]:
    """(11, 0) for `macosx_11_0_arm64`."""
    match = _MACOS_TAG.match(tag)
    assert match, tag
    return int(match[1]), int(match[2])


@cache
def all_targets() -> tuple[Target, ...]:
    """Every target in the table, in table order."""
    rows = load_toml(package_data("targets.toml"))["target"]
    return tuple(
        Target(**{**row, "aliases": tuple(row.get("aliases", ())), "cflags": tuple(row.get("cflags", ())), "parts": tuple(row.get("parts", ()))})
        for row in rows
    )


@cache
def _names() -> dict[str, Target]:
    names: dict[str, Target] = {}
    for target in all_targets():
        for name in (target.triple, *target.aliases):
            names[name.lower()] = target
    return names


def get(name: str) -> Target:
    """The target called `name` (a triple or an alias, any case)."""
    target = _names().get(name.strip().lower())
    if target is None:
        close = difflib.get_close_matches(name.lower(), list(_names()), n=4, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else "run `xbuild targets` to list them."
        raise UnknownTargetError(f"unknown target {name!r}: {hint}")
    return target


def select(names: Iterable[str]) -> list[Target]:
    """Targets for the given names, with `all` meaning the whole table, without repeats."""
    chosen: list[Target] = []
    for name in names:
        for target in all_targets() if name.lower() == "all" else (get(name),):
            if target not in chosen:
                chosen.append(target)
    return chosen


def parts(target: Target) -> list[Target]:
    """The thin targets a universal2 target is merged from; a thin target is its own one part."""
    return [get(p) for p in target.parts] if target.parts else [target]


def host() -> Target | None:
    """The glibc Linux target this machine itself is, if it is one in the table."""
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower(), platform.machine().lower())
    for target in all_targets():
        if target.os == "linux" and target.libc == "glibc" and target.machine == machine:
            return target
    return None


def table_rows(targets: Sequence[Target]) -> list[dict[str, object]]:
    """The table as plain records, for `xbuild targets --json`."""
    return [
        {
            "triple": t.triple,
            "aliases": list(t.aliases),
            "os": t.os,
            "machine": t.machine,
            "bits": t.bits,
            "libc": t.libc,
            "floor": t.floor,
            "zig_target": t.zig,
            "format": t.format,
            "exe_suffix": t.exe_suffix,
            "wheel_platforms": t.wheel_platforms(),
            "policy": t.policy,
        }
        for t in targets
    ]
