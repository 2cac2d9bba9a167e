"""Compile and link the launcher (runtime/launcher.c) for one entry point and target.

The launcher links the runtime's libpython: for a fully static runtime (musl) the
archives its `static_link` names, so the launcher is the whole interpreter; on Linux the shared library with an
rpath of `$ORIGIN/runtime/lib` (as DT_RPATH, so extension modules' own libraries
resolve from there too), on Windows the MSVC import library `libs/python3XY.lib`
that lld-link accepts, on macOS the dylib through `@rpath` with an LC_RPATH of `@executable_path/runtime/lib`, signed ad hoc
on every CPU (zig's linker signs arm64 output; xbuild signs the x86_64 one).
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from xbuild import cache
from xbuild.elfedit import runpath_to_rpath
from xbuild.errors import ConfigError
from xbuild.macho.codesign import ensure_signed
from xbuild.macho.rpath import load_through_rpath
from xbuild.resources import shipped
from xbuild.runtimes.model import Runtime
from xbuild.targets import Target
from xbuild.toolchain import OPT_LEVEL, Zig

log = logging.getLogger(__name__)
_ENTRY = re.compile(r"^(?P<module>[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*):(?P<attr>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)$")
# The artifact's folders, named here once: build.py lays them out and the launcher gets them as -D defines.
RUNTIME_DIR = "runtime"
APP_DIR = "app"


@dataclass(frozen=True)
class EntryPoint:
    """`name = "module:attr"` from [project.scripts] or [project.gui-scripts]."""

    name: str
    module: str
    attr: str
    gui: bool = False

    @classmethod
    def parse(cls, name: str, value: str, *, gui: bool = False) -> EntryPoint:
        match = _ENTRY.match(value.replace(" ", ""))
        if not match or not re.fullmatch(r"[\w.-]+", name):
            raise ConfigError(f"entry point {name} = {value!r} is not of the form 'package.module:function'")
        return cls(name, match["module"], match["attr"], gui)


def _defines(entry: EntryPoint, runtime: Runtime) -> list[str]:
    head, _, tail = entry.attr.partition(".")
    dynload = "DLLs" if runtime.import_lib else f"{runtime.stdlib}/lib-dynload"
    return [
        f'-DXBUILD_ENTRY_MODULE="{entry.module}"',
        f'-DXBUILD_ENTRY_HEAD="{head}"',
        f'-DXBUILD_ENTRY_TAIL="{"." + tail if tail else ""}"',
        f'-DXBUILD_STDLIB="{runtime.stdlib}"',
        f'-DXBUILD_DYNLOAD="{dynload}"',
        f'-DXBUILD_RUNTIME_DIR="{RUNTIME_DIR}"',
        f'-DXBUILD_APP_DIR="{APP_DIR}"',
    ]


def static_link_args(runtime: Runtime) -> list[str]:
    """A fully static interpreter, linked whole as its bin/python3 is (the runtime's static_link)."""
    files = [str(runtime.path(rel)) for rel in runtime.static_link if not rel.startswith("-l")]
    system = [flag for flag in runtime.static_link if flag.startswith("-l")]
    return ["-static", "-Wl,--start-group", *files, "-Wl,--end-group", *system]


def _link_args(target: Target, runtime: Runtime, entry: EntryPoint) -> list[str]:
    if target.os == "windows":
        assert runtime.import_lib
        subsystem = ["-Wl,--subsystem,windows"] if entry.gui else []
        return ["-municode", str(runtime.path(runtime.import_lib)), *subsystem]
    if runtime.static_link:
        return static_link_args(runtime)
    lib = runtime.root / "lib"
    if target.os == "macos":
        return ["-L", str(lib), f"-lpython{runtime.minor}", f"-Wl,-rpath,@executable_path/{RUNTIME_DIR}/lib"]
    return ["-L", str(lib), f"-lpython{runtime.minor}", f"-Wl,-rpath,$ORIGIN/{RUNTIME_DIR}/lib"]


def build_launcher(zig: Zig, target: Target, runtime: Runtime, entry: EntryPoint, output: Path) -> Path:
    """Compile the launcher for `entry` into `output` (the file name includes any .exe).

    The link's inputs (zig, the launcher's sources, the runtime, the flags) decide its
    bytes, so a launcher linked once is kept in the cache under a hash of them and copied
    by later builds (after checking its recorded sha256), without running zig.
    """
    args = [
        OPT_LEVEL,
        "-s",  # no debug info: smaller, and the same bytes from any build machine
        "-I", str(runtime.path(runtime.include)),
        *_defines(entry, runtime),
        "-o", str(output),
        str(shipped("runtime") / "launcher.c"),
        *_link_args(target, runtime, entry),
    ]  # fmt: skip
    kept = _cached(zig, target, runtime, [a for a in args if a != str(output)], output.name)
    if kept.is_file() and _intact(kept):
        shutil.copyfile(kept, output)
        output.chmod(0o755)
        return output
    zig.run(zig.cc(target, args), what=f"linking the {entry.name} launcher for {target.triple}")
    if target.format == "elf" and not runtime.static_link:
        runpath_to_rpath(output)
    if target.format == "macho":
        ensure_signed(output)  # zig signs arm64 output; the x86_64 launcher is signed here, ad hoc
        if runtime.libpython and load_through_rpath(output, Path(runtime.libpython).name):
            log.info("  %s: libpython's install name was absolute (PBS before #914): the launcher loads it through @rpath", output.name)
    for leftover in output.parent.glob(f"{output.stem}.pdb"):
        leftover.unlink()
    data = output.read_bytes()
    cache.write_atomic(kept.with_name(kept.name + ".sha256"), cache.sha256_bytes(data))
    cache.write_atomic(kept, data, mode=0o755)
    return output


def _cached(zig: Zig, target: Target, runtime: Runtime, args: list[str], name: str) -> Path:
    """Where a launcher linked from these inputs is kept."""
    digest = hashlib.sha256("\0".join([str(zig.path), zig.version, target.triple, str(runtime.root), *args]).encode())
    sources = shipped("runtime")
    for path in sorted(p for p in sources.rglob("*") if p.is_file()):
        digest.update(path.relative_to(sources).as_posix().encode() + b"\0" + path.read_bytes())
    return cache.root() / "launchers" / digest.hexdigest()[:32] / name


def _intact(kept: Path) -> bool:
    try:
        return cache.sha256_file(kept) == kept.with_name(kept.name + ".sha256").read_text().strip()
    except OSError:
        return False
