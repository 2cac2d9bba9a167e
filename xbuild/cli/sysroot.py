"""`xbuild sysroot ...`: lock, build, list, verify and locate hermetic Linux sysroots."""

from __future__ import annotations

import argparse
from pathlib import Path

from xbuild import cache, config, console, sysroot, targets
from xbuild.cli.common import add_target_option, subparser
from xbuild.errors import UsageError

_EPILOG = """\
examples:
  xbuild sysroot lock -t aarch64-unknown-linux-gnu        resolve today's packages, pin every hash
  xbuild sysroot build -t aarch64-unknown-linux-gnu       fetch exactly the lock, verify, unpack
  xbuild sysroot build -t linux-x86_64 --out ./sysroot --archive sysroot.tar.zst
  xbuild sysroot path -t linux-aarch64                    where the built sysroot is
  xbuild cc -t linux-aarch64 --sysroot -- -O2 -o app app.c -lz -lssl -lcrypto
  xbuild sysroot list
  xbuild sysroot verify

Recipes: sysroots/linux-gnu.toml; locks: sysroots/<triple>.lock.json.
XBUILD_DEBIAN_MIRROR points at another mirror or a snapshot.debian.org URL.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sr = subparser(sub, "sysroot", "pinned Debian sysroots (headers and libraries beyond libc) for Linux glibc targets", _EPILOG)
    sr_sub = sr.add_subparsers(dest="sysroot_command", metavar="ACTION", required=True)

    p = subparser(sr_sub, "lock", "resolve a target's packages and write its lock file", _EPILOG)
    add_target_option(p, many=False, required=True)
    p.add_argument("--out", type=Path, help="write the lock here (default: sysroots/<triple>.lock.json)")
    p.set_defaults(handler=cmd_lock)

    p = subparser(sr_sub, "build", "fetch what a lock names, verify it and unpack the sysroot", _EPILOG)
    add_target_option(p, many=False, required=True)
    p.add_argument("--lock", type=Path, help="the lock file (default: sysroots/<triple>.lock.json)")
    p.add_argument("--out", type=Path, help="unpack here instead of xbuild's cache")
    p.add_argument("--archive", type=Path, help="also write a .tar.zst of it, with a .sha256 next to it")
    p.add_argument("--offline", action="store_true", help="use cached packages only")
    p.set_defaults(handler=cmd_build)

    p = subparser(sr_sub, "path", "print the built sysroot's folder for a target", _EPILOG)
    add_target_option(p, many=False, required=True)
    p.set_defaults(handler=cmd_path)

    p = subparser(sr_sub, "list", "targets with a recipe, their locks and built sysroots", _EPILOG)
    p.set_defaults(handler=cmd_list)

    p = subparser(sr_sub, "verify", "check built sysroots against their manifests", _EPILOG)
    p.set_defaults(handler=cmd_verify)


def cmd_lock(args: argparse.Namespace) -> int:
    print(sysroot.lock(targets.get(args.target), args.out))
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    offline = args.offline or config.environment_option("offline", args.env)
    built = sysroot.build(targets.get(args.target), args.lock, out=args.out.resolve() if args.out else None, offline=offline)
    print(built.root)
    if args.archive:
        path, digest = sysroot.archive(built, args.archive)
        print(f"{path} sha256:{digest}")
    return 0


def cmd_path(args: argparse.Namespace) -> int:
    target = targets.get(args.target)
    found = sysroot.find(target)
    if found is None:
        raise UsageError(f"no sysroot built for {target.triple}: run `xbuild sysroot build -t {target.triple}`")
    print(found.root)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    rows = []
    for triple in sysroot.recipe()["targets"]:
        target = targets.get(triple)
        lock_file = sysroot.lock_path(target)
        found = sysroot.find(target)
        packages = len(sysroot.read_lock(target).packages) if lock_file.is_file() else "-"
        size = f"{cache.tree_size(found.root) / 2**20:.0f} MiB" if found else "-"
        rows.append((triple, target.debian, packages, "built" if found else ("locked" if lock_file.is_file() else "no lock"), size))
    print(console.table(("TARGET", "DEBIAN ARCH", "PACKAGES", "STATE", "SIZE"), rows))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    bad = 0
    for triple in sysroot.recipe()["targets"]:
        found = sysroot.find(targets.get(triple))
        if found is None:
            continue
        state = sysroot.changed(found)
        if state is None:
            print(f"{triple}: no manifest (built by an older xbuild): rebuild it")
            bad += 1
            continue
        print(f"{triple}: {'CHANGED since it was built' if state else 'intact'} ({found.root})")
        bad += state is not False
    return 1 if bad else 0
