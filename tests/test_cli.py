"""What a user sees from the CLI: help that teaches, tables, and one-line errors."""

from __future__ import annotations

import argparse
import json
import re
import shlex
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from xbuild import __version__
from xbuild.cli import build_parser
from xbuild.errors import (
    ArchiveError,
    AuditFailedError,
    CannotRunError,
    CompileError,
    ConfigError,
    ExitCode,
    IntegrityError,
    OfflineError,
    ResolveError,
    SourceUnavailableError,
    UnknownTargetError,
)
from xbuild.toolchain import pin

from .conftest import REPO, assert_one_line_error, run_xbuild


def test_version() -> None:
    proc = run_xbuild("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"xbuild {__version__}"


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every (sub-)command's parser, with the words that reach it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


def _example_lines(epilog: str) -> list[str]:
    """`xbuild ...` lines of an `examples:` section, without the description after two spaces."""
    section = re.split(r"^examples?:\n", epilog, maxsplit=1, flags=re.M)[1:]
    return [line.strip().split("  ")[0] for line in "".join(section).splitlines() if line.strip().startswith("xbuild ")]


def test_every_help_page_has_examples_that_parse() -> None:
    """Each example is a command line `build_parser()` accepts, and reaches the page it illustrates."""
    parsers = list(_parsers(build_parser()))
    assert len(parsers) > 10
    for path, parser in parsers:
        examples = _example_lines(parser.epilog or "")
        assert examples, f"`xbuild {' '.join(path)} --help` has no examples"
        for line in examples:
            argv = shlex.split(line.split(" | ")[0])[1:]  # a pipe into jq is the shell's
            head = argv[: argv.index("--")] if "--" in argv else argv
            try:
                args = build_parser().parse_args(head)
            except SystemExit as e:
                raise AssertionError(f"example in `xbuild {' '.join(path)} --help` does not parse: {line}") from e
            assert args.command is None or callable(args.handler), line


def test_help_page_is_printed() -> None:
    proc = run_xbuild("runtime", "fetch", "--help")
    assert proc.returncode == 0 and proc.stdout.startswith("usage: xbuild runtime fetch")
    assert "xbuild runtime fetch -t x86_64-pc-windows-msvc --python 3.11" in proc.stdout


def test_targets_table_and_json() -> None:
    table = run_xbuild("targets")
    assert table.returncode == 0
    assert "x86_64-pc-windows-msvc" in table.stdout and "glibc 2.17" in table.stdout
    rows = json.loads(run_xbuild("targets", "--json").stdout)
    by_triple = {r["triple"]: r for r in rows}
    assert by_triple["aarch64-apple-darwin"]["zig_target"] == "aarch64-macos.11.0-none"
    assert by_triple["x86_64-pc-windows-msvc"]["exe_suffix"] == ".exe"
    assert "manylinux2014_aarch64" in by_triple["aarch64-unknown-linux-gnu"]["wheel_platforms"]
    windows_only = json.loads(run_xbuild("targets", "--os", "windows", "--json").stdout)
    assert {r["os"] for r in windows_only} == {"windows"}


def test_unknown_target_is_one_line() -> None:
    line = assert_one_line_error(run_xbuild("cc", "--target", "x86_64-pc-windws-msvc", "--", "-v"), "unknown target")
    assert "x86_64-pc-windows-msvc" in line


def test_wrong_zig_version_is_one_line(tmp_path: Path) -> None:
    fake = tmp_path / "zig"
    fake.write_text("#!/bin/sh\necho 0.9.1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    proc = run_xbuild("toolchain", "show", env={"XBUILD_ZIG": str(fake)})
    assert_one_line_error(proc, "zig 0.9.1", f"needs zig {pin()['version']}", "pip install ziglang==")


def test_missing_zig_override_is_one_line(tmp_path: Path) -> None:
    proc = run_xbuild("toolchain", "show", env={"XBUILD_ZIG": str(tmp_path / "no-such-zig")})
    assert_one_line_error(proc, "zig not found", "XBUILD_ZIG")


def test_missing_ziglang_package_is_one_line() -> None:
    # sys.modules[name] = None makes `import ziglang` fail as if it were not installed.
    proc = run_xbuild("cc", "-t", "linux-x86_64", "--", "-v", python_prelude="import sys; sys.modules['ziglang'] = None")
    assert_one_line_error(proc, "zig not found", "pip install ziglang==")


def test_debug_shows_the_traceback() -> None:
    proc = run_xbuild("--debug", "cc", "-t", "nowhere", "--", "-v")
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_doctor_reports_zig(tmp_path: Path) -> None:
    proc = run_xbuild("doctor", "--json", env={"XBUILD_CACHE_DIR": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr
    checks = {c["name"]: c for c in json.loads(proc.stdout)}
    assert checks["zig"]["ok"] and pin()["version"] in checks["zig"]["detail"]
    assert str(tmp_path / "cache") in checks["cache"]["detail"]


def test_doctor_fails_without_zig(tmp_path: Path) -> None:
    proc = run_xbuild("doctor", env={"XBUILD_ZIG": str(tmp_path / "missing")})
    assert proc.returncode == 1
    assert "[FAIL] zig" in proc.stdout


def test_bare_target_flag_means_build(tmp_path: Path) -> None:
    # `xbuild --target T` in a folder is `xbuild build --target T` there: with no
    # pyproject.toml the build's own one-line error shows the routing.
    code = f"import os, sys; os.chdir({str(tmp_path)!r}); from xbuild.cli import main; sys.exit(main(['--target', 'win_amd64']))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert_one_line_error(proc, "no pyproject.toml in .")
    assert not (tmp_path / "dist").exists()


def test_exit_codes_are_documented_in_readme_and_help() -> None:
    readme = (REPO / "README.md").read_text().split("## Exit status", 1)[1]
    documented = dict(re.findall(r"^\| (\d+) \| (.+) \|$", readme, flags=re.M))
    assert documented == {str(int(code)): code.meaning for code in ExitCode}
    help_text = run_xbuild("--help").stdout
    for code in ExitCode:
        assert f"  {int(code):<4} {code.meaning}" in help_text


def test_exit_code_per_kind_of_failure() -> None:
    """Errors of one kind share a code; a strict build's audit failure is `xbuild audit`'s 1."""
    assert AuditFailedError("x").exit_code == ExitCode.AUDIT == 1
    assert ConfigError("x").exit_code == UnknownTargetError("x").exit_code == ExitCode.USAGE
    assert IntegrityError("x").exit_code == ArchiveError("x").exit_code == ExitCode.INTEGRITY
    assert SourceUnavailableError("x").exit_code == OfflineError("x").exit_code == ExitCode.NETWORK
    assert CompileError("x").exit_code == CannotRunError("x").exit_code == ExitCode.TOOLCHAIN
    assert ResolveError("x").exit_code == ExitCode.FAILED
    assert len({int(c) for c in ExitCode}) == len(ExitCode)
