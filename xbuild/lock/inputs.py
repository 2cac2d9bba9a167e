"""What a lock was made from, kept in its `[tool.xbuild]` table, and how a project differs from it.

A lock is current while the project's requirements (the built wheel's Requires-Dist
and Requires-Python, so dynamic dependencies count too), its build backend's
requirements, the Python version and, per target, the newest glibc or macOS a wheel
may need are what they were. Any difference is named in one sentence, so a build can
say *why* the lock is stale instead of re-resolving in silence.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from xbuild import preflight
from xbuild.config import BuildOptions
from xbuild.errors import ConfigError
from xbuild.resolve import WheelMetadata

# PEP 517: a project without [build-system] is built by setuptools' legacy backend.
DEFAULT_BUILD_REQUIRES = ("setuptools>=40.8.0",)


def _normalized(requirements: Iterable[str]) -> tuple[str, ...]:
    out = set()
    for text in requirements:
        try:
            out.add(str(Requirement(text)))
        except InvalidRequirement:
            out.add(text.strip())
    return tuple(sorted(out))


def build_requires(project_root: Path) -> tuple[str, ...]:
    """[build-system] requires of the project, normalized and sorted."""
    try:
        data = tomllib.loads((project_root / "pyproject.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read {project_root / 'pyproject.toml'}: {e}") from None
    system = data.get("build-system", {})
    requires = system.get("requires", DEFAULT_BUILD_REQUIRES) if isinstance(system, dict) else DEFAULT_BUILD_REQUIRES
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise ConfigError("[build-system] requires must be a list of requirement strings")
    return _normalized(requires)


def ceilings(options: BuildOptions) -> dict[str, str]:
    """Per target, the newest OS version a dependency's wheel may need, as resolution used it."""
    return {t.triple: preflight.ceiling(options, t).shown for t in options.targets}


@dataclass(frozen=True)
class LockInputs:
    """Everything the resolution of a lock depended on."""

    python: str  # the configured Python version ("3.11")
    dependencies: tuple[str, ...]  # Requires-Dist of the project's wheel
    requires_python: str
    build_requires: tuple[str, ...]
    targets: dict[str, str]  # triple -> wheel ceiling ("glibc <= 2.41", "any OS version")

    @classmethod
    def of(cls, project_root: Path, options: BuildOptions, meta: WheelMetadata) -> LockInputs:
        return cls(options.python, _normalized(meta.requires_dist), meta.requires_python or "", build_requires(project_root), ceilings(options))

    def table(self, resolved_with: dict[str, str]) -> dict[str, Any]:
        """The [tool.xbuild] table; `resolved_with` is the full Python version each target was resolved for."""
        return {
            "python": self.python,
            "requires-python": self.requires_python,
            "dependencies": list(self.dependencies),
            "build-requires": list(self.build_requires),
            "targets": {
                triple: {"python": resolved_with[triple], "wheels-up-to": self.targets[triple]} for triple in sorted(self.targets)
            },
        }

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> LockInputs | None:
        """The inputs a lock's [tool.xbuild] records; None if it has none (another tool wrote it)."""
        try:
            targets = {triple: str(spec["wheels-up-to"]) for triple, spec in table["targets"].items()}
            return cls(
                str(table["python"]),
                tuple(map(str, table["dependencies"])),
                str(table["requires-python"]),
                tuple(map(str, table["build-requires"])),
                targets,
            )
        except (KeyError, TypeError, AttributeError):
            return None


def _changed(what: str, old: Sequence[str], new: Sequence[str]) -> str | None:
    added, removed = sorted(set(new) - set(old)), sorted(set(old) - set(new))
    if not added and not removed:
        return None
    parts = [f"added {', '.join(added)}" if added else "", f"removed {', '.join(removed)}" if removed else ""]
    return f"{what} changed ({'; '.join(p for p in parts if p)})"


def before_build(locked: LockInputs | None, project_root: Path, options: BuildOptions) -> str | None:
    """Why the lock cannot serve this build, from what is known before the project's wheel is built (None: it can)."""
    if locked is None:
        return "it has no [tool.xbuild] table (another tool wrote it)"
    if locked.python != options.python:
        return f"it was locked for Python {locked.python}, the build asks for {options.python}"
    if reason := _changed("[build-system] requires", locked.build_requires, build_requires(project_root)):
        return reason
    for triple, ceiling in ceilings(options).items():
        if triple not in locked.targets:
            return f"it does not cover {triple} (it has {', '.join(sorted(locked.targets))})"
        if locked.targets[triple] != ceiling:
            return f"{triple} was locked with wheels for {locked.targets[triple]}, the build allows {ceiling}"
    return None


def after_wheel(locked: LockInputs, meta: WheelMetadata) -> str | None:
    """Why the lock is stale given the project's built wheel (its requirements); None when current."""
    if reason := _changed("the project's dependencies", locked.dependencies, _normalized(meta.requires_dist)):
        return reason
    if locked.requires_python != (meta.requires_python or ""):
        return f"requires-python changed ({locked.requires_python or 'none'} -> {meta.requires_python or 'none'})"
    return None
