"""One version vocabulary, taken from `packaging` rather than re-derived.

CPython releases are `packaging.version.Version`s (so `3.15.0b1` sorts below
`3.15.0rc1` and `3.15.0`); libc, OS and symbol versions (`2.17`, `11.0`,
`GLIBCXX_3.4.21`'s `3.4.21`) compare as their release numbers; and the legacy
manylinux names are packaging's own table (PEP 513, 571, 599).
"""

from __future__ import annotations

import re

# packaging keeps its legacy-manylinux table private; packaging is pinned exactly in pyproject.toml.
from packaging._manylinux import _LEGACY_MANYLINUX_MAP
from packaging.version import InvalidVersion, Version

__all__ = ["LEGACY_MANYLINUX", "LEGACY_MANYLINUX_GLIBC", "Version", "legacy_manylinux", "matches", "python", "release"]

# (2, 17) -> "manylinux2014", ...
LEGACY_MANYLINUX: dict[tuple[int, int], str] = {(v[0], v[1]): name for v, name in _LEGACY_MANYLINUX_MAP.items()}
# "manylinux2014" -> "2.17", ...
LEGACY_MANYLINUX_GLIBC: dict[str, str] = {name: f"{v[0]}.{v[1]}" for v, name in LEGACY_MANYLINUX.items()}
# Architectures that had manylinux tags before glibc 2.17 (packaging's `platform_tags` rule).
_PRE_2014_ARCHES = frozenset({"x86_64", "i686"})


def release(text: str) -> tuple[int, ...]:
    """`"2.17"` -> `(2, 17)`: the numbers of a dotted version, up to the first part that is not one."""
    try:
        return Version(text).release
    except InvalidVersion:
        match = re.match(r"\d+(?:\.\d+)*", text)
        return tuple(int(p) for p in match[0].split(".")) if match else ()


def python(text: str) -> Version:
    """A CPython version (`3.11`, `3.11.9`, `3.15.0b1`); InvalidVersion if it is not one."""
    return Version(text)


def matches(version: str, wanted: str | None) -> bool:
    """`3.11.16` matches `3.11`, `3.11.16` and None (any); `3.15.0b1` matches `3.15` and `3.15.0`."""
    if wanted is None:
        return True
    have, want = Version(version), Version(wanted)
    if want.pre is not None or want.post is not None or want.dev is not None:
        return have == want
    return have.release[: len(want.release)] == want.release


def legacy_manylinux(glibc: tuple[int, int], arch: str) -> str | None:
    """The legacy tag (`manylinux2014_aarch64`) that stands for manylinux_2_17 on `arch`, if any."""
    name = LEGACY_MANYLINUX.get(glibc)
    if name is None or (glibc < (2, 17) and arch not in _PRE_2014_ARCHES):
        return None
    return f"{name}_{arch}"
