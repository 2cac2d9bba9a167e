"""Compile runtime/onefile.c: the launcher of a one-file executable.

It does not link libpython (it loads it from the payload at run time), so only the
runtime's headers are needed; glibc 2.17 keeps dlopen in libdl.
"""

from __future__ import annotations

from pathlib import Path

from xbuild.errors import BuildError
from xbuild.launcher import EntryPoint
from xbuild.resources import shipped
from xbuild.runtimes.model import Runtime
from xbuild.targets import Target
from xbuild.toolchain import OPT_LEVEL, Zig


def supported(target: Target) -> bool:
    """One-file executables exist for Linux glibc targets so far."""
    return target.os == "linux" and target.libc == "glibc"


def build_onefile_launcher(zig: Zig, target: Target, runtime: Runtime, entry: EntryPoint, output: Path) -> Path:
    if not supported(target):
        raise BuildError(
            f"one-file executables are not available for {target.triple} yet (Linux glibc targets only); build without --onefile"
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
        str(shipped("runtime") / "onefile.c"),
        "-ldl",
    ]  # fmt: skip
    zig.run(zig.cc(target, args), what=f"linking the {entry.name} one-file launcher for {target.triple}")
    return output
