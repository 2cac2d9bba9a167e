"""The from-source runtimes the slow tests use, built in one background process.

Built on first use, one after another, the three runtimes CI needs cost about 35 of
a cold run's minutes on 2 cores while the tests between them leave a core idle much
of the time (wine, qemu, downloads). So the session starts one niced process that
builds them in order (x86_64 glibc first: the others' build Python and every slow
test's bytecode Python) as soon as collection ends, runs the fast tests first, and
runs last the modules that use the aarch64 or musl runtime. A test waits for what it
needs in this process (`build_runtime` blocks on the publish lock the background
build holds and then returns its result), never inside a CLI call with a timeout;
if the background build failed, the same call builds in the foreground and fails
with the builder's own error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HOST_TRIPLE = "x86_64-unknown-linux-gnu"
TRIPLES = [HOST_TRIPLE, "aarch64-unknown-linux-gnu", "x86_64-unknown-linux-musl"]
# Modules whose slow tests build with the aarch64 glibc or x86_64 musl source runtime.
LATE_MODULES = {
    "test_ci_script", "test_cpython_app", "test_cpython_runtime", "test_crossbuild_slow",
    "test_lock", "test_onefile", "test_resolve", "test_robust",
}  # fmt: skip

_SCRIPT = """
import logging, sys
from xbuild import targets
from xbuild.cpython import runtime
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
for triple in sys.argv[1:]:
    runtime.build_runtime(targets.get(triple))
    print("published", triple, flush=True)
"""

_process: subprocess.Popen[bytes] | None = None


def _slow(item: pytest.Item) -> bool:
    return item.get_closest_marker("slow") is not None


def _late(item: pytest.Item) -> bool:
    return _slow(item) and item.module is not None and item.module.__name__.rsplit(".", 1)[-1] in LATE_MODULES


def order(items: list[pytest.Item]) -> None:
    """Fast tests first, then slow ones, then those that need the late runtimes (stable within each)."""
    items.sort(key=lambda item: 2 if _late(item) else 1 if _slow(item) else 0)


def _missing() -> list[str]:
    from xbuild import targets
    from xbuild.cpython import runtime as built

    return [t for t in TRIPLES if built.published_runtime(targets.get(t)) is None]


def start(items: list[pytest.Item], log: Path) -> None:
    """Start the background build when slow tests are selected and a runtime is missing."""
    global _process
    if _process is not None or not any(_slow(item) for item in items) or _host() is None:
        return
    missing = _missing()
    if not missing:
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        _process = subprocess.Popen(["nice", "-n", "10", sys.executable, "-c", _SCRIPT, *missing], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    print(f"\nbuilding {', '.join(missing)} from source in the background (log {log})", file=sys.stderr)


_ready: set[str] = set()


def wait(item: pytest.Item) -> None:
    """Before a slow test: every runtime before a late test; the host's before the others
    when it is being built or no python3.X of the default minor is installed."""
    from xbuild import bytecode, targets
    from xbuild.cpython import runtime as built

    from .conftest import DEFAULT_MINOR

    if not _slow(item) or _host() is None:
        return
    if _late(item):
        if _process is not None:
            _process.wait()
        needed = TRIPLES
    else:
        installed = shutil.which(f"python{DEFAULT_MINOR}")
        has_python = installed is not None and bytecode.host_version(Path(installed)) == DEFAULT_MINOR
        needed = [HOST_TRIPLE] if _process is not None or not has_python else []
    for triple in needed:
        if triple not in _ready:
            built.build_runtime(targets.get(triple))  # published: returns at once; being built: waits for it
            _ready.add(triple)


def _host() -> str | None:
    from xbuild import targets

    host = targets.host()
    return host.triple if host is not None and host.triple == HOST_TRIPLE else None


def stop() -> None:
    """An interrupted session leaves no builder running (its work folder is resumed next time)."""
    if _process is not None and _process.poll() is None:
        os.killpg(_process.pid, 15)
        _process.wait()
