"""pyproject.toml checking: every mistake is named, with what would be right."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from xbuild import config
from xbuild.cli import build_parser
from xbuild.errors import ConfigError, UnknownTargetError
from xbuild.resources import load_toml, package_data

BASE = """
[project]
name = "demo"
version = "1.0"
dependencies = ["PyYAML==6.0.3"]

[project.scripts]
demo = "demo.cli:main"
"""


def _project(tmp_path: Path, extra: str = "", base: str = BASE) -> Path:
    (tmp_path / "pyproject.toml").write_text(base + extra)
    return tmp_path


def test_defaults(tmp_path: Path) -> None:
    project, options = config.load(_project(tmp_path))
    assert (project.name, project.version, project.dependencies) == ("demo", "1.0", ("PyYAML==6.0.3",))
    assert [(e.name, e.module, e.attr, e.gui) for e in project.entry_points] == [("demo", "demo.cli", "main", False)]
    assert options.python == "3.13" and options.targets == () and options.output_dir == tmp_path.resolve() / "dist"


def test_tool_table_and_cli_override(tmp_path: Path) -> None:
    extra = '\n[tool.xbuild]\ntargets = ["win_amd64", "linux-aarch64"]\noptimize = 2\naudit = "warn"\nexclude = ["*/unittest"]\n'
    _, options = config.load(_project(tmp_path, extra))
    assert [t.triple for t in options.targets] == ["x86_64-pc-windows-msvc", "aarch64-unknown-linux-gnu"]
    assert (options.optimize, options.audit, options.exclude) == (2, "warn", ("*/unittest",))
    assert options.override(optimize=1, audit=None).optimize == 1
    assert options.override(optimize=1, audit=None).audit == "warn"


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        ('\n[tool.xbuild]\ntarget = ["win_amd64"]\n', ["unknown key [tool.xbuild] target", "did you mean 'targets'", "allowed keys"]),
        ('\n[tool.xbuild]\noffline = true\n', ["unknown key [tool.xbuild] offline", "allowed keys are targets, python,"]),
        ("\n[tool.xbuild]\noptimize = \"high\"\n", ["[tool.xbuild] optimize must be 0, 1 or 2", "'high'"]),
        ("\n[tool.xbuild]\noptimize = 3\n", ["optimize must be 0, 1 or 2"]),
        ("\n[tool.xbuild]\ntargets = \"win_amd64\"\n", ["[tool.xbuild] targets must be a list"]),
        ('\n[tool.xbuild]\naudit = "loose"\n', ['"strict"', '"warn"']),
        ('\n[tool.xbuild]\nruntime-sources = ["conda"]\n', ["runtime-sources", "'conda'"]),
        ('\n[tool.xbuild]\npython = "three"\n', ["[tool.xbuild] python must be"]),
    ],
)
def test_mistakes_are_named(tmp_path: Path, extra: str, needles: list[str]) -> None:
    with pytest.raises(ConfigError) as e:
        config.load(_project(tmp_path, extra))
    for needle in needles:
        assert needle in str(e.value)


def test_unknown_target_is_named(tmp_path: Path) -> None:
    with pytest.raises(UnknownTargetError, match="unknown target 'plan9'"):
        config.load(_project(tmp_path, '\n[tool.xbuild]\ntargets = ["plan9"]\n'))


def _flags(*argv: str) -> dict[str, object]:
    return vars(build_parser().parse_args(["build", *argv]))


def test_cascade_defaults_then_pyproject_then_environment_then_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _project(tmp_path, '\n[tool.xbuild]\npython = "3.12"\noptimize = 1\noutput-dir = "out"\n')
    _, options = config.load(root, env={}, flags={})
    assert (options.python, options.optimize, options.audit, options.offline) == ("3.12", 1, "strict", False)
    assert options.output_dir == root.resolve() / "out"  # relative to the project
    _, options = config.load(root, env={"XBUILD_OFFLINE": "1"}, flags={})
    assert options.offline is True
    _, options = config.load(root, env={"XBUILD_OFFLINE": "0"}, flags={})
    assert options.offline is False
    monkeypatch.chdir(tmp_path / "..")
    flags = _flags("--python", "3.13", "--optimize", "2", "--offline", "--output-dir", "elsewhere", "--source", "pypi", "-t", "win_amd64")
    _, options = config.load(root, env={}, flags=flags)
    assert (options.python, options.optimize, options.offline, options.runtime_sources) == ("3.13", 2, True, ("pypi",))
    assert [t.triple for t in options.targets] == ["x86_64-pc-windows-msvc"]
    assert options.output_dir == (tmp_path / ".." / "elsewhere").resolve()  # relative to the working folder
    _, untouched = config.load(root, env={}, flags=_flags())
    assert (untouched.python, untouched.optimize, untouched.offline, untouched.runtime_sources) == ("3.12", 1, False, None)


def test_a_bad_version_flag_names_the_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--glibc must be a glibc version floor such as \"2.17\".*got 'new'"):
        config.load(_project(tmp_path), env={}, flags=_flags("--glibc", "new"))


def test_every_build_flag_is_an_option_and_every_option_has_a_default_entry() -> None:
    """A flag reaches the cascade by its dest: each is a BuildOptions field, each field a defaults.toml entry."""
    fields = {f.name for f in dataclasses.fields(config.BuildOptions)}
    defaults = load_toml(package_data("defaults.toml"))["option"]
    assert {key.replace("-", "_") for key in defaults} == fields
    build = build_parser()._subparsers._group_actions[0].choices["build"]  # argparse keeps sub-parsers private
    dests = {a.dest for a in build._actions if a.option_strings and a.dest != "help"}
    assert dests <= fields and {"targets", "python", "runtime_sources", "offline"} <= dests


def test_missing_entry_point(tmp_path: Path) -> None:
    base = '[project]\nname = "demo"\nversion = "1.0"\n'
    with pytest.raises(ConfigError, match=r"no entry point: add \[project.scripts\]"):
        config.load(_project(tmp_path, base=base))


def test_bad_entry_point_value(tmp_path: Path) -> None:
    base = BASE.replace('"demo.cli:main"', '"demo.cli main"')
    with pytest.raises(ConfigError, match=r"is not of the form 'package\.module:function'"):
        config.load(_project(tmp_path, base=base))


def test_dynamic_version_waits_for_the_built_wheel(tmp_path: Path) -> None:
    base = '[project]\nname = "demo"\ndynamic = ["version"]\n[project.scripts]\ndemo = "demo:main"\n'
    project, _ = config.load(_project(tmp_path, base=base))
    assert project.version is None
    assert project.built_as("Demo", "1.2.3", ">=3.11").version == "1.2.3"
    with pytest.raises(ConfigError, match='list "version" in \\[project\\] dynamic'):
        config.load(_project(tmp_path, base=base.replace('dynamic = ["version"]\n', "")))


def test_no_pyproject(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no pyproject\.toml"):
        config.load(tmp_path)
