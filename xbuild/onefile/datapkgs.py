"""Packages that read their data files by a path built from `__file__`.

From inside the executable such a path names no real file, so these packages are
extracted once to the cache and imported from there. The heuristic: a top-level
package of the app that ships data files (anything but Python code, compiled
extensions, typing stubs and markers) and whose code mentions `__file__`. Packages that
use `importlib.resources` or `pkgutil.get_data` only work from the archive and stay in it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_CODE = {".py", ".pyc", ".pyi", ".so", ".pyd", ".dylib", ".dll"}
_MARKERS = {"py.typed"}
_FILE_USE = re.compile(rb"\b__file__\b")


@dataclass(frozen=True)
class PathDataPackage:
    """A package served from the cache, and why."""

    name: str
    data_file: str  # one of its data files, relative to the app folder
    file_use: str  # a module that uses __file__, relative to the app folder

    def reason(self) -> str:
        return f"it ships data files ({self.data_file}) and {self.file_use} builds paths from __file__"


def find(app_dir: Path) -> list[PathDataPackage]:
    """Top-level packages in `app_dir` that read data files by path."""
    found = []
    for pkg in sorted(p for p in app_dir.iterdir() if p.is_dir() and (p / "__init__.py").is_file()):
        files = sorted(f for f in pkg.rglob("*") if f.is_file() and "__pycache__" not in f.parts)
        data = [f for f in files if f.suffix not in _CODE and f.name not in _MARKERS]
        if not data:
            continue
        user = next((f for f in files if f.suffix == ".py" and _FILE_USE.search(f.read_bytes())), None)
        if user is not None:
            found.append(PathDataPackage(pkg.name, data[0].relative_to(app_dir).as_posix(), user.relative_to(app_dir).as_posix()))
    return found
