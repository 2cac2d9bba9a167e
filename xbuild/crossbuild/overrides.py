"""Per-package cross-build settings from `overrides.toml`: data, each entry with its reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from packaging.utils import canonicalize_name

from xbuild.errors import XbuildError
from xbuild.resources import load_toml

FILE = Path(__file__).parent / "overrides.toml"
_KEYS = {"reason", "env", "targets", "sysroot-packages"}


@dataclass(frozen=True)
class Override:
    name: str
    reason: str
    env: dict[str, str] = field(default_factory=dict)
    sysroot_packages: tuple[str, ...] = ()


@cache
def _table() -> dict[str, dict[str, object]]:
    table: dict[str, dict[str, object]] = load_toml(FILE).get("package", {})
    for name, entry in table.items():
        if not isinstance(entry.get("reason"), str) or not entry["reason"]:
            raise XbuildError(f"{FILE}: [package.{name}] has no reason: every override says why it exists")
        unknown = set(entry) - _KEYS
        if unknown:
            raise XbuildError(f"{FILE}: [package.{name}] has unknown keys {sorted(unknown)}")
    return table


def for_package(name: str, triple: str) -> Override | None:
    """The override of `name` that applies to `triple`, if any."""
    entry = _table().get(str(canonicalize_name(name)))
    if entry is None:
        return None
    targets = entry.get("targets")
    if isinstance(targets, list) and triple not in targets:
        return None
    env = entry.get("env", {})
    packages = entry.get("sysroot-packages", [])
    assert isinstance(env, dict) and isinstance(packages, list)
    return Override(str(canonicalize_name(name)), str(entry["reason"]), {str(k): str(v) for k, v in env.items()}, tuple(map(str, packages)))
