"""Compile an artifact's Python sources to bytecode, reproducibly, with a host interpreter.

The host interpreter must have the runtime's minor version (bytecode is version
specific, not platform specific), so foreign runtimes never run on the host. Hash-based
`unchecked-hash` .pyc files carry no timestamps: the same sources give the same
bytes, and the loader never re-checks them on a read-only install.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

from xbuild.errors import BuildError
from xbuild.runtimes.model import Runtime
from xbuild.targets import Target

log = logging.getLogger(__name__)


def host_python(minor: str, runtime: Runtime, target: Target) -> Path:
    """A Python `minor` that runs here: `python3.X` on PATH, else the runtime when it is native."""
    for name in (f"python{minor}",):
        found = shutil.which(name)
        if found and _version(Path(found)) == minor:
            return Path(found)
    from xbuild import targets
    from xbuild.cpython.runtime import cached_host_python

    built = cached_host_python(minor)  # the host build a cross source build made
    if built is not None and _version(built) == minor:
        return built
    host = targets.host()
    if host and host.machine == target.machine and target.os == "linux":
        exe = runtime.path(runtime.executable)
        if exe.exists() and _version(exe) == minor:
            return exe
    raise BuildError(f"compiling bytecode needs Python {minor} on this host: install python{minor} (apt-get install python{minor}, pyenv, uv python install {minor})")


def _version(python: Path) -> str | None:
    try:
        out = subprocess.run([str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True, timeout=60)
    except OSError:
        return None
    return out.stdout.strip() or None


def compile_tree(python: Path, folder: Path, *, strip: Path, optimize: int) -> None:
    """Write __pycache__/*.pyc for every .py below `folder`; paths in them start below `strip`.

    Files that do not compile (templates, Python 2 leftovers in some wheels) stay
    source-only, as pip leaves them; the count is logged.
    """
    argv = [
        str(python), "-I", "-m", "compileall", "-q", "-j", "0",
        "--invalidation-mode", "unchecked-hash",
        "-s", str(strip), "-p", "",
        "-o", str(optimize),
        str(folder),
    ]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        failed = [line.split("***", 1)[-1].strip() for line in proc.stdout.splitlines() if line.startswith("***")]
        if not failed:
            raise BuildError(f"bytecode compilation failed in {folder}: {proc.stderr.strip()[-300:] or 'compileall failed'}")
        log.info("%d file(s) in %s do not compile and stay source-only (first: %s)", len(failed), folder.name, failed[0])
