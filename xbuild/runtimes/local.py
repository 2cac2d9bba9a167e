"""`xbuild runtime import PATH`: a CPython a user brings, as an archive or a folder.

The input must already be in the `install_only` layout (a PBS archive, a folder
unpacked from one, or a Windows python.org tree), either at its top or inside a
single top folder such as `python/`. It is hashed, copied into the cache and
published like any other runtime.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from xbuild import archive, cache
from xbuild.errors import SourceUnavailableError, UsageError
from xbuild.runtimes import model
from xbuild.runtimes.floor import libc_floor
from xbuild.runtimes.model import Runtime
from xbuild.runtimes.offer import Offer, matches, version_key
from xbuild.runtimes.store import installed, publish, published, tree_key
from xbuild.targets import Target

NAME = "local"


def _layout_root(folder: Path, target: Target) -> Path:
    """The runtime's root: `folder` itself, or its only subfolder."""
    marker = "include" if target.os == "windows" else "bin"
    if (folder / marker).is_dir():
        return folder
    children = [p for p in folder.iterdir() if p.is_dir()]
    if len(children) == 1 and (children[0] / marker).is_dir():
        return children[0]
    raise UsageError(f"{folder}: not a CPython install_only layout (no {marker}/ at its top or in its only folder)")


def offers(target: Target | None = None, python: str | None = None) -> list[Offer]:
    """Runtimes a user imported: as a source, they come first when present."""
    found = [
        Offer(
            NAME,
            rt.triple,
            rt.python,
            f"CPython {rt.python} for {rt.triple} (imported from {rt.origin})",
            rt.origin,
            next(iter(rt.inputs.values())),
            folder=rt.root.name,
        )
        for rt in installed()
        if rt.source == NAME and (target is None or rt.triple == target.triple) and matches(rt.python, python)
    ]
    return sorted(found, key=lambda o: version_key(o.python), reverse=True)


def install(offer: Offer, target: Target, *, offline: bool = False) -> Runtime:
    found = published(target, offer.key)
    if found is None:
        raise SourceUnavailableError(f"{offer.what} is no longer in the cache; import it again")
    return found


def import_runtime(path: Path, target: Target) -> Runtime:
    """Publish the runtime at `path` (archive or folder) for `target`."""
    if not path.exists():
        raise UsageError(f"{path} does not exist: give a runtime archive (.tar.gz, .tar.zst, .zip) or folder")
    digest = tree_key(path) if path.is_dir() else cache.sha256_file(path)
    origin = str(path.resolve())

    def build(work: Path) -> Runtime:
        if path.is_dir():
            shutil.copytree(path, work / "x", symlinks=True)
        else:
            archive.extract(path, work / "x", what=path.name)
        root = _layout_root(work / "x", target)
        floor = libc_floor(root, target)
        return model.describe(root, target, source=NAME, origin=origin, inputs={path.name: digest}, libc_floor=floor)

    # The version is only known after unpacking; the key uses the content hash alone.
    return publish(target, f"{NAME}-{digest[:16]}", build)
