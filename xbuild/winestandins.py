"""Stand-ins for Windows system DLLs that wine lacks, built for xbuild's own wine prefix.

Debian's wine 8 has no `bcryptprimitives.dll` (Rust's std imports it), its
`ucrtbase.dll` aborts on the C99 complex functions numpy calls, and its `propsys.dll`
on the VariantToString CPython 3.12+ calls. Every real Windows 10 has them, and the
audit rightly calls them system DLLs, so a smoke run under wine would test wine's gaps
instead of the artifact. xbuild therefore builds small replacements from `winestubs/` (C sources and
`standins.toml`) with its pinned zig and installs them into its wine prefix only;
nothing here ever goes into an artifact.

A stand-in that `extends` a wine builtin is a native DLL of the same name whose exports
forward to a renamed copy of wine's own builtin, except the few it implements itself;
wine is told to prefer it (DllOverrides `native,builtin`). See winestubs/README.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pefile

from xbuild import cache as xcache
from xbuild import targets
from xbuild.errors import ToolchainError
from xbuild.resources import load_toml, shipped
from xbuild.toolchain import Zig

log = logging.getLogger(__name__)

WINDOWS = "x86_64-pc-windows-msvc"
MANIFEST = "standins.json"


@dataclass(frozen=True)
class StandIn:
    """One DLL from winestubs/standins.toml."""

    name: str
    purpose: str
    sources: tuple[str, ...]
    def_file: str | None = None
    libs: tuple[str, ...] = ()
    extends: str | None = None
    builtin_copy: str | None = None
    implements: tuple[str, ...] = ()

    @property
    def stem(self) -> str:
        return self.name.removesuffix(".dll")


def source_dir() -> Path:
    """winestubs/: the C sources and the table, shipped with xbuild (not with artifacts)."""
    return shipped("winestubs")


@cache
def _table() -> dict[str, Any]:
    return load_toml(source_dir() / "standins.toml")


def standins() -> list[StandIn]:
    """Every stand-in, in the table's order."""
    out = []
    for row in _table()["dll"]:
        out.append(
            StandIn(
                name=row["name"],
                purpose=row["purpose"],
                sources=tuple(row["sources"]),
                def_file=row.get("def"),
                libs=tuple(row.get("libs", ())),
                extends=row.get("extends"),
                builtin_copy=row.get("builtin_copy"),
                implements=tuple(row.get("implements", ())),
            )
        )
    return out


def builtin_dir(wine: Path) -> Path | None:
    """Where this wine keeps its x86_64 PE builtins (ucrtbase.dll, ...), or None."""
    real = Path(os.path.realpath(wine)).parent
    for entry in _table()["builtin_dirs"]:
        candidate = Path(entry) if entry.startswith("/") else (real / entry)
        if (candidate / "ntdll.dll").is_file():
            return candidate.resolve()
    return None


def _source_files(standin: StandIn) -> list[Path]:
    files = [source_dir() / s for s in standin.sources]
    if standin.def_file:
        files.append(source_dir() / standin.def_file)
    return files


def build_key(zig: Zig, builtins: Path | None) -> str:
    """What the built DLLs depend on: sources, table, zig, and the wine builtins extended."""
    digest = hashlib.sha256()
    digest.update(f"zig {zig.version}\n".encode())
    digest.update((source_dir() / "standins.toml").read_bytes())
    for standin in standins():
        for path in _source_files(standin):
            digest.update(f"{path.name}\n".encode())
            digest.update(path.read_bytes())
        if standin.extends:
            builtin = builtins / standin.extends if builtins else None
            state = xcache.sha256_file(builtin) if builtin and builtin.is_file() else "missing"
            digest.update(f"{standin.extends} {state}\n".encode())
    return digest.hexdigest()[:16]


