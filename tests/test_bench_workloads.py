"""bench/interpreter_speed.py's workloads: each runs at a tiny size and prints the seconds it took."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from types import ModuleType

import pytest

from .conftest import REPO

WORKLOADS = REPO / "bench" / "workloads"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("interpreter_speed", REPO / "bench" / "interpreter_speed.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_workload_script_is_listed() -> None:
    assert sorted(w.name for w in _bench().WORKLOADS) == sorted(p.stem for p in WORKLOADS.glob("*.py"))


@pytest.mark.parametrize("script", sorted(p.name for p in WORKLOADS.glob("*.py")))
def test_workload_prints_its_seconds(script: str) -> None:
    proc = subprocess.run([sys.executable, "-I", str(WORKLOADS / script), "1"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert 0.0 <= float(proc.stdout.strip()) < 30
