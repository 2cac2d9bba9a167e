"""The project's configuration: `[project]` and `[tool.xbuild]` in pyproject.toml, the environment, CLI flags.

Build options come from one cascade, resolved once by `compute_options` into a frozen
`BuildOptions`, as cibuildwheel does: the defaults in `xbuild/data/defaults.toml`, then
`[tool.xbuild]`, then the environment (passed in, never read here), then flags.
Everything is checked up front: an unknown key or a value of the wrong type is a
ConfigError that names the key and what it accepts, before any download or build
starts. Adding an option touches defaults.toml, a `BuildOptions` field and its flag.
"""

from __future__ import annotations

import difflib
import tomllib
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cache
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from xbuild import runtimes, targets
from xbuild.errors import ConfigError
from xbuild.launcher import APP_DIR, RUNTIME_DIR, EntryPoint
from xbuild.resources import load_toml, package_data
from xbuild.targets import Target

AuditMode = Literal["strict", "warn"]


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


def _runtime_sources() -> tuple[str, ...]:
    return tuple(runtimes.SOURCES)


@dataclass(frozen=True, kw_only=True)
class BuildOptions:
    """How to build: one field per [option.*] of defaults.toml; the defaults live there, not here."""

    targets: tuple[Target, ...]
    python: str
    runtime_sources: tuple[str, ...] | None = field(metadata={"choices": _runtime_sources})
    glibc: str | None
    macos: str | None
    max_glibc: str | None
    max_macos: str | None
    output_dir: Path
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    optimize: Literal[0, 1, 2]
    audit: AuditMode
    offline: bool
    build_from_source: tuple[str, ...]
    sysroot_packages: tuple[str, ...]
    allow_pure_fallback: tuple[str, ...]
    locked: bool
    jobs: int
    onefile: bool

    def override(self, **changes: Any) -> BuildOptions:
        """Apply command-line values; None means "not given"."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


@dataclass(frozen=True)
class _Option:
    """One [option.KEY] of defaults.toml, with what its BuildOptions field's type says."""

    key: str
    name: str  # the BuildOptions field
    accepts: str
    default: Any
    version: bool
    env: str | None
    pyproject: bool
    kind: type  # what TOML holds: str, int, bool or list (of str)
    optional: bool  # the field may be None
    choices: tuple[Any, ...]
    element: type | None  # for tuples: str or Target
    path: bool  # a Path field: relative to the project in pyproject.toml, else to the working folder


@cache
def _options() -> dict[str, _Option]:
    """defaults.toml joined with BuildOptions' fields, checked against each other once."""
    table: dict[str, dict[str, Any]] = load_toml(package_data("defaults.toml"))["option"]
    hints = get_type_hints(BuildOptions)
    by_field = {f.name: f for f in fields(BuildOptions)}
    if sorted(by_field) != sorted(key.replace("-", "_") for key in table):
        raise AssertionError(f"defaults.toml options {sorted(table)} do not match BuildOptions fields {sorted(by_field)}")
    options = {}
    for key, spec in table.items():
        name = key.replace("-", "_")
        hint, optional = hints[name], False
        if get_origin(hint) in (Union, types.UnionType):
            optional, hint = True, next(a for a in get_args(hint) if a is not type(None))
        choices: tuple[Any, ...] = ()
        element = None
        if get_origin(hint) is Literal:
            choices, kind = get_args(hint), type(get_args(hint)[0])
        elif get_origin(hint) is tuple:
            kind, element = list, get_args(hint)[0]
        else:
            kind = str if hint is Path else hint
        make_choices: Callable[[], tuple[Any, ...]] | None = by_field[name].metadata.get("choices")
        if make_choices is not None:  # a vocabulary that lives elsewhere, such as the runtime sources
            choices = make_choices()
        accepts = spec["accepts"].format(choices=", ".join(f'"{c}"' for c in choices))
        options[key] = _Option(
            key, name, accepts, spec.get("default"), spec.get("version", False), spec.get("env"),
            spec.get("pyproject", True), kind, optional, choices, element, hint is Path,
        )  # fmt: skip
    return options


def _where(key: str) -> str:
    return f"[tool.xbuild] {key}"


def _check_version(where: str, accepts: str, value: str) -> str:
    try:
        Version(value)
    except InvalidVersion:
        raise ConfigError(f"{where} must be {accepts}; got {value!r}") from None
    return value


def _check_type(option: _Option, where: str, value: Any) -> None:
    ok = isinstance(value, option.kind) and not (option.kind is int and isinstance(value, bool))
    if ok and option.kind is list:
        ok = all(isinstance(item, str) for item in value)
    if not ok:
        raise ConfigError(f"{where} must be {option.accepts}; got {value!r}")


def _check_value(option: _Option, where: str, value: Any) -> None:
    if option.choices:
        bad = [v for v in (value if option.kind is list else [value]) if v not in option.choices]
        if bad:
            raise ConfigError(f"{where} must be {option.accepts}; got {bad[0]!r}")
    if option.version:
        _check_version(where, option.accepts, value)


def _convert(option: _Option, value: Any, base: Path | None) -> Any:
    """A checked layer value as the field holds it; paths are relative to `base` (None: the working folder)."""
    if option.kind is list:
        if option.element is Target:
            return tuple(targets.select(value))
        return tuple(value) if value or not option.optional else None
    if option.path:
        return base / value if base is not None else Path(value).resolve()
    return value


def _from_env(option: _Option, env: Mapping[str, str]) -> Any:
    """The value the environment gives an option, or None."""
    raw = env.get(option.env) if option.env else None
    if not raw:
        return None
    if option.kind is bool:
        return True if raw == "1" else None
    value: Any = raw.split(",") if option.kind is list else raw
    if option.kind is int:
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{option.env} must be {option.accepts}; got {raw!r}") from None
    _check_value(option, str(option.env), value)
    return value


def environment_option(key: str, env: Mapping[str, str]) -> Any:
    """An option as defaults.toml and `env` set it: for commands outside a project (`runtime fetch --offline`)."""
    option = _options()[key]
    value = _from_env(option, env)
    return option.default if value is None else value


def compute_options(
    root: Path, tool: Mapping[str, Any], *, env: Mapping[str, str], flags: Mapping[str, Any]
) -> BuildOptions:
    """Resolve defaults.toml, then [tool.xbuild] (`tool`), then `env`, then `flags` (field name -> value or None)."""
    options = _options()
    allowed = [key for key, option in options.items() if option.pyproject]
    for key in tool:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"unknown key {_where(key)}: {hint}allowed keys are {', '.join(allowed)}")
        _check_type(options[key], _where(key), tool[key])
    values: dict[str, Any] = {}
    for key, option in options.items():
        value = _convert(option, option.default, root) if option.default is not None else None
        if key in tool:
            _check_value(option, _where(key), tool[key])
            value = _convert(option, tool[key], root)
        if (from_env := _from_env(option, env)) is not None:
            value = _convert(option, from_env, None)
        if (flag := flags.get(option.name)) is not None:
            # Flags with a fixed set of values are checked by argparse (`choices=`); --source by runtimes.
            if option.version:
                _check_version(f"--{key}", option.accepts, flag)
            value = _convert(option, flag, None)
        values[option.name] = value
    return BuildOptions(**values)


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


def load(
    project_dir: Path, *, env: Mapping[str, str] | None = None, flags: Mapping[str, Any] | None = None
) -> tuple[Project, BuildOptions]:
    """Read and check pyproject.toml in `project_dir`; then resolve the build options with `env` and `flags`."""
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
    return info, compute_options(project_dir.resolve(), tool, env=env or {}, flags=flags or {})
