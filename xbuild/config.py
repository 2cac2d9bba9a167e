"""The project's configuration: `[project]` and `[tool.xbuild]` in pyproject.toml, plus CLI flags.

Everything is checked up front: an unknown key or a value of the wrong type is a
ConfigError that names the key and what it accepts, before any download or build
starts. The result is one typed `Project` (what to build) and one `BuildOptions`
(how), as cibuildwheel does.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from xbuild import targets
from xbuild.errors import ConfigError
from xbuild.launcher import APP_DIR, RUNTIME_DIR, EntryPoint
from xbuild.targets import Target

# [tool.xbuild] keys: (expected type, what it accepts) — the messages quote these.
_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "targets": (list, "a list of target triples or aliases, or [\"all\"] (see `xbuild targets`)"),
    "python": (str, 'a Python version such as "3.11"'),
    "runtime-sources": (list, 'a list drawn from "local", "pbs", "pypi", "debian"'),
    "glibc": (str, 'a glibc version floor such as "2.17" (no wheel needing more is chosen; the audit enforces it)'),
    "macos": (str, 'a macOS minimum such as "11.0" (pinned: no wheel needing more is chosen)'),
    "max-glibc": (str, 'the newest glibc a dependency\'s wheel may need, such as "2.28" (default: the newest manylinux policy)'),
    "max-macos": (str, 'the newest macOS a dependency\'s wheel may need, such as "14.0"'),
    "output-dir": (str, 'a folder, relative to the project (default "dist")'),
    "include": (list, "a list of glob patterns to keep even though the default trim drops them"),
    "exclude": (list, "a list of glob patterns to drop from the artifact, in addition to the default trim"),
    "optimize": (int, "0, 1 or 2 (the bytecode optimization level)"),
    "audit": (str, '"strict" (violations fail the build) or "warn"'),
}
_AUDIT_MODES = ("strict", "warn")
_SOURCES = ("local", "pbs", "pypi", "debian")


@dataclass(frozen=True)
class Project:
    """What [project] says: the app to build."""

    root: Path
    name: str
    version: str | None  # None: dynamic, known once the project's wheel is built
    dependencies: tuple[str, ...]
    requires_python: str | None
    entry_points: tuple[EntryPoint, ...]

    @property
    def dist_name(self) -> str:
        return str(canonicalize_name(self.name)).replace("-", "_")

    def built_as(self, name: str, version: str, requires_python: str | None) -> Project:
        """This project with the name, version and requires-python its built wheel declares."""
        return replace(self, name=name, version=version, requires_python=requires_python)


@dataclass(frozen=True)
class BuildOptions:
    """How to build: [tool.xbuild] with command-line flags applied on top."""

    targets: tuple[Target, ...]
    python: str = "3.11"
    runtime_sources: tuple[str, ...] | None = None
    glibc: str | None = None
    macos: str | None = None
    max_glibc: str | None = None
    max_macos: str | None = None
    output_dir: Path = Path("dist")
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    optimize: int = 0
    audit: str = "strict"
    offline: bool = False

    def override(self, **changes: Any) -> BuildOptions:
        """Apply command-line values; None means "not given"."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _where(key: str) -> str:
    return f"[tool.xbuild] {key}"


def _check_type(key: str, value: Any) -> None:
    expected, accepts = _KEYS[key]
    ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if ok and expected is list:
        ok = all(isinstance(item, str) for item in value)
    if not ok:
        raise ConfigError(f"{_where(key)} must be {accepts}; got {value!r}")


def _check_version(where: str, accepts: str, value: str) -> str:
    try:
        Version(value)
    except InvalidVersion:
        raise ConfigError(f"{where} must be {accepts}; got {value!r}") from None
    return value


def check_version_flag(flag: str, value: str) -> str:
    """A --python or --glibc value, checked like its [tool.xbuild] key."""
    return _check_version(f"--{flag}", _KEYS[flag][1], value)


def _tool_options(table: dict[str, Any], root: Path) -> BuildOptions:
    for key in table:
        if key not in _KEYS:
            close = difflib.get_close_matches(key, list(_KEYS), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"unknown key {_where(key)}: {hint}allowed keys are {', '.join(_KEYS)}")
        _check_type(key, table[key])
    if "optimize" in table and table["optimize"] not in (0, 1, 2):
        raise ConfigError(f"{_where('optimize')} must be {_KEYS['optimize'][1]}; got {table['optimize']!r}")
    if "audit" in table and table["audit"] not in _AUDIT_MODES:
        raise ConfigError(f"{_where('audit')} must be {_KEYS['audit'][1]}; got {table['audit']!r}")
    for key in ("python", "glibc", "macos", "max-glibc", "max-macos"):
        if key in table:
            _check_version(_where(key), _KEYS[key][1], table[key])
    sources = table.get("runtime-sources")
    if sources is not None and (bad := [s for s in sources if s not in _SOURCES]):
        raise ConfigError(f"{_where('runtime-sources')} must be {_KEYS['runtime-sources'][1]}; got {bad[0]!r}")
    chosen = targets.select(table.get("targets", [])) if table.get("targets") else ()
    return BuildOptions(
        targets=tuple(chosen),
        python=table.get("python", "3.11"),
        runtime_sources=tuple(sources) if sources else None,
        glibc=table.get("glibc"),
        macos=table.get("macos"),
        max_glibc=table.get("max-glibc"),
        max_macos=table.get("max-macos"),
        output_dir=root / table.get("output-dir", "dist"),
        include=tuple(table.get("include", ())),
        exclude=tuple(table.get("exclude", ())),
        optimize=table.get("optimize", 0),
        audit=table.get("audit", "strict"),
    )


