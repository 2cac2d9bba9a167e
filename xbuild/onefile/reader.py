"""Open a one-file executable: its launcher and the native files of its payload.

The audit judges what a one-file executable loads at run time, so it needs those
files as a folder laid out like the folder artifact (`runtime/lib/...`, `app/...`).
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from xbuild.audit.elf import read_elf
from xbuild.errors import UnreadableInputError
from xbuild.onefile.payload import MAGIC, NATIVE_PREFIX, TRAILER_SIZE, WINDOWS_RUNTIME


def payload_start(exe: Path) -> int:
    """Where the zip starts: the file size minus the size its trailer records."""
    size = exe.stat().st_size
    with exe.open("rb") as f:
        f.seek(max(0, size - TRAILER_SIZE))
        fields = f.read().decode("ascii", "replace").split()
    if len(fields) != 6 or " ".join(fields[:2]) != MAGIC or not fields[5].isdigit() or int(fields[5]) > size:
        raise UnreadableInputError(f"{exe}: not an xbuild one-file executable (no payload trailer); rebuild it with --onefile")
    return size - int(fields[5])


def _artifact_path(cache_path: str, stdlib: str) -> str:
    """A cache path (`lib/libz.so.1`, `yaml/_yaml.so`, `pkgs/x/y`) as the folder artifact names it."""
    if cache_path.startswith(WINDOWS_RUNTIME):  # python3XY.dll and the CRT beside the launcher, the rest below runtime/
        rel = cache_path[len(WINDOWS_RUNTIME) :]
        return rel if "/" not in rel else "runtime/" + rel
    if cache_path.startswith("pkgs/"):
        return "app/" + cache_path[len("pkgs/") :]
    if cache_path.startswith("lib/") and ("/" not in cache_path[4:] or cache_path.startswith(stdlib + "/")):
        return "runtime/" + cache_path
    return "app/" + cache_path


@contextmanager
def unpacked(folder: Path, executables: list[str], stdlib: str) -> Iterator[Path]:
    """A temporary folder with each launcher (its bytes before the payload) and the payload's native files."""
    with tempfile.TemporaryDirectory(prefix="xbuild-onefile-") as tmp:
        root = Path(tmp)
        for name in executables:
            exe = folder / name
            start = payload_start(exe)
            with exe.open("rb") as src, (root / name).open("wb") as dst:
                dst.write(src.read(start))
        try:
            with zipfile.ZipFile(folder / executables[0]) as zf:
                for info in zf.infolist():
                    rel = info.filename[len(NATIVE_PREFIX) :]
                    if not info.filename.startswith(NATIVE_PREFIX) or rel.startswith("runtime/") or rel == "manifest.txt":
                        continue
                    dest = root / _artifact_path(rel, stdlib)
                    if ".." in Path(rel).parts:
                        raise UnreadableInputError(f"{folder / executables[0]}: payload member {info.filename!r} climbs out of its folder")
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src, dest.open("wb") as out:
                        shutil.copyfileobj(src, out)
        except zipfile.BadZipFile as e:
            raise UnreadableInputError(f"{folder / executables[0]}: damaged one-file payload ({e})") from e
        _link_sonames(root / "runtime" / "lib")
        yield root


def _link_sonames(lib_dir: Path) -> None:
    """Name each library by its SONAME too, as the loader knows the preloaded ones."""
    for lib in sorted(lib_dir.glob("*.so*")) if lib_dir.is_dir() else []:
        soname = read_elf(lib).soname
        if soname and not (lib_dir / soname).exists():
            (lib_dir / soname).symlink_to(lib.name)
