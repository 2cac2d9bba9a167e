"""Run a program built for a target on this Linux host: natively, under qemu-user or wine64.

This is how users and CI smoke-test foreign artifacts without leaving the build host.
"""

from __future__ import annotations

import json
import logging
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
from xbuild import hosttools, winestandins
from xbuild.errors import CannotRunError, ToolchainError
from xbuild.targets import Target
from xbuild.toolchain import find_zig

log = logging.getLogger(__name__)


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


# What xbuild's own setup of a wine prefix does; raise it when that changes, and every
# existing prefix is brought up to date once (the marker file records what it has).
PREFIX_SETUP_VERSION = 1
PREFIX_MARKER = ".xbuild-prefix.json"
# CPython 3.9+ needs Windows 8.1 and the UCRT launchers Windows 10; wine 8 reports 7.
WINDOWS_VERSION = "win10"


def _prefix_wanted(wine: Path) -> dict[str, object]:
    """The state a prefix should be in: setup version and the stand-ins' build key."""
    try:
        zig = find_zig()
    except ToolchainError as e:
        log.warning("wine stand-ins not available (%s); programs needing them will fail under wine", e)
        return {"setup": PREFIX_SETUP_VERSION, "standins": None}
    key = winestandins.build_key(zig, winestandins.builtin_dir(wine))
    return {"setup": PREFIX_SETUP_VERSION, "standins": key}


def read_prefix_marker(prefix: Path) -> object:
    """What `.xbuild-prefix.json` says this prefix has (None if absent or unreadable)."""
    try:
        return json.loads((prefix / PREFIX_MARKER).read_text())
    except (OSError, ValueError):
        return None


def _up_to_date(prefix: Path, wanted: Mapping[str, object]) -> bool:
    marker = read_prefix_marker(prefix)
    return isinstance(marker, dict) and all(marker.get(k) == v for k, v in wanted.items())


def _registry_file(overrides: Mapping[str, str]) -> str:
    lines = ["REGEDIT4", "", "[HKEY_CURRENT_USER\\Software\\Wine]", f'"Version"="{WINDOWS_VERSION}"', ""]
    lines.append("[HKEY_CURRENT_USER\\Software\\Wine\\DllOverrides]")
    lines.extend(f'"{dll}"="{order}"' for dll, order in sorted(overrides.items()))
    return "\r\n".join(lines) + "\r\n"


def _wine_step(wine: Path, env: Mapping[str, str], args: Sequence[str], what: str) -> None:
    proc = subprocess.run([str(wine), *args], env=dict(env), stdin=subprocess.DEVNULL, capture_output=True, timeout=600)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).decode(errors="replace").strip().splitlines()[-1:]
        raise CannotRunError(f"setting up the wine prefix failed at {what} (exit {proc.returncode}): {' '.join(tail)}")


def _set_up(wine: Path, env: Mapping[str, str], prefix: Path, wanted: Mapping[str, object]) -> dict[str, object]:
    """Windows version, stand-in DLLs and their load order: what this prefix needs for smoke runs.

    Returns the state reached (the stand-ins' key is None when they could not be built).
    """
    key = wanted["standins"]
    overrides: dict[str, str] = {}
    system32 = prefix / "drive_c" / "windows" / "system32"
    previous = read_prefix_marker(prefix)
    before = previous.get("files", []) if isinstance(previous, dict) else []
    names: list[str] = []
    if isinstance(key, str):
        try:
            built = winestandins.build(find_zig(), winestandins.builtin_dir(wine), key)
        except ToolchainError as e:
            log.warning("wine stand-ins not installed (%s); programs needing them will fail under wine", e)
            key = None
        else:
            names = winestandins.install(built, system32)
            overrides = winestandins.dll_overrides()
            log.info("wine prefix %s: installed stand-ins %s", prefix, ", ".join(names))
    reg = prefix / "drive_c" / "xbuild-prefix.reg"
    reg.write_text(_registry_file(overrides), encoding="ascii")
    try:
        _wine_step(wine, env, ["reg", "import", "C:\\xbuild-prefix.reg"], "reg import")
    finally:
        reg.unlink(missing_ok=True)
    for stale in set(before) - set(names):  # stand-ins an older xbuild installed and this one does not
        (system32 / str(stale)).unlink(missing_ok=True)
    return {**wanted, "standins": key, "files": names}


def ensure_wine_prefix(wine: Path, env: Mapping[str, str]) -> None:
    """Create the wine prefix once, quietly, so a program's first run prints only its own output,
    and keep it set up for smoke runs: Windows 10 and the stand-ins of xbuild.winestandins.

    A marker file records the setup version and stand-ins a prefix has, so an older prefix
    is upgraded once and a change of the stand-ins' sources reinstalls them.
    """
    prefix = Path(env["WINEPREFIX"])
    wanted = _prefix_wanted(wine)
    if (prefix / "system.reg").is_file() and _up_to_date(prefix, wanted):
        return
    prefix.parent.mkdir(parents=True, exist_ok=True)
    with xcache.locked("wine-prefix"):
        if not (prefix / "system.reg").is_file():
            _wine_step(wine, env, ["wineboot", "--init"], "wineboot --init")
        if not _up_to_date(prefix, wanted):
            reached = _set_up(wine, env, prefix, wanted)
            xcache.write_atomic(prefix / PREFIX_MARKER, json.dumps(reached, sort_keys=True) + "\n")


def invocation(
    target: Target, argv: Sequence[str], *, lib_root: Path | None = None, extra_env: Mapping[str, str] | None = None
) -> Invocation:
    """How to run `argv` (a program for `target` and its arguments) here.

    `lib_root` is the target's libc root for dynamically linked foreign Linux programs
    (qemu's `-L`); static programs need none. `extra_env` is applied first, so a
    WINEPREFIX given there is the one `prepare` sets up. Nothing is run or written here.
    """
    env = {**os.environ, **(extra_env or {})}
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
        return Invocation([str(wine), *argv], wine_environ(env), "wine")
    raise CannotRunError(f"cannot run {target.triple} programs on Linux; audit them instead (`xbuild audit`)")


def prepare(inv: Invocation) -> None:
    """Make ready what the invocation runs in: the wine prefix, created and set up once."""
    if inv.how == "wine":
        ensure_wine_prefix(Path(inv.argv[0]), inv.env)


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
    inv = invocation(target, argv, lib_root=lib_root, extra_env=extra_env)
    prepare(inv)
    env = inv.env
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
    prepare(inv)
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