# Names Windows gives to devices: `nul.exe` cannot be created or started there.
_WINDOWS_DEVICES = {"con", "prn", "aux", "nul", *(f"com{n}" for n in range(1, 10)), *(f"lpt{n}" for n in range(1, 10))}


def _check_entry_name(table: str, name: str, seen: dict[str, str]) -> None:
    """A launcher is a file at the artifact's top, beside runtime/ and app/: its name must be one."""
    where = f"[project.{table}] {name!r}"
    if not name.strip():
        raise ConfigError(f"[project.{table}] has an entry point with an empty name: name the launcher, e.g. myapp = \"myapp.cli:main\"")
    if "/" in name or "\\" in name:
        raise ConfigError(f"{where}: an entry point name cannot contain a path separator (the launcher is a file at the artifact's top)")
    if name.startswith("."):
        raise ConfigError(f"{where}: an entry point name cannot start with '.' (it names the launcher file)")
    if name.lower() in (APP_DIR, RUNTIME_DIR):
        raise ConfigError(f"{where}: the launcher would collide with the artifact's {name.lower()}/ folder; rename the entry point")
    if name.split(".", 1)[0].lower() in _WINDOWS_DEVICES:
        raise ConfigError(f"{where}: {name.split('.', 1)[0]} is a reserved device name on Windows; rename the entry point")
    if name.lower() in seen:
        raise ConfigError(f"{where} has the same launcher name as {seen[name.lower()]} (file names ignore case on Windows and macOS); rename one")
    seen[name.lower()] = where


def _entry_points(project: dict[str, Any]) -> tuple[EntryPoint, ...]:
    entries = []
    seen: dict[str, str] = {}
    for table, gui in (("scripts", False), ("gui-scripts", True)):
        section = project.get(table, {})
        if not isinstance(section, dict):
            raise ConfigError(f"[project.{table}] must be a table of name = \"module:function\"")
        for name, value in section.items():
            _check_entry_name(table, name, seen)
            entries.append(EntryPoint.parse(name, str(value), gui=gui))
    if not entries:
        raise ConfigError("pyproject.toml has no entry point: add [project.scripts] (or gui-scripts), e.g. myapp = \"myapp.cli:main\"")
    return tuple(entries)


def load(project_dir: Path) -> tuple[Project, BuildOptions]:
    """Read and check pyproject.toml in `project_dir`."""
    path = project_dir / "pyproject.toml"
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"no pyproject.toml in {project_dir}: run xbuild in a project folder, or pass its path") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path} is not valid TOML: {e}") from None
    project = data.get("project")
    if not isinstance(project, dict):
        raise ConfigError(f"{path} has no [project] table (PEP 621): xbuild needs its name, version and entry points")
    if not isinstance(project.get("name"), str):
        raise ConfigError("[project] name is missing or not a string")
    dynamic = project.get("dynamic", [])
    version = project.get("version")
    if not isinstance(version, str) and not (version is None and isinstance(dynamic, list) and "version" in dynamic):
        raise ConfigError('[project] version is missing or not a string: write version = "1.0", or list "version" in [project] dynamic')
    deps = project.get("dependencies", [])
    for dep in deps:
        try:
            Requirement(dep)
        except InvalidRequirement as e:
            raise ConfigError(f"[project] dependencies: {dep!r} is not a valid requirement ({e})") from None
    requires = project.get("requires-python")
    if requires is not None:
        try:
            SpecifierSet(requires)
        except InvalidSpecifier:
            raise ConfigError(f"[project] requires-python {requires!r} is not a version specifier") from None
    tool = data.get("tool", {}).get("xbuild", {})
    if not isinstance(tool, dict):
        raise ConfigError("[tool.xbuild] must be a table")
    info = Project(
        root=project_dir.resolve(),
        name=project["name"],
        version=version,
        dependencies=tuple(deps),
        requires_python=requires,
        entry_points=_entry_points(project),
    )
    return info, _tool_options(tool, project_dir.resolve())
