"""Compile an artifact's Python sources to bytecode, reproducibly, with a host interpreter.

The host interpreter must have the runtime's minor version (bytecode is version
specific, not platform specific), so foreign runtimes never run on the host. Hash-based
`unchecked-hash` .pyc files carry no timestamps: the same sources give the same
bytes, and the loader never re-checks them on a read-only install.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from xbuild import cache
from xbuild.errors import BuildError
from xbuild.runtimes.model import Runtime
from xbuild.targets import Target

log = logging.getLogger(__name__)


def host_python(minor: str, runtime: Runtime, target: Target, *, offline: bool = False) -> Path:
    """A Python `minor` that runs here, found or made once.

    In order: `python3.X` on PATH; a host CPython xbuild built earlier (a source build's
    build Python, or this machine's own from-source runtime); the runtime itself when it
    is native; else, when the pinned source lock holds that minor, CPython built for
    this machine from it (minutes, once per cache). A Windows or foreign-Linux artifact
    therefore never needs the user to install a matching Python.
    """
    found = shutil.which(f"python{minor}")
    if found and host_version(Path(found)) == minor:
        return Path(found)
    from xbuild import targets
    from xbuild.cpython import runtime as source_runtime

    built = source_runtime.cached_host_python(minor)
    if built is not None and host_version(built) == minor:
        return built
    host = targets.host()
    if host and host.machine == target.machine and target.os == "linux":
        exe = runtime.path(runtime.executable)
        if exe.exists() and host_version(exe) == minor:
            return exe
    made = source_runtime.bytecode_python(minor, offline=offline)
    if made is not None and host_version(made) == minor:
        return made
    raise BuildError(f"compiling bytecode needs Python {minor} on this host: install python{minor} (apt-get install python{minor}, pyenv, uv python install {minor})")


def compile_stdlib(python: Path, runtime: Runtime, folder: Path, *, strip: Path, optimize: int) -> None:
    """Bytecode for the runtime's (trimmed) stdlib at `folder`, compiled once per runtime and reused.

    The same source at the same place in the artifact, compiled by the same interpreter,
    gives the same .pyc bytes (unchecked-hash, no timestamps). So the first build keeps
    them in the cache (`bytecode/<key>/`, with a manifest of each source's and .pyc's
    sha256) and later builds copy them instead of compiling the stdlib again. Nothing is
    trusted blindly: a source whose hash differs from the manifest's, a missing entry
    (an `include` pattern) or a .pyc that no longer hashes to its record makes this
    build compile the folder as before and record what it made.
    """
    key = cache.sha256_bytes(
        "\n".join([str(runtime.root), _full_version(python), str(python), folder.relative_to(strip).as_posix(), str(optimize)]).encode()
    )[:24]
    store = cache.root() / "bytecode" / key
    suffix = f".{_tag(python)}{f'.opt-{optimize}' if optimize else ''}.pyc"
    sources = sorted(
        Path(dirpath, name).relative_to(folder) for dirpath, _dirs, files in os.walk(folder) for name in files if name.endswith(".py")
    )
    hashes = {rel.as_posix(): cache.sha256_file(folder / rel) for rel in sources}

    def pyc(rel: Path) -> Path:
        return rel.parent / "__pycache__" / (rel.name[:-3] + suffix)

    if _reuse(store, folder, sources, hashes, pyc):
        return
    compile_tree(python, folder, strip=strip, optimize=optimize)
    store.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=store.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the cache is shared
    manifest: dict[str, list[str | None]] = {}
    for rel in sources:
        compiled = folder / pyc(rel)
        if compiled.is_file():  # a file that does not compile stays source-only, and is recorded so
            (staging / pyc(rel)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(compiled, staging / pyc(rel))
        manifest[rel.as_posix()] = [hashes[rel.as_posix()], cache.sha256_file(compiled) if compiled.is_file() else None]
    (staging / _MANIFEST).write_text(json.dumps(manifest, sort_keys=True))
    shutil.rmtree(store, ignore_errors=True)
    cache.publish_dir(staging, store)


_MANIFEST = "manifest.json"


def _reuse(store: Path, folder: Path, sources: list[Path], hashes: dict[str, str], pyc: Callable[[Path], Path]) -> bool:
    """Copy the cached .pyc of every source into `folder` if the cache has all of them, verified; else False."""
    try:
        manifest = json.loads((store / _MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    if not all(manifest.get(key, [None])[0] == digest for key, digest in hashes.items()):
        return False
    copies = []
    for rel in sources:
        recorded = manifest[rel.as_posix()][1]
        if recorded is None:
            continue
        try:
            data = (store / pyc(rel)).read_bytes()
        except OSError:
            return False
        if cache.sha256_bytes(data) != recorded:
            log.warning("the cached bytecode %s changed since it was recorded; compiling the stdlib again", store / pyc(rel))
            return False
        copies.append((folder / pyc(rel), data))
    for dest, data in copies:
        dest.parent.mkdir(exist_ok=True)
        dest.write_bytes(data)
    return True


_TAGS: dict[Path, tuple[str, str]] = {}


def _probe(python: Path) -> tuple[str, str]:
    """The interpreter's bytecode cache tag (`cpython-311`) and full version."""
    if python not in _TAGS:
        code = "import sys; print(sys.implementation.cache_tag, sys.version.split()[0])"
        out = subprocess.run([str(python), "-I", "-c", code], capture_output=True, text=True, timeout=60).stdout.split()
        if len(out) != 2:
            raise BuildError(f"{python} did not say its bytecode tag: it cannot compile the stdlib")
        _TAGS[python] = (out[0], out[1])
    return _TAGS[python]


def _tag(python: Path) -> str:
    return _probe(python)[0]


def _full_version(python: Path) -> str:
    return _probe(python)[1]


def host_version(python: Path) -> str | None:
    """The "3.X" an interpreter reports, or None when it does not run."""
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
