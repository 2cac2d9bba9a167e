"""The pinned zig: find it, check its version, and build its command lines per target.

zig is the only compiler and linker xbuild uses, for every target. Its version is
pinned in `toolchains/zig.toml` (and as the `ziglang` dependency), so the same
inputs give the same binaries on any host. Every call runs with the caller's
compiler variables removed and with xbuild's own zig cache, so nothing from the
host leaks into a cross build.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from xbuild import cache as xcache
from xbuild import settings
from xbuild.errors import CompileError, ToolchainError
from xbuild.resources import load_toml, shipped
from xbuild.targets import Target

ZIG_OVERRIDE_VAR = settings.ZIG_VAR


@cache
def pin() -> dict[str, Any]:
    """The `[zig]` table of toolchains/zig.toml."""
    table: dict[str, Any] = load_toml(shipped("toolchains") / "zig.toml")["zig"]
    return table


def _install_hint() -> str:
    version = pin()["version"]
    return f"install it with `pip install {pin()['package']}=={version}` or set {ZIG_OVERRIDE_VAR} to a zig {version} binary"


def _locate() -> Path:
    path = settings.current().zig
    if path is not None:
        if not path.is_file():
            raise ToolchainError(f"zig not found at {path} ({ZIG_OVERRIDE_VAR}): {_install_hint()}")
        return path
    try:
        import ziglang
    except ImportError:
        raise ToolchainError(f"zig not found: the `ziglang` package is not installed; {_install_hint()}") from None
    path = Path(ziglang.__file__).parent / ("zig.exe" if sys.platform == "win32" else "zig")
    if not path.is_file():
        raise ToolchainError(f"zig not found inside the ziglang package at {path.parent}; {_install_hint()}")
    return path


@dataclass(frozen=True)
class Zig:
    """A checked zig binary and the cache folder its compiles share."""

    path: Path
    version: str
    cache_dir: Path

    def environ(self) -> dict[str, str]:
        """The caller's environment without host compiler settings, with xbuild's zig cache."""
        env = {k: v for k, v in os.environ.items() if k not in pin()["scrub_env"]}
        env["ZIG_GLOBAL_CACHE_DIR"] = str(self.cache_dir)
        env["ZIG_LOCAL_CACHE_DIR"] = str(self.cache_dir)
        return env

    def cc(self, target: Target, args: Sequence[str] = (), *, cxx: bool = False) -> list[str]:
        """`zig cc` (or `zig c++`) for `target`, with the target's pinned floor and flags."""
        return [
            str(self.path),
            "c++" if cxx else "cc",
            "-target",
            target.zig,
            *target.cflags,
            *pin()["cflags"],
            *args,
        ]

    def ar(self, args: Sequence[str] = ()) -> list[str]:
        return [str(self.path), "ar", *args]

    def ranlib(self, args: Sequence[str] = ()) -> list[str]:
        return [str(self.path), "ranlib", *args]

    def dlltool(self, target: Target, args: Sequence[str] = ()) -> list[str]:
        """`zig dlltool`, which writes import libraries for Windows DLLs."""
        if target.dlltool is None:
            raise ToolchainError(f"dlltool makes Windows import libraries; {target.triple} is not a Windows target")
        return [str(self.path), "dlltool", "-m", target.dlltool, *args]

    def rc(self, args: Sequence[str] = ()) -> list[str]:
        """`zig rc`, the Windows resource compiler (icons, VERSIONINFO)."""
        return [str(self.path), "rc", *args]

    def run(self, argv: Sequence[str], *, what: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """Run a zig command line; a failure raises CompileError with zig's first error."""
        proc = subprocess.run(list(argv), cwd=cwd, env=self.environ(), capture_output=True, text=True)
        if proc.returncode != 0:
            output = proc.stdout + proc.stderr
            first = next((line.strip() for line in output.splitlines() if "error" in line.lower()), None)
            first = first or (output.strip().splitlines() or [f"exit code {proc.returncode}"])[0]
            raise CompileError(f"{what} failed: {first}", output)
        return proc


def find_zig() -> Zig:
    """The pinned zig, checked; raises ToolchainError saying how to get it otherwise."""
    path = _locate()
    try:
        proc = subprocess.run([str(path), "version"], capture_output=True, text=True, timeout=60)
    except OSError as e:
        raise ToolchainError(f"zig at {path} does not run ({e.strerror}); {_install_hint()}") from e
    found = proc.stdout.strip()
    wanted = pin()["version"]
    if proc.returncode != 0 or not found:
        raise ToolchainError(f"zig at {path} did not report its version; {_install_hint()}")
    if found != wanted:
        raise ToolchainError(f"zig {found} found at {path}, but xbuild needs zig {wanted}; {_install_hint()}")
    return Zig(path=path, version=found, cache_dir=xcache.root() / "zig" / found)


def wrapper_dir(zig: Zig, target: Target) -> Path:
    """Where the per-target wrapper scripts for this zig live."""
    return xcache.root() / "toolchain" / f"zig-{zig.version}" / target.triple


def _wrapper_script(zig: Zig, argv: list[str]) -> str:
    unset = " ".join(pin()["scrub_env"])
    return (
        "#!/bin/sh\n"
        "# Written by `xbuild toolchain wrappers`: zig with xbuild's pinned target and flags.\n"
        f"unset {unset}\n"
        f"export ZIG_GLOBAL_CACHE_DIR={shlex.quote(str(zig.cache_dir))}\n"
        f"export ZIG_LOCAL_CACHE_DIR={shlex.quote(str(zig.cache_dir))}\n"
        f'exec {shlex.join(argv)} "$@"\n'
    )


def write_wrappers(zig: Zig, target: Target, dest: Path | None = None, extra_cflags: Sequence[str] = ()) -> dict[str, Path]:
    """Write `cc`, `c++`, `ar`, … scripts so other build systems can use `CC=<wrapper>`.

    They exec zig directly (no Python start per compile), with the environment
    scrubbed the same way `Zig.environ` does.
    """
    dest = dest or wrapper_dir(zig, target)
    commands = {
        "cc": zig.cc(target, extra_cflags),
        "c++": zig.cc(target, extra_cflags, cxx=True),
        "ar": zig.ar(),
        "ranlib": zig.ranlib(),
        "rc": zig.rc(),
    }
    if target.dlltool:
        commands["dlltool"] = zig.dlltool(target)
    return {
        tool: xcache.write_atomic(dest / tool, _wrapper_script(zig, argv), mode=0o755)
        for tool, argv in commands.items()
    }


def _linked_stamp(zig: Zig, target: Target) -> Path:
    return zig.cache_dir / "xbuild-linked" / target.triple


def linked_before(zig: Zig, target: Target) -> bool:
    """Whether xbuild has linked for `target` with this zig's cache (so its libc is built)."""
    return _linked_stamp(zig, target).exists()


def mark_linked(zig: Zig, target: Target) -> None:
    stamp = _linked_stamp(zig, target)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.touch()


# Optimization level every xbuild compile uses; zig builds (and caches) libc per level.
OPT_LEVEL = "-O2"
_PROBE_C = "int main(void) { return 0; }\n"


def prewarm(zig: Zig, target: Target, workdir: Path) -> Path:
    """Compile and link a trivial program for `target`, so zig builds and caches its libc.

    The first link for a musl or Windows target compiles that libc (30-80 s); doing it
    ahead of time keeps the first real build fast.
    """
    source = workdir / "probe.c"
    source.write_text(_PROBE_C)
    output = workdir / f"probe-{target.triple}{target.exe_suffix}"
    zig.run(zig.cc(target, [OPT_LEVEL, "-o", str(output), str(source)]), what=f"zig cc for {target.triple}")
    return output
