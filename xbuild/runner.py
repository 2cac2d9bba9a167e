"""Run a program built for a target on this Linux host: natively, under qemu-user or wine64.

This is how users and CI smoke-test foreign artifacts without leaving the build host.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from xbuild import cache as xcache
from xbuild import hosttools
from xbuild.errors import CannotRunError
from xbuild.targets import Target


def _host_machine() -> str:
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


@dataclass(frozen=True)
class Invocation:
    """A ready command line: what to exec and the environment to give it."""

    argv: list[str]
    env: dict[str, str]
    how: str  # "native", "qemu" or "wine"


def wine_environ(base: Mapping[str, str]) -> dict[str, str]:
    """wine quiet, headless-safe and in xbuild's own prefix."""
    env = dict(base)
    env.setdefault("WINEPREFIX", str(xcache.root() / "wine" / "prefix"))
    env.setdefault("WINEDEBUG", "-all")
    # No Mono/Gecko install prompts: artifacts never need them.
    env.setdefault("WINEDLLOVERRIDES", "mscoree,mshtml=")
    return env


def ensure_wine_prefix(wine: Path, env: Mapping[str, str]) -> None:
    """Create the wine prefix once, quietly, so a program's first run prints only its own output."""
    prefix = Path(env["WINEPREFIX"])
    if (prefix / "system.reg").is_file():
        return
    prefix.parent.mkdir(parents=True, exist_ok=True)
    with xcache.locked("wine-prefix"):
        if not (prefix / "system.reg").is_file():
            subprocess.run([str(wine), "wineboot", "--init"], env=dict(env), stdin=subprocess.DEVNULL, capture_output=True, timeout=600)


def invocation(target: Target, argv: Sequence[str], *, lib_root: Path | None = None) -> Invocation:
    """How to run `argv` (a program for `target` and its arguments) here.

    `lib_root` is the target's libc root for dynamically linked foreign Linux programs
    (qemu's `-L`); static programs need none.
    """
    env = dict(os.environ)
    if target.os == "linux":
        if target.machine == _host_machine():
            return Invocation(list(argv), env, "native")
        qemu = hosttools.find_qemu(target)
        if qemu is None:
            raise CannotRunError(f"cannot run {target.triple} programs: {target.qemu} not found (apt-get install qemu-user)")
        root = ["-L", str(lib_root)] if lib_root else []
        return Invocation([str(qemu), *root, *argv], env, "qemu")
    if target.os == "windows":
        if target.machine != "x86_64":
            raise CannotRunError(f"cannot run {target.triple} programs here: wine64 runs x86_64 Windows programs only")
        wine = hosttools.find_wine()
        if wine is None:
            raise CannotRunError(f"cannot run {target.triple} programs: wine64 not found (apt-get install wine64)")
        env = wine_environ(env)
        ensure_wine_prefix(wine, env)
        return Invocation([str(wine), *argv], env, "wine")
    raise CannotRunError(f"cannot run {target.triple} programs on Linux; audit them instead (`xbuild audit`)")


def run(
    target: Target,
    argv: Sequence[str],
    *,
    lib_root: Path | None = None,
    cwd: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    timeout: float | None = 300,
) -> subprocess.CompletedProcess[str]:
    """Run a target program and capture its output as text."""
    inv = invocation(target, argv, lib_root=lib_root)
    env = {**inv.env, **(extra_env or {})}
    return subprocess.run(
        inv.argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
    )


def _pump(source: IO[bytes], sink: IO[bytes]) -> None:
    read = getattr(source, "read1", source.read)  # a pipe's buffered reader: whatever has arrived, without waiting for more
    for chunk in iter(lambda: read(65536), b""):
        sink.write(chunk)
        sink.flush()


def run_attached(inv: Invocation) -> int:
    """Run with the user's terminal, and return the exit code.

    wine 8 cannot give a Windows program a file as its stdout or stderr (CPython dies
    in init_sys_streams), so under wine, output that is not a terminal is relayed
    through pipes.
    """
    if inv.how != "wine" or (sys.stdout.isatty() and sys.stderr.isatty()):
        return subprocess.run(inv.argv, env=inv.env).returncode
    stdin = None if sys.stdin.isatty() else subprocess.DEVNULL
    proc = subprocess.Popen(inv.argv, env=inv.env, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    pumps = [
        threading.Thread(target=_pump, args=(proc.stdout, sys.stdout.buffer), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, sys.stderr.buffer), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    code = proc.wait()
    for pump in pumps:
        pump.join()
    return code