def _exports(dll: Path) -> list[tuple[int, str | None]]:
    """(ordinal, name) of every export of a PE DLL."""
    pe = pefile.PE(str(dll), fast_load=True)
    pe.parse_data_directories(directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_EXPORT"]])
    directory = getattr(pe, "DIRECTORY_ENTRY_EXPORT", None)
    if directory is None:
        return []
    return [(s.ordinal, s.name.decode("ascii") if s.name else None) for s in directory.symbols]


def extending_def(standin: StandIn, builtin: Path) -> str:
    """The .def of a stand-in that extends `builtin`: its own functions, the rest forwarded.

    Ordinals stay those of wine's DLL, so imports by ordinal resolve the same way.
    """
    assert standin.builtin_copy is not None
    target = standin.builtin_copy.removesuffix(".dll")
    own = set(standin.implements)
    lines = [f"LIBRARY {standin.name}", "EXPORTS"]
    seen: set[str] = set()
    for ordinal, name in _exports(builtin):
        if name is None:
            lines.append(f"    ordinal{ordinal} = {target}.#{ordinal} @{ordinal} NONAME")
        elif name in own:
            lines.append(f"    {name} = xb_{name} @{ordinal}")
            seen.add(name)
        else:
            lines.append(f"    {name} = {target}.{name} @{ordinal}")
    lines.extend(f"    {name} = xb_{name}" for name in standin.implements if name not in seen)
    return "\n".join(lines) + "\n"


def _import_def(dll_name: str, builtin: Path) -> str:
    """An import-library .def for the renamed builtin, so the stand-in's own code (exp,
    atan2, ...) calls wine's functions directly and never itself."""
    names = [name for _ordinal, name in _exports(builtin) if name]
    return "\n".join([f"LIBRARY {dll_name}", "EXPORTS", *(f"    {n}" for n in names)]) + "\n"


def build(zig: Zig, builtins: Path | None, key: str) -> Path:
    """Build every stand-in (once per key) into the cache; returns the folder of DLLs.

    Raises ToolchainError (CompileError) when zig fails, or when a wine builtin to extend
    is missing.
    """
    final = xcache.root() / "wine" / "standins" / key
    if (final / MANIFEST).is_file():
        return final
    target = targets.get(WINDOWS)
    staging = Path(tempfile.mkdtemp(prefix="standins-", dir=xcache.scratch_dir()))
    try:
        work = staging / "work"
        out = staging / "dlls"
        work.mkdir()
        out.mkdir()
        files: dict[str, str] = {}
        for standin in standins():
            args = ["-shared", "-nostdlib", "-O2", "-g0", "-o", str(work / standin.name)]
            args += [str(source_dir() / s) for s in standin.sources]
            if standin.extends:
                if builtins is None or not (builtins / standin.extends).is_file():
                    raise ToolchainError(f"wine's builtin {standin.extends} not found, so {standin.name} cannot extend it")
                assert standin.builtin_copy is not None
                builtin = builtins / standin.extends
                def_path = work / f"{standin.stem}.def"
                def_path.write_text(extending_def(standin, builtin))
                copy_def = work / f"{standin.builtin_copy}.def"
                copy_def.write_text(_import_def(standin.builtin_copy, builtin))
                copy_lib = work / f"lib{standin.builtin_copy.removesuffix('.dll')}.a"
                zig.run(zig.dlltool(target, ["-d", str(copy_def), "-l", str(copy_lib)]), what=f"import library for {standin.builtin_copy}")
                shutil.copyfile(builtin, out / standin.builtin_copy)
                files[standin.builtin_copy] = xcache.sha256_file(out / standin.builtin_copy)
                args += [str(def_path), str(copy_lib)]
            elif standin.def_file:
                args.append(str(source_dir() / standin.def_file))
            args += [f"-l{lib}" for lib in standin.libs]
            zig.run(zig.cc(target, args), what=f"building the wine stand-in {standin.name}", cwd=work)
            shutil.copyfile(work / standin.name, out / standin.name)
            files[standin.name] = xcache.sha256_file(out / standin.name)
        (out / MANIFEST).write_text(json.dumps({"key": key, "files": files}, indent=1, sort_keys=True) + "\n")
        xcache.publish_dir(out, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("built wine stand-ins %s in %s", ", ".join(s.name for s in standins()), final)
    return final


def install(built: Path, system32: Path) -> list[str]:
    """Copy the built DLLs into a prefix's system32 (atomically each); returns their names."""
    manifest = json.loads((built / MANIFEST).read_text())
    copies = {s.builtin_copy for s in standins() if s.builtin_copy}
    # The renamed builtins first, so a forwarder never points at a copy from another wine.
    names = sorted(manifest["files"], key=lambda name: (name not in copies, name))
    for name in names:
        xcache.write_atomic(system32 / name, (built / name).read_bytes())
    return names


def installed(system32: Path, built: Path) -> bool:
    """Whether every built DLL is in system32 with the same content."""
    manifest = json.loads((built / MANIFEST).read_text())
    for name, sha in manifest["files"].items():
        path = system32 / name
        if not path.is_file() or xcache.sha256_file(path) != sha:
            return False
    return True


def dll_overrides() -> dict[str, str]:
    """DllOverrides a prefix needs so wine loads the extending stand-ins before its builtins."""
    return {s.stem: "native,builtin" for s in standins() if s.extends}


def names() -> list[str]:
    """The DLL names, as `xbuild doctor` lists them."""
    return [s.name for s in standins()]
