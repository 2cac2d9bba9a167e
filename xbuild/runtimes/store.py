"""Published runtimes in the cache: `runtimes/<triple>/<key>/`, each written once, atomically.

A runtime is assembled in a scratch folder and renamed into place under a lock, so
concurrent xbuild processes end with one complete copy, and a failure leaves none.
Each published runtime carries a manifest of its files' hashes for `runtime verify`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from xbuild import cache
from xbuild.runtimes import model
from xbuild.runtimes.model import Runtime
from xbuild.targets import Target

log = logging.getLogger(__name__)
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


def _files(folder: Path) -> Iterator[tuple[str, Path]]:
    """(relative path, path) for every file and link below `folder`, in a stable order.

    `__pycache__` folders are left out: running a runtime's interpreter writes them.
    """
    for dirpath, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files + [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]):
            path = Path(dirpath, name)
            rel = path.relative_to(folder).as_posix()
            if rel not in (MANIFEST, model.METADATA):
                yield rel, path


def _entry(path: Path) -> str:
    """What the manifest records for one file: its sha256, or `-> target` for a link."""
    return "-> " + os.readlink(path) if path.is_symlink() else cache.sha256_file(path)


def _entries(folder: Path) -> Iterator[tuple[str, str]]:
    """(relative path, sha256 or `-> link target`) for every file below `folder`."""
    for rel, path in _files(folder):
        yield rel, _entry(path)


def write_manifest(folder: Path) -> None:
    lines = [f"{digest}  {rel}" for rel, digest in _entries(folder)]
    (folder / MANIFEST).write_text("\n".join(lines) + "\n")


def _recorded(folder: Path) -> dict[str, str] | None:
    """The manifest written at publish time, or None when it is missing."""
    try:
        lines = (folder / MANIFEST).read_text().splitlines()
    except OSError:
        return None
    recorded = {}
    for line in filter(None, lines):
        digest, rel = line.split("  ", 1)
        recorded[rel] = digest
    return recorded


def verify(runtime: Runtime) -> list[str]:
    """Files that differ from the manifest written at publish time (empty when intact)."""
    recorded = _recorded(runtime.root)
    if recorded is None:
        return [f"{MANIFEST} is missing"]
    actual = dict(_entries(runtime.root))
    problems = [f"{rel}: missing" for rel in recorded if rel not in actual]
    problems += [f"{rel}: not in the manifest" for rel in actual if rel not in recorded]
    problems += [f"{rel}: content changed" for rel, digest in actual.items() if rel in recorded and recorded[rel] != digest]
    return sorted(problems)


def _stamp_path(folder: Path) -> Path:
    """Where the file metadata seen at the last full check is kept: next to the runtime, not in it."""
    return folder.with_name(f".{folder.name}.checked.json")


def _signature(path: Path) -> list[int]:
    """Size, mtime, ctime and inode: any write, `touch -m`, chmod or copy changes one of them."""
    st = path.lstat()
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def quick_verify(runtime: Runtime) -> list[str]:
    """`verify` for every build, cheaply: only files whose metadata changed since the last check are hashed.

    The first check of a runtime (or of a copied cache) hashes every file and records
    what it saw; later ones stat the tree and hash what differs from that record.
    """
    recorded = _recorded(runtime.root)
    if recorded is None:
        return [f"{MANIFEST} is missing"]
    stamp_file = _stamp_path(runtime.root)
    try:
        seen = json.loads(stamp_file.read_text())
    except (OSError, ValueError):
        seen = {}
    current: dict[str, list[int]] = {}
    problems = []
    for rel, path in _files(runtime.root):
        current[rel] = signature = _signature(path)
        if seen.get(rel) == signature and rel in recorded:
            continue
        if rel not in recorded:
            problems.append(f"{rel}: not in the manifest")
        elif _entry(path) != recorded[rel]:
            problems.append(f"{rel}: content changed")
    problems += [f"{rel}: missing" for rel in recorded if rel not in current]
    if not problems and current != seen:
        try:
            cache.write_atomic(stamp_file, json.dumps(current, separators=(",", ":")))
        except OSError:
            pass  # a read-only cache: the next build hashes again
    return sorted(problems)


def discard_if_damaged(runtime: Runtime) -> bool:
    """True when `runtime` still matches its manifest; a damaged one is removed with one warning.

    The caller then publishes it again from its verified download.
    """
    if not quick_verify(runtime):
        return True
    folder = runtime.root
    with cache.locked(f"runtime-{runtime.triple}-{folder.name}"):
        if not (folder / model.METADATA).is_file():
            return False  # another process removed it already
        problems = quick_verify(runtime)
        if not problems:
            return True  # another process republished it meanwhile
        more = f" and {len(problems) - 1} more" if len(problems) > 1 else ""
        log.warning(
            "the cached runtime %s/%s changed after it was published (%s%s); unpacking it again",
            runtime.triple, folder.name, problems[0], more,
        )  # fmt: skip
        trash = Path(tempfile.mkdtemp(prefix=f"damaged-{folder.name}.", dir=cache.scratch_dir()))
        os.rename(folder, trash / folder.name)
        _stamp_path(folder).unlink(missing_ok=True)
    shutil.rmtree(trash, ignore_errors=True)
    return False


def tree_key(folder: Path) -> str:
    """A content hash of a folder (paths, file hashes and links), for imported runtimes."""
    digest = hashlib.sha256()
    for rel, entry in _entries(folder):
        digest.update(f"{rel}\0{entry}\n".encode())
    return digest.hexdigest()
