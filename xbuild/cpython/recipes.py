"""Per-package build recipes: `recipes/<name>.toml`, data only (flags, cache variables, patches)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xbuild.errors import XbuildError
from xbuild.resources import load_toml

HERE = Path(__file__).resolve().parent
RECIPES = HERE / "recipes"
PATCHES = HERE / "patches"


def names() -> list[str]:
    """Every recipe, CPython last."""
    return sorted((p.stem for p in RECIPES.glob("*.toml")), key=lambda n: (n == "cpython", n))


def load(name: str) -> dict[str, Any]:
    path = RECIPES / f"{name}.toml"
    if not path.is_file():
        raise XbuildError(f"no build recipe {path}")
    return load_toml(path)


def patch(name: str) -> Path:
    path = PATCHES / name
    if not path.is_file():
        raise XbuildError(f"recipe names patch {name}, but {path} does not exist")
    return path
