"""The from-source runtimes the slow tests use, built in one background process.

Built on first use, one after another, the three runtimes CI needs cost about 35 of
a cold run's minutes on 2 cores while the tests between them leave a core idle much
of the time (wine, qemu, downloads). So the session starts one niced process that
builds them in order (x86_64 glibc first: the others' build Python and every slow
test's bytecode Python) as soon as collection ends, runs the fast tests first, then
the slow ones grouped by the last runtime their module needs (`NEEDS`), so each group
runs while the next runtime builds. A test waits for what it
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
AARCH64 = "aarch64-unknown-linux-gnu"
MUSL = "x86_64-unknown-linux-musl"
TRIPLES = [HOST_TRIPLE, AARCH64, MUSL]  # the background build's order
# Modules whose slow tests build with a source runtime other than the host's, and which.
NEEDS = {
    "test_ci_script": [AARCH64], "test_crossbuild_slow": [AARCH64], "test_lock": [AARCH64],
    "test_onefile": [AARCH64], "test_resolve": [AARCH64], "test_robust": [AARCH64],
    "test_cpython_app": [AARCH64, MUSL], "test_cpython_runtime": [AARCH64, MUSL],
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


def _needs(item: pytest.Item) -> list[str]:
    """The source runtimes a slow test waits for: the host's, and its module's others."""
    if not _slow(item):
        return []
    module = item.module.__name__.rsplit(".", 1)[-1] if item.module is not None else ""
    return [HOST_TRIPLE, *NEEDS.get(module, [])]


def order(items: list[pytest.Item]) -> None:
    """Fast tests first, then slow ones by the last runtime they need in the background's
    order (stable within each group), so each group runs while the next runtime builds."""
    items.sort(key=lambda item: max((TRIPLES.index(t) + 1 for t in _needs(item)), default=0))


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
    """Before a slow test: the runtimes its module needs; the host's only while it is being
    built or when no python3.X of the default minor is installed (bytecode needs one)."""
    from xbuild import bytecode, targets
    from xbuild.cpython import runtime as built

    from .conftest import DEFAULT_MINOR

    needed = _needs(item)
    if not needed or _host() is None:
        return
    if needed == [HOST_TRIPLE] and _process is None:
        installed = shutil.which(f"python{DEFAULT_MINOR}")
        if installed is not None and bytecode.host_version(Path(installed)) == DEFAULT_MINOR:
            return
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
