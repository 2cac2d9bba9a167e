"""Lay out one target's artifact folder: launchers, a trimmed runtime, the app and its wheels.

    <name>-<version>-<triple>/
        <script>[.exe] ...      one launcher per entry point
        python3XY.dll ...       (Windows) the DLLs the launchers load, beside them
        runtime/                the CPython runtime, trimmed
        app/                    the project and its dependencies, as installed wheels
        xbuild-build.json       what went in: runtime and wheels with their sha256
"""

from __future__ import annotations

import fnmatch
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.records import RecordEntry
from installer.sources import WheelFile
from installer.utils import Scheme

from xbuild.resources import load_toml, package_data
from xbuild.runtimes.model import METADATA, Runtime
from xbuild.runtimes.store import MANIFEST
from xbuild.targets import Target

if TYPE_CHECKING:
    from installer.scripts import ScriptSection


def trim_patterns(target: Target, extra_exclude: Sequence[str]) -> list[str]:
    table = load_toml(package_data("trim.toml"))
    return [*table["common"], *table[target.os], *extra_exclude]


def _matches(rel: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(rel, p) for p in patterns)


def copy_runtime(runtime: Runtime, dest: Path, exclude: Sequence[str], include: Sequence[str]) -> None:
    """Copy the runtime without what the trim patterns drop (symlinks stay links)."""
    skip = {METADATA, MANIFEST}
    for dirpath, dirs, files in os.walk(runtime.root):
        here = Path(dirpath)
        rel_dir = here.relative_to(runtime.root).as_posix()
        prefix = "" if rel_dir == "." else f"{rel_dir}/"
        kept_dirs = []
        for name in sorted(dirs):
            rel = f"{prefix}{name}"
            if _matches(rel, exclude) and not _matches(rel, include):
                continue
            if (here / name).is_symlink():
                _copy_entry(here / name, dest / rel)
                continue
            kept_dirs.append(name)
        dirs[:] = kept_dirs
        (dest / rel_dir).mkdir(parents=True, exist_ok=True)
        for name in sorted(files):
            rel = f"{prefix}{name}"
            if name in skip and rel_dir == ".":
                continue
            if _matches(rel, exclude) and not _matches(rel, include):
                continue
            _copy_entry(here / name, dest / rel)


def _copy_entry(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_symlink():
        os.symlink(os.readlink(src), dst)
    else:
        shutil.copy2(src, dst)


def place_windows_dlls(runtime_dir: Path, dest: Path) -> list[Path]:
    """Move the DLLs the launcher links (python3XY.dll and its VC runtime) next to it."""
    moved = []
    for pattern in ("python3*.dll", "vcruntime140*.dll"):
        for dll in sorted(runtime_dir.glob(pattern)):
            moved.append(Path(shutil.move(dll, dest / dll.name)))
    return moved


class _AppDestination(SchemeDictionaryDestination):
    """Installs only importable code: scripts, headers and data files are never written.

    The project's entry points are its launchers, so no wheel's console scripts belong
    in the artifact; two wheels declaring the same script name (an app wrapping httpie
    that calls its own script `http`) must not collide either.
    """

    def write_script(self, name: str, module: str, attr: str, section: ScriptSection) -> RecordEntry:
        return RecordEntry(name, None, None)

    def write_file(self, scheme: Scheme, path: str | os.PathLike[str], stream: BinaryIO, is_executable: bool) -> RecordEntry:
        if scheme in ("purelib", "platlib"):
            return super().write_file(scheme, path, stream, is_executable)
        return RecordEntry(str(path), None, None)

    def finalize_installation(self, scheme: Scheme, record_file_path: str, records: Iterable[tuple[Scheme, RecordEntry]]) -> None:
        kept = [(s, r) for s, r in records if s in ("purelib", "platlib")]
        super().finalize_installation(scheme, record_file_path, kept)


def install_wheels(wheels: Sequence[tuple[Path, str]], app_dir: Path, scratch: Path) -> None:
    """Unpack (path, wheel file name) pairs into `app_dir`; no code from them runs.

    Pure and platform code both go to `app_dir`; scripts, headers and data are left out
    (xbuild writes its own launchers), so `scratch` only holds links to the wheels.
    """
    scheme = {
        "purelib": str(app_dir),
        "platlib": str(app_dir),
        "scripts": str(scratch / "scripts"),
        "headers": str(scratch / "headers"),
        "data": str(scratch / "data"),
    }
    destination = _AppDestination(scheme, interpreter="python", script_kind="posix", bytecode_optimization_levels=())
    named = scratch / "wheels"
    named.mkdir(parents=True, exist_ok=True)
    for path, filename in wheels:
        # Cached wheels are named by their hash; installer reads name and version from the file name.
        link = named / filename
        if not link.exists():
            os.symlink(path.resolve(), link)
        with WheelFile.open(link) as source:
            install(source=source, destination=destination, additional_metadata={})
