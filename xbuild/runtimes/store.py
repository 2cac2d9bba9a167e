"""Published runtimes in the cache: `runtimes/<triple>/<key>/`, each written once, atomically.

A runtime is assembled in a scratch folder and renamed into place under a lock, so
concurrent xbuild processes end with one complete copy, and a failure leaves none.
Each published runtime carries a manifest of its files' hashes for `runtime verify`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from xbuild import cache
from xbuild.runtimes import model
from xbuild.runtimes.model import Runtime
from xbuild.targets import Target

MANIFEST = "xbuild-runtime.files"


def root() -> Path:
    return cache.root() / "runtimes"


def published(target: Target, key: str) -> Runtime | None:
    folder = root() / target.triple / key
    return model.load(folder) if (folder / model.METADATA).is_file() else None


def publish(target: Target, key: str, build: Callable[[Path], Runtime]) -> Runtime:
    """The runtime `key` for `target`, built by `build(workdir)` unless already published.

    `build` assembles the runtime anywhere inside `workdir` and returns its record.
    """
    if found := published(target, key):
        return found
    with cache.locked(f"runtime-{target.triple}-{key}"):
        if found := published(target, key):
            return found
        work = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=cache.scratch_dir()))
        try:
            runtime = build(work)
            model.write(runtime)
            write_manifest(runtime.root)
            cache.publish_dir(runtime.root, root() / target.triple / key)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    found = published(target, key)
    assert found is not None
    return found


def installed() -> Iterator[Runtime]:
    """Every published runtime, by triple and key."""
    for meta in sorted(root().glob(f"*/*/{model.METADATA}")):
        yield model.load(meta.parent)


def _entries(folder: Path) -> Iterator[tuple[str, str]]:
    """(relative path, sha256 or `-> link target`) for every file below `folder`.

    `__pycache__` folders are left out: running a runtime's interpreter writes them.
    """
    for dirpath, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files + [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]):
            path = Path(dirpath, name)
            rel = path.relative_to(folder).as_posix()
            if rel in (MANIFEST, model.METADATA):
                continue
            if path.is_symlink():
                yield rel, "-> " + os.readlink(path)
            else:
                yield rel, cache.sha256_file(path)


def write_manifest(folder: Path) -> None:
    lines = [f"{digest}  {rel}" for rel, digest in _entries(folder)]
    (folder / MANIFEST).write_text("\n".join(lines) + "\n")


def verify(runtime: Runtime) -> list[str]:
    """Files that differ from the manifest written at publish time (empty when intact)."""
    try:
        lines = (runtime.root / MANIFEST).read_text().splitlines()
    except OSError:
        return [f"{MANIFEST} is missing"]
    recorded = {}
    for line in filter(None, lines):
        digest, rel = line.split("  ", 1)
        recorded[rel] = digest
    actual = dict(_entries(runtime.root))
    problems = [f"{rel}: missing" for rel in recorded if rel not in actual]
    problems += [f"{rel}: not in the manifest" for rel in actual if rel not in recorded]
    problems += [f"{rel}: content changed" for rel, digest in actual.items() if rel in recorded and recorded[rel] != digest]
    return sorted(problems)


def tree_key(folder: Path) -> str:
    """A content hash of a folder (paths, file hashes and links), for imported runtimes."""
    digest = hashlib.sha256()
    for rel, entry in _entries(folder):
        digest.update(f"{rel}\0{entry}\n".encode())
    return digest.hexdigest()
