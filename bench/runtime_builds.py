#!/usr/bin/env python3
"""From-source CPython runtimes, one target at a time: build time, audit, smoke run under qemu.

For each triple (default: every row of xbuild/cpython/targets.toml) this builds the runtime
(or reuses the published one, then it says "cached" and reports the seconds the build
recorded), audits it against the target's own glibc floor (musl: musllinux), and runs
tests/data/cpython_smoke.py in it: natively for this machine's arch, else under
qemu-user (`-L` with the target's Debian libc for glibc, nothing for static musl).
Builds run one after another, never in parallel. Nothing here asserts a time.

Usage: nice -n 10 python bench/runtime_builds.py [TRIPLE ...] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from xbuild import targets  # noqa: E402
from xbuild.cpython import runtime as built  # noqa: E402
from xbuild.errors import XbuildError  # noqa: E402
from xbuild.resources import load_toml  # noqa: E402
from xbuild.runtimes import debian as debian_runtime  # noqa: E402
from xbuild.runtimes.model import Runtime  # noqa: E402

SMOKE = (REPO / "tests" / "data" / "cpython_smoke.py").read_text()


def _runner(runtime: Runtime) -> list[str]:
    target = targets.get(runtime.triple)
    exe = str(runtime.path(runtime.executable))
    if target.machine == platform.machine():
        return [exe]
    qemu = target.qemu or f"qemu-{target.machine}"
    if target.libc == "musl":
        return [qemu, exe]
    return [qemu, "-L", str(debian_runtime.libc_root(target)), exe]


def _audit(runtime: Runtime) -> str:
    target = targets.get(runtime.triple)
    floor = ["--glibc", target.floor] if target.libc == "glibc" and target.floor else []
    xbuild = shutil.which("xbuild") or str(Path(sys.executable).with_name("xbuild"))
    proc = subprocess.run([xbuild, "audit", str(runtime.root), "-t", runtime.triple, *floor, "--json"], capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        return f"audit failed: {proc.stderr.strip()[-200:]}"
    report = json.loads(proc.stdout)
    report = report[0] if isinstance(report, list) else report
    floors = ", ".join(f"{k} {v}" for k, v in report["floors"].items()) or "-"
    return f"{report['policy']}: {report['summary']['violations']} violations in {report['summary']['files']} binaries, floor {floors}"


def _smoke(runtime: Runtime) -> str:
    try:
        runner = _runner(runtime)
    except XbuildError as e:  # riscv64: xbuild pins no Debian libc for it, so qemu has no root
        return f"smoke not run: {e}"
    proc = subprocess.run([*runner, "-I", "-c", SMOKE], capture_output=True, text=True, timeout=900, env={"TERM": "xterm"})
    if proc.returncode != 0:
        return f"smoke FAILED: {proc.stderr.strip().splitlines()[-1:]}"
    facts = json.loads(proc.stdout)
    keep = ("openssl", "sqlite", "ctypes_callback", "compression", "sha3_256", "uuid", "terminfo_clear", "readline")
    return json.dumps({k: facts.get(k) for k in keep})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("triples", nargs="*", help="default: every buildable target")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    triples = args.triples or list(load_toml(REPO / "xbuild" / "cpython" / "targets.toml"))
    results = []
    for triple in triples:
        row: dict[str, object] = {"triple": triple}
        started = time.monotonic()
        try:
            runtime = built.build_runtime(targets.get(triple))
        except XbuildError as e:
            row["error"] = str(e)
            results.append(row)
            print(f"{triple}: build failed after {time.monotonic() - started:.0f} s: {e}", flush=True)
            continue
        wall = time.monotonic() - started
        times = built.build_times(targets.get(triple))
        recorded = sum(times.values())
        row |= {
            "wall_seconds": round(wall),
            "recorded_seconds": round(recorded),
            "per_package": times,
            "cached": wall < 60,
            "audit": _audit(runtime),
            "smoke": _smoke(runtime),
        }
        results.append(row)
        minutes = f"{recorded / 60:.1f} min recorded" + (" (cached)" if row["cached"] else f", {wall / 60:.1f} min wall")
        print(f"{triple}: {minutes}; {row['audit']}; {row['smoke']}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if all("error" not in r and "FAILED" not in str(r["smoke"]) for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
