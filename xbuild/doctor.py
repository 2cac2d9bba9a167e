"""`xbuild doctor`: what this host has for building and running every target, and what to install."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from xbuild import cache as xcache
from xbuild import hosttools, runner, targets, winestandins
from xbuild.debian import DEFAULT_KEYRING
from xbuild.errors import ToolchainError
from xbuild.toolchain import find_zig


@dataclass(frozen=True)
class Check:
    """One finding; `required` ones make doctor fail when not `ok`."""

    name: str
    ok: bool
    detail: str
    hint: str = ""
    required: bool = False


def _zig() -> Check:
    try:
        zig = find_zig()
    except ToolchainError as e:
        return Check("zig", False, str(e), required=True)
    return Check("zig", True, f"{zig.version} at {zig.path}")


def _wine() -> Check:
    wine = hosttools.find_wine()
    if wine:
        return Check("wine64", True, f"{wine} (runs x86_64 Windows artifacts)")
    return Check("wine64", False, "not found: Windows artifacts build but cannot be smoke-run", "apt-get install wine64")


def _wine_standins(wine: Path | None) -> list[Check]:
    """The stand-in DLLs xbuild adds to its wine prefix (never to artifacts), and whether they are there."""
    if wine is None:
        return []
    prefix = Path(runner.wine_environ(os.environ)["WINEPREFIX"])
    system32 = prefix / "drive_c" / "windows" / "system32"
    marker = runner.read_prefix_marker(prefix)
    recorded = isinstance(marker, dict) and isinstance(marker.get("standins"), str)
    builtins = winestandins.builtin_dir(wine)
    checks = []
    for standin in winestandins.standins():
        if standin.extends and (builtins is None or not (builtins / standin.extends).is_file()):
            checks.append(Check(standin.name, False, f"wine stand-in, {standin.purpose}: wine's builtin {standin.extends} not found, so it cannot be built"))
            continue
        if recorded and (system32 / standin.name).is_file():
            where = f"installed in {system32}"
        else:
            where = f"not in {prefix} yet: the next `xbuild run` of a Windows program builds and installs it"
        checks.append(Check(standin.name, True, f"wine stand-in, {standin.purpose}; {where}"))
    return checks


def _qemu() -> list[Check]:
    seen: dict[str, list[str]] = {}
    host = targets.host()
    for target in targets.all_targets():
        if target.qemu and (host is None or target.machine != host.machine):
            seen.setdefault(target.qemu, []).append(target.triple)
    checks = []
    for binary, triples in seen.items():
        path = shutil.which(binary)
        detail = f"{path} ({', '.join(triples)})" if path else f"not found: cannot run {', '.join(triples)}"
        checks.append(Check(binary, path is not None, detail, "" if path else "apt-get install qemu-user"))
    return checks


def _gpgv() -> Check:
    keyring = DEFAULT_KEYRING
    if shutil.which("gpgv") and keyring.is_file():
        return Check("gpgv", True, f"checks Debian InRelease signatures with {keyring}")
    return Check("gpgv", False, "missing: Debian indexes are used unsigned-checked", "apt-get install gpgv debian-archive-keyring")


def _cache() -> Check:
    root = xcache.root()
    probe = root if root.exists() else root.parent
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    size = xcache.tree_size(root)
    return Check("cache", True, f"{root} ({size / 2**20:.0f} MiB used, {free / 2**30:.0f} GiB free)")


def run_checks() -> list[Check]:
    """Every check, in the order the report shows them."""
    return [_zig(), _wine(), *_wine_standins(hosttools.find_wine()), *_qemu(), _gpgv(), _cache()]
