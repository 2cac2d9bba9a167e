"""Folders that shipped Python code adds to the Windows DLL search path.

Since Python 3.8 extension modules find their DLLs only beside themselves, beside the
program, in System32 and in folders added with `os.add_dll_directory`. Packages
repaired by delvewheel ship their DLLs in `<dist>.libs/` next to the package and patch
the package's `__init__.py` to add that folder at import (numpy: `numpy.libs/`). Other
packages call `os.add_dll_directory` themselves. This module reads those calls from the
source (never runs it): the argument is evaluated when it is built from `__file__`,
string constants, `os.path` functions, `os.pardir` and pathlib, which covers every
delvewheel patch and the usual hand-written forms. A folder added by a package counts
for the files inside that package (its `__init__` runs before any of its modules load)
and for the DLLs in the folder itself. Calls whose argument cannot be read are reported,
not guessed.
"""

from __future__ import annotations

import ast
import logging
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_MARKER = b"add_dll_directory"
_MAX_SOURCE = 4 * 2**20  # larger .py files are generated tables, not loaders


@dataclass(frozen=True)
class DllDirectory:
    """`folder` is on the DLL search path for files below `scope`, added by `added_by`."""

    folder: Path
    scope: Path
    added_by: Path


@dataclass(frozen=True)
class Unresolved:
    """An add_dll_directory call whose argument is not a path known from the source (line 0: unparsable file)."""

    file: Path
    line: int


def find(root: Path) -> tuple[list[DllDirectory], list[Unresolved]]:
    """Every folder below `root` that code below `root` adds with os.add_dll_directory."""
    root = root.resolve()
    found: list[DllDirectory] = []
    unresolved: list[Unresolved] = []
    for source in _candidates(root):
        try:
            tree = ast.parse(source.read_bytes(), filename=str(source))
        except (SyntaxError, ValueError, OSError):
            unresolved.append(Unresolved(source, 0))  # newer syntax than this Python reads, or unreadable
            continue
        evaluator = _Evaluator(source, tree)
        for call in _add_dll_calls(tree):
            folders = evaluator.paths(call.args[0]) if call.args else []
            inside = [Path(f) for f in folders if _inside(Path(f), root) and Path(f).is_dir()]
            if not folders:
                unresolved.append(Unresolved(source, call.lineno))
            for folder in inside:
                found.append(DllDirectory(folder, _package_root(source.parent), source))
    for d in found:
        log.debug("DLL folder %s added by %s for %s", d.folder, d.added_by, d.scope)
    return found, unresolved


def _candidates(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*.py")):
        try:
            if path.is_file() and not path.is_symlink() and path.stat().st_size <= _MAX_SOURCE and _MARKER in path.read_bytes():
                yield path
        except OSError:
            continue


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def _package_root(folder: Path) -> Path:
    """The top-level package folder `folder` belongs to (itself when it is no package)."""
    top = folder
    while (top / "__init__.py").is_file() and (top.parent / "__init__.py").is_file():
        top = top.parent
    return top


def _add_dll_calls(tree: ast.AST) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name == "add_dll_directory":
                yield node


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


_CONSTANTS = {"os.pardir": "..", "pardir": "..", "os.curdir": ".", "curdir": ".", "os.sep": "/", "os.path.sep": "/", "sep": "/"}
_IDENTITY = {"os.path.abspath", "abspath", "os.path.realpath", "realpath", "os.path.normpath", "normpath", "os.fspath", "str", "Path", "pathlib.Path", "PurePath", "os.path.expanduser"}
_JOIN = {"os.path.join", "join", "path.join"}
_DIRNAME = {"os.path.dirname", "dirname", "path.dirname"}


class _Evaluator:
    """Evaluates path expressions of one module to absolute paths (each binding is a candidate)."""

    def __init__(self, source: Path, tree: ast.AST) -> None:
        self.file = str(source.resolve())
        self.bindings: dict[str, list[ast.expr]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.bindings.setdefault(target.id, []).append(node.value)
            elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and isinstance(node.target, ast.Name) and node.value is not None:
                self.bindings.setdefault(node.target.id, []).append(node.value)

    def paths(self, node: ast.expr) -> list[str]:
        return sorted({posixpath.normpath(p) for p in self._eval(node, 0) if p.startswith("/")})

    def _eval(self, node: ast.expr, depth: int) -> list[str]:
        if depth > 20:
            return []
        d = depth + 1
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value.replace("\\", "/")]
        name = _dotted(node)
        if name == "__file__":
            return [self.file]
        if name in _CONSTANTS:
            return [_CONSTANTS[name]]
        if isinstance(node, ast.Name):
            return [v for value in self.bindings.get(node.id, []) for v in self._eval(value, d)]
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            return [posixpath.dirname(v) for v in self._eval(node.value, d)]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return [posixpath.join(a, b) for a in self._eval(node.left, d) for b in self._eval(node.right, d)]
        if isinstance(node, ast.JoinedStr):
            parts: list[list[str]] = []
            for value in node.values:
                if isinstance(value, ast.FormattedValue):
                    parts.append(self._eval(value.value, d))
                else:
                    parts.append(self._eval(value, d))
            return ["".join(combo) for combo in _product(parts)]
        if isinstance(node, ast.Call):
            func = _dotted(node.func)
            args = [self._eval(a, d) for a in node.args]
            if isinstance(node.func, ast.Attribute) and node.func.attr in ("resolve", "absolute") and not node.args:
                return self._eval(node.func.value, d)
            if isinstance(node.func, ast.Attribute) and node.func.attr == "joinpath":
                base = self._eval(node.func.value, d)
                return [posixpath.join(*combo) for combo in _product([base, *args])]
            if func in _IDENTITY and len(args) == 1:
                return args[0]
            if func in _JOIN and args:
                return [posixpath.join(*combo) for combo in _product(args)]
            if func in _DIRNAME and len(args) == 1:
                return [posixpath.dirname(v) for v in args[0]]
        return []


def _product(parts: list[list[str]]) -> list[tuple[str, ...]]:
    combos: list[tuple[str, ...]] = [()]
    for options in parts:
        combos = [(*c, o) for c in combos for o in options][:64]
    return combos
