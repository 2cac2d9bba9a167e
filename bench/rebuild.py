#!/usr/bin/env python3
"""Warm rebuild of the example for its three targets: this xbuild against a previous one, in one run.

The previous release is exported with `git archive` (default: db5bd52, main before lock
files) and run with this checkout's interpreter. Each xbuild gets its own copy of
examples/yamldigest; both build it once to warm every cache (this one from a lock it
writes first), then rebuild it `--runs` times, interleaved so machine noise hits both
alike. Printed per variant: best and median wall time, CPU time (the process and its
children), and the ratios; then whether two rebuilds gave byte-identical archives, and
the per-step breakdown this xbuild logs for its last rebuild. Nothing here asserts a time.

Usage: python bench/rebuild.py [--runs N] [--previous COMMIT]     (the first run needs PyPI)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "yamldigest"
CLI = "import sys; sys.path.insert(0, sys.argv.pop(1)); from xbuild.cli import main; sys.exit(main(sys.argv[1:]))"


def xbuild(checkout: Path, *args: str) -> tuple[float, float, str]:
    """Run one xbuild command; (wall seconds, CPU seconds of it and its children, stderr)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CLI, str(checkout), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "SOURCE_DATE_EPOCH": "1700000000"},
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"xbuild from {checkout} failed:\n{proc.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), proc.stderr


def archives(dist: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(dist.glob("*.tar.gz")) + sorted(dist.glob("*.zip"))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--previous", default="db5bd52", help="the commit to compare with")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xbuild-bench-") as tmp:
        work = Path(tmp)
        previous = work / "previous"
        previous.mkdir()
        tree = subprocess.run(["git", "-C", str(REPO), "archive", args.previous], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(previous)], input=tree, check=True)
        variants = {f"xbuild {args.previous}": previous, "xbuild (this checkout)": REPO}
        projects = {}
        for label, checkout in variants.items():
            project = work / re.sub(r"\W+", "-", label) / "yamldigest"
            shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("dist", "pylock.toml"))
            if checkout == REPO:
                xbuild(checkout, "lock", str(project))
            print(f"warming {label} ...", file=sys.stderr)
            xbuild(checkout, "build", str(project))
            projects[label] = project
        walls: dict[str, list[float]] = {label: [] for label in variants}
        cpus: dict[str, list[float]] = {label: [] for label in variants}
        identical = True
        last = ""
        for n in range(args.runs):
            for label, checkout in variants.items():
                before = archives(projects[label] / "dist")
                wall, cpu, last_stderr = xbuild(checkout, "build", str(projects[label]))
                walls[label].append(wall)
                cpus[label].append(cpu)
                print(f"run {n + 1} {label}: {wall:.1f} s wall, {cpu:.1f} s CPU", file=sys.stderr)
                if checkout == REPO:
                    identical &= before == archives(projects[label] / "dist")
                    last = last_stderr
    base = next(iter(variants))
    print(f"warm rebuild of examples/yamldigest, 3 targets, {args.runs} runs each (os.cpu_count() = {os.cpu_count()})")
    print(f"{'variant':28} {'best wall':>10} {'median wall':>12} {'median CPU':>11} {'wall ratio':>11} {'CPU ratio':>10}")
    for label in variants:
        ratio = statistics.median(walls[label]) / statistics.median(walls[base])
        cpu_ratio = statistics.median(cpus[label]) / statistics.median(cpus[base])
        print(
            f"{label:28} {min(walls[label]):9.1f}s {statistics.median(walls[label]):11.1f}s {statistics.median(cpus[label]):10.1f}s "
            f"{ratio:10.2f}x {cpu_ratio:9.2f}x"
        )
    print(f"archives byte-identical across this checkout's rebuilds: {'yes' if identical else 'NO'}")
    print("per-step times of this checkout's last rebuild:")
    for line in last.splitlines():
        if " time: " in line:
            print(f"  {line.removeprefix('xbuild: ')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
