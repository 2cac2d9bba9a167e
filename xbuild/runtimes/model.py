"""The one runtime model: a CPython unpacked in python-build-standalone's `install_only` layout.

Whatever the source (PBS, PyPI, Debian, a user's folder), a runtime ends up as

    Unix:    bin/python3.X, include/python3.X/, lib/libpython3.X.so|.dylib, lib/python3.X/
    Windows: python.exe, python3XY.dll, DLLs/, Lib/, include/, libs/python3XY.lib

plus `xbuild-runtime.json`, which records where it came from and where its parts
are. Everything downstream (launcher, bytecode, audit) reads only this record.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from xbuild.errors import RuntimeLayoutError
from xbuild.targets import Target

METADATA = "xbuild-runtime.json"
SCHEMA = 1


@dataclass(frozen=True)
class Runtime:
    """A published runtime and the facts every later step needs about it."""

    root: Path
    python: str  # full version, e.g. "3.11.9"
    triple: str
    source: str  # pbs | pypi | debian | local
    origin: str  # URL, lock or path it came from
    inputs: dict[str, str]  # input file name -> sha256
    libc_floor: str | None  # highest GLIBC_ version its files need (Linux glibc only)
    include: str  # folders and files below root, POSIX-style
    stdlib: str
    executable: str
    libpython: str | None
    import_lib: str | None
    ext_suffix: str
    notes: list[str] = field(default_factory=list)
    # A fully static runtime (no libpython.so): what a launcher links, in order. Paths
    # below root (libpython3.X.a first, then the archives it needs) and `-l` system
    # libraries. Empty for runtimes with a shared libpython.
    static_link: list[str] = field(default_factory=list)

    @property
    def minor(self) -> str:
        """`3.11` for 3.11.9."""
        return ".".join(self.python.split(".")[:2])

    def path(self, rel: str) -> Path:
        return self.root / rel

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("root")
        if not data["static_link"]:
            data.pop("static_link")  # written only by static runtimes: other records stay as older xbuild reads them
        return {"schema": SCHEMA, **data}


def load(root: Path) -> Runtime:
    """Read a published runtime's metadata."""
    try:
        data = json.loads((root / METADATA).read_text())
    except (OSError, ValueError) as e:
        raise RuntimeLayoutError(f"{root} is not an xbuild runtime ({METADATA} unreadable: {e})") from e
    if data.pop("schema", None) != SCHEMA:
        raise RuntimeLayoutError(f"{root}: {METADATA} has another schema version; fetch the runtime again")
    known = {f.name for f in fields(Runtime)} - {"root"}
    try:
        return Runtime(root=root, **{k: v for k, v in data.items() if k in known})  # keys a newer xbuild added are skipped
    except TypeError as e:
        raise RuntimeLayoutError(f"{root}: {METADATA} lacks a field ({e}); fetch the runtime again") from e


def write(runtime: Runtime) -> None:
    (runtime.root / METADATA).write_text(json.dumps(runtime.to_json(), indent=2, sort_keys=True) + "\n")


def python_version(include_dir: Path) -> str:
    """The exact CPython version, from `patchlevel.h` (present in every layout)."""
    header = include_dir / "patchlevel.h"
    try:
        match = re.search(r'#define\s+PY_VERSION\s+"([^"]+)"', header.read_text(errors="replace"))
    except OSError as e:
        raise RuntimeLayoutError(f"no CPython headers: {header} is missing") from e
    if not match:
        raise RuntimeLayoutError(f"{header} does not define PY_VERSION")
    return match.group(1).removesuffix("+")


def _sysconfig_ext_suffix(stdlib: Path) -> str | None:
    for candidate in sorted(stdlib.glob("_sysconfigdata_*.py")):
        tree = ast.parse(candidate.read_text(errors="replace"))
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "build_time_vars" for t in node.targets):
                values = ast.literal_eval(node.value)
                if isinstance(values, dict) and values.get("EXT_SUFFIX"):
                    return str(values["EXT_SUFFIX"])
    return None


def describe(
    root: Path,
    target: Target,
    *,
    source: str,
    origin: str,
    inputs: dict[str, str],
    libc_floor: str | None,
    notes: list[str] | None = None,
    static_link: list[str] | None = None,
) -> Runtime:
    """Find the parts of the runtime in `root` (already in the install_only layout)."""
    import_lib: str | None
    if target.os == "windows":
        version = python_version(root / "include")
        nodot = "".join(version.split(".")[:2])
        plat = {"x86_64": "win_amd64", "aarch64": "win_arm64", "i686": "win32"}[target.machine]
        include, stdlib, executable = "include", "Lib", "python.exe"
        libpython: str | None = f"python{nodot}.dll"
        import_lib = f"libs/python{nodot}.lib"
        ext_suffix = f".cp{nodot}-{plat}.pyd"
    else:
        includes = sorted(p for p in (root / "include").glob("python3.*") if (p / "Python.h").is_file())
        if not includes:
            raise RuntimeLayoutError(f"{root}: no include/python3.X/Python.h")
        version = python_version(includes[0])
        minor = ".".join(version.split(".")[:2])
        include = includes[0].relative_to(root).as_posix()
        stdlib, executable = f"lib/python{minor}", f"bin/python{minor}"
        shared = f"lib/libpython{minor}.{'dylib' if target.os == 'macos' else 'so'}"
        libpython = shared if (root / shared).exists() else None
        import_lib = None
        ext_suffix = _sysconfig_ext_suffix(root / stdlib) or _dynload_suffix(root / stdlib / "lib-dynload")
    for rel in (stdlib, executable):
        if not (root / rel).exists():
            raise RuntimeLayoutError(f"{root}: {rel} is missing; not a complete CPython {version} runtime")
    runtime = Runtime(
        root=root, python=version, triple=target.triple, source=source, origin=origin, inputs=inputs,
        libc_floor=libc_floor, include=include, stdlib=stdlib, executable=executable,
        libpython=libpython, import_lib=import_lib, ext_suffix=ext_suffix, notes=notes or [],
        static_link=static_link or [],
    )  # fmt: skip
    missing = [rel for rel in runtime.static_link if not rel.startswith("-l") and not (root / rel).is_file()]
    if missing:
        raise RuntimeLayoutError(f"{root}: {missing[0]} (named by static_link) is missing; not a complete runtime")
    return runtime


def _dynload_suffix(dynload: Path) -> str:
    for module in sorted(dynload.glob("_struct.*")):
        return module.name[len("_struct") :]
    raise RuntimeLayoutError(f"cannot tell the extension suffix: no _sysconfigdata or {dynload}/_struct.*")
