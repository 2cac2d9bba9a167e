"""Shared fixtures: the checked zig, a CLI runner, and helpers for one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from xbuild.toolchain import Zig, find_zig

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def zig() -> Zig:
    return find_zig()


def run_xbuild(*args: str, env: Mapping[str, str] | None = None, python_prelude: str = "") -> subprocess.CompletedProcess[str]:
    """Run the CLI in a fresh interpreter, as a user would (`python -m xbuild ...`)."""
    code = f"{python_prelude}\nimport sys\nfrom xbuild.cli import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str, code: int | None = None) -> str:
    """The failure a user sees: non-zero exit (`code` when given), one `xbuild: error:` line, no traceback."""
    assert proc.returncode != 0, proc
    if code is not None:
        assert proc.returncode == code, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("xbuild: error: "), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]
