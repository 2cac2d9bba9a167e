"""ci/xbuild-ci.sh, the single-host CI users copy, run on the example as users would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.qemu, pytest.mark.wine]


def test_ci_script_builds_and_smoke_runs_every_target(tmp_path: Path) -> None:
    project = tmp_path / "yamldigest"
    shutil.copytree(REPO / "examples" / "yamldigest", project, ignore=shutil.ignore_patterns("dist", "build", "*.egg-info"))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(
        ["bash", str(REPO / "ci" / "xbuild-ci.sh"), str(project), "--", "--info", "--text", "k: v"],
        capture_output=True, text=True, env=env, timeout=1800,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for triple, platform in [("x86_64-unknown-linux-gnu", "linux/x86_64"), ("aarch64-unknown-linux-gnu", "linux/aarch64"), ("x86_64-pc-windows-msvc", "win32/AMD64")]:
        assert f"== {triple}: smoke run" in proc.stdout
        assert platform in proc.stdout
    assert proc.stdout.count("loader CSafeLoader") == 3
