"""The repository's shape: the README's layout table matches the tree; xbuild's imports have no cycles."""

from __future__ import annotations

import ast
import re
from graphlib import CycleError, TopologicalSorter

from .conftest import REPO

_NOT_SOURCE = {".git", ".venv", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis", "dist", "build"}


def test_readme_layout_table_matches_the_tree() -> None:
    section = (REPO / "README.md").read_text().split("## Layout", 1)[1]
    listed = re.findall(r"^\| `([^`]+)/` \|", section, flags=re.M)
    assert listed and all((REPO / path).is_dir() for path in listed), listed
    top = {p.name for p in REPO.iterdir() if p.is_dir() and p.name not in _NOT_SOURCE and not p.name.endswith(".egg-info")}
    assert top == {path for path in listed if "/" not in path}


def _imports(module: str, tree: ast.Module, modules: set[str]) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in modules else node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {m for m in found if m in modules and m != module}


def test_xbuild_imports_have_no_cycles() -> None:
    """Modules import downwards only: a cycle is a layering mistake (the package __init__ may list its parts)."""
    paths = {}
    for path in (REPO / "xbuild").rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        paths[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    modules = set(paths)
    graph = {m: _imports(m, ast.parse(p.read_text()), modules) for m, p in paths.items()}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as e:
        raise AssertionError(f"import cycle: {' -> '.join(e.args[1])}") from None
    assert set(order) == modules
