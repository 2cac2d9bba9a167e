"""Compile runtime/onefile.c: the launcher of a one-file executable.

On glibc it does not link libpython (it loads it from the payload at run time), so only
the runtime's headers are needed; glibc 2.17 keeps dlopen in libdl. On a fully static
runtime (musl) it links the whole interpreter, as the folder's launcher does.
"""

from __future__ import annotations

from pathlib import Path

from xbuild.errors import BuildError
from xbuild.launcher import EntryPoint, static_link_args
from xbuild.resources import shipped
from xbuild.runtimes.model import Runtime
from xbuild.targets import Target
from xbuild.toolchain import OPT_LEVEL, Zig


def supported(target: Target) -> bool:
    """One-file executables exist for Linux (glibc; musl with its static runtime) and Windows x64 so far."""
    return (target.os == "linux" and target.libc in ("glibc", "musl")) or target.triple == "x86_64-pc-windows-msvc"


def _source_and_link(target: Target, runtime: Runtime) -> list[str]:
    """The launcher's C file and what it links, per kind of runtime."""
    if target.os == "windows":  # python3XY.dll is loaded from the extract-once cache at run time
        return [str(shipped("runtime") / "onefile_win.c"), "-municode"]
    source = str(shipped("runtime") / "onefile.c")
    if runtime.static_link:
        return [source, "-DXBUILD_ONEFILE_STATIC", *static_link_args(runtime)]
    return [source, "-ldl"]


def build_onefile_launcher(zig: Zig, target: Target, runtime: Runtime, entry: EntryPoint, output: Path) -> Path:
    if not supported(target):
        raise BuildError(
            f"one-file executables are not available for {target.triple} yet (Linux and x86_64 Windows only); build without --onefile"
        )
    if target.libc == "musl" and not runtime.static_link:
        raise BuildError(
            f"a one-file executable for {target.triple} needs a fully static runtime (CPython built from source: --source source); "
            f"the {runtime.source} runtime has none"
        )
    head, _, tail = entry.attr.partition(".")
    args = [
        OPT_LEVEL,
        "-s",
        "-I", str(runtime.path(runtime.include)),
        f'-DXBUILD_ENTRY_MODULE="{entry.module}"',
        f'-DXBUILD_ENTRY_HEAD="{head}"',
        f'-DXBUILD_ENTRY_TAIL="{"." + tail if tail else ""}"',
        f'-DXBUILD_STDLIB="{runtime.stdlib}"',
        "-o", str(output),
        *_source_and_link(target, runtime),
    ]  # fmt: skip
    zig.run(zig.cc(target, args), what=f"linking the {entry.name} one-file launcher for {target.triple}")
    output.with_suffix(".pdb").unlink(missing_ok=True)  # the linker's debug info for Windows: not shipped
    return output
