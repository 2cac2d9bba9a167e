"""pyproject.toml checking: every mistake is named, with what would be right."""

from __future__ import annotations

from pathlib import Path

import pytest

from xbuild import config
from xbuild.errors import ConfigError

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
    assert options.python == "3.11" and options.targets == () and options.output_dir == tmp_path.resolve() / "dist"


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
        ("\n[tool.xbuild]\noptimize = \"high\"\n", ["[tool.xbuild] optimize must be 0, 1 or 2", "'high'"]),
        ("\n[tool.xbuild]\noptimize = 3\n", ["optimize must be 0, 1 or 2"]),
        ("\n[tool.xbuild]\ntargets = \"win_amd64\"\n", ["[tool.xbuild] targets must be a list"]),
        ('\n[tool.xbuild]\naudit = "loose"\n', ['"strict"', '"warn"']),
        ('\n[tool.xbuild]\nruntime-sources = ["conda"]\n', ["runtime-sources", "'conda'"]),
        ('\n[tool.xbuild]\npython = "three"\n', ["[tool.xbuild] python must be"]),
        ('\n[tool.xbuild]\ntargets = ["plan9"]\n', ["unknown target 'plan9'"]),
    ],
)
def test_mistakes_are_named(tmp_path: Path, extra: str, needles: list[str]) -> None:
    with pytest.raises(Exception) as e:
        config.load(_project(tmp_path, extra))
    for needle in needles:
        assert needle in str(e.value)


def test_missing_entry_point(tmp_path: Path) -> None:
    base = '[project]\nname = "demo"\nversion = "1.0"\n'
    with pytest.raises(ConfigError, match=r"no entry point: add \[project.scripts\]"):
        config.load(_project(tmp_path, base=base))


def test_bad_entry_point_value(tmp_path: Path) -> None:
    base = BASE.replace('"demo.cli:main"', '"demo.cli main"')
    with pytest.raises(ConfigError, match="is not of the form 'package.module:function'"):
        config.load(_project(tmp_path, base=base))


def test_dynamic_version_waits_for_the_built_wheel(tmp_path: Path) -> None:
    base = '[project]\nname = "demo"\ndynamic = ["version"]\n[project.scripts]\ndemo = "demo:main"\n'
    project, _ = config.load(_project(tmp_path, base=base))
    assert project.version is None
    assert project.built_as("Demo", "1.2.3", ">=3.11").version == "1.2.3"
    with pytest.raises(ConfigError, match='list "version" in \\[project\\] dynamic'):
        config.load(_project(tmp_path, base=base.replace('dynamic = ["version"]\n', "")))


def test_no_pyproject(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no pyproject.toml"):
        config.load(tmp_path)
