"""Commands about this host and its compiler: targets, doctor, toolchain, cc / c++."""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import tempfile
from pathlib import Path

from xbuild import console, doctor, sysroot, targets, toolchain
from xbuild.cli.common import add_target_option, subparser
from xbuild.errors import UsageError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparser(
        sub,
        "targets",
        "list every target xbuild builds for",
        "examples:\n  xbuild targets\n  xbuild targets --os windows\n  xbuild targets --json | jq '.[].triple'\n",
    )
    p.add_argument("--os", choices=["linux", "windows", "macos"], help="only targets for this OS")
    p.add_argument("--json", action="store_true", help="machine-readable, with wheel platform tags")
    p.set_defaults(handler=cmd_targets)

    p = subparser(
        sub,
        "doctor",
        "check this host: zig, wine64, qemu-user, cache",
        "examples:\n  xbuild doctor\n  xbuild doctor --json\n\nExits 1 when something required (zig) is missing.\n",
    )
    p.add_argument("--json", action="store_true", help="machine-readable")
    p.set_defaults(handler=cmd_doctor)

    tc = subparser(
        sub,
        "toolchain",
        "the pinned zig compiler: show it, prewarm it, write CC wrappers",
        "examples:\n  xbuild toolchain show\n  xbuild toolchain prewarm --target all\n"
        "  xbuild toolchain wrappers -t linux-aarch64   then: CC=<printed cc path> ./configure ...\n",
    )
    tc_sub = tc.add_subparsers(dest="toolchain_command", metavar="ACTION", required=True)
    p = subparser(tc_sub, "show", "print the zig in use, its version and cache", "example:\n  xbuild toolchain show\n")
    p.add_argument("--json", action="store_true", help="machine-readable")
    p.set_defaults(handler=cmd_toolchain_show)
    p = subparser(
        tc_sub,
        "prewarm",
        "compile zig's libc for targets now, so first builds are fast",
        "examples:\n  xbuild toolchain prewarm                  every target\n"
        "  xbuild toolchain prewarm -t win_amd64 -t linux-x86_64-musl\n\n"
        "The first link per musl or Windows target builds its libc (30-80 s); later ones reuse it.\n",
    )
    add_target_option(p, many=True, required=False)
    p.set_defaults(handler=cmd_toolchain_prewarm)
    p = subparser(
        tc_sub,
        "wrappers",
        "write cc/c++/ar/ranlib/dlltool/rc scripts for a target",
        "examples:\n  xbuild toolchain wrappers -t aarch64-unknown-linux-gnu\n"
        "  xbuild toolchain wrappers -t win_amd64 --dir ./tools\n\n"
        "Each script runs the pinned zig for that target with a scrubbed environment; use it as CC=...\n",
    )
    add_target_option(p, many=True, required=True)
    p.add_argument("--dir", type=Path, help="write here instead of xbuild's cache (one target only)")
    p.add_argument("--sysroot", action="store_true", help="cc and c++ also use the target's built sysroot")
    p.set_defaults(handler=cmd_toolchain_wrappers)

    for name, cxx in (("cc", False), ("c++", True)):
        p = subparser(
            sub,
            name,
            f"run the pinned `zig {name}` for a target",
            f"examples:\n  xbuild {name} -t linux-aarch64 -- -O2 -o hello hello.c\n"
            f"  xbuild {name} -t win_amd64 -- -o hello.exe hello.c\n\n"
            "Everything after -- goes to zig; the target, its libc floor and xbuild's flags come first.\n",
        )
        add_target_option(p, many=False, required=True)
        p.add_argument("--sysroot", action="store_true", help="add the target's built sysroot (zlib, OpenSSL, ... headers and libraries)")
        p.set_defaults(handler=cmd_cc, cxx=cxx)


def cmd_targets(args: argparse.Namespace) -> int:
    chosen = [t for t in targets.all_targets() if args.os in (None, t.os)]
    if args.json:
        print(json.dumps(targets.table_rows(chosen), indent=2))
        return 0
    rows = [(t.triple, ", ".join(t.aliases[:2]), t.floor_label, t.zig, t.format, t.policy) for t in chosen]
    print(console.table(("TARGET", "ALIASES", "FLOOR", "ZIG TARGET", "FORMAT", "POLICY"), rows))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    checks = doctor.run_checks()
    failed = any(c.required and not c.ok for c in checks)
    if args.json:
        print(json.dumps([c.__dict__ for c in checks], indent=2))
        return 1 if failed else 0
    for c in checks:
        mark = "ok  " if c.ok else ("FAIL" if c.required else "warn")
        hint = f"  -> {c.hint}" if c.hint else ""
        print(f"[{mark}] {c.name:<13} {c.detail}{hint}")
    return 1 if failed else 0


def cmd_toolchain_show(args: argparse.Namespace) -> int:
    zig = toolchain.find_zig()
    info = {"zig": str(zig.path), "version": zig.version, "cache": str(zig.cache_dir)}
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key:<8} {value}")
    return 0


def cmd_toolchain_prewarm(args: argparse.Namespace) -> int:
    chosen = targets.select(args.targets or ["all"])
    zig = toolchain.find_zig()
    console.status(f"prewarming zig {zig.version} for {len(chosen)} target(s); a cold musl or Windows libc takes 30-80 s")
    with tempfile.TemporaryDirectory(prefix="xbuild-prewarm-") as tmp:
        for target in console.progress(chosen, "prewarm"):
            toolchain.prewarm(zig, target, Path(tmp))
    console.status(f"done: zig cache at {zig.cache_dir}")
    return 0


def cmd_toolchain_wrappers(args: argparse.Namespace) -> int:
    chosen = targets.select(args.targets)
    if args.dir and len(chosen) > 1:
        raise UsageError("--dir takes one target; drop --dir to write each target's wrappers under the cache")
    zig = toolchain.find_zig()
    for target in chosen:
        written = toolchain.write_wrappers(zig, target, args.dir, extra_cflags=_sysroot_flags(target) if args.sysroot else ())
        print(f"{target.triple}:")
        for tool, path in written.items():
            print(f"  {tool:<8} {path}")
    return 0


def cmd_cc(args: argparse.Namespace) -> int:
    target = targets.get(args.target)
    if target.parts:
        raise UsageError(f"{target.triple} is built from {' and '.join(target.parts)}: zig compiles for one of them at a time; pass -t with one")
    zig = toolchain.find_zig()
    extra = _sysroot_flags(target) if args.sysroot else []
    return subprocess.run(zig.cc(target, [*extra, *args.passthrough], cxx=args.cxx), env=zig.environ()).returncode


def _sysroot_flags(target: targets.Target) -> list[str]:
    found = sysroot.find(target)
    if found is None:
        raise UsageError(f"no sysroot built for {target.triple}: run `xbuild sysroot build -t {target.triple}` first")
    if found.glibc_floor:
        log.info("the %s sysroot's libraries need glibc %s: programs using them have that floor, not %s", target.triple, found.glibc_floor, target.floor)
    return found.compiler_flags()
