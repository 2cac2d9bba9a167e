#!/usr/bin/env python3
"""Are from-source builds byte-identical? Build dependencies twice and compare the results.

Each named package of xbuild/cpython/build.toml is built twice for the target, in two
work folders with different names (so a recorded build path shows up as a difference),
each against its own prefix; the installed files are then compared byte for byte
(pkg-config files name their prefix by design and are used only while building: skipped). Cheap by design (small packages first); run with `nice`.

Usage: nice -n 10 python scripts/cpython_repro.py [-t TRIPLE] [PACKAGE ...]   (default: zlib bzip2 expat libffi)
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from xbuild import cache, targets  # noqa: E402
from xbuild.cpython import builder, sources  # noqa: E402
from xbuild.toolchain import find_zig  # noqa: E402


def _differences(a: Path, b: Path) -> list[str]:
    """Files present in only one tree or with different bytes (relative paths)."""
    found: list[str] = []
    files_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file() and p.suffix != ".pc"}
    files_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file() and p.suffix != ".pc"}
    found += [f"only in one build: {p}" for p in sorted(files_a ^ files_b)]
    found += [f"differs: {p}" for p in sorted(files_a & files_b) if not filecmp.cmp(a / p, b / p, shallow=False)]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-t", "--target", default="x86_64-unknown-linux-gnu")
    parser.add_argument("packages", nargs="*", default=["zlib", "bzip2", "expat", "libffi"])
    args = parser.parse_args()
    target, lock, zig = targets.get(args.target), sources.load_lock(), find_zig()
    top = Path(tempfile.mkdtemp(prefix="cpython-repro.", dir=cache.scratch_dir()))
    failures = 0
    try:
        for name in args.packages:
            tarball = sources.fetch(lock, name)
            outputs = []
            for run in ("first", "second-build"):
                work = top / f"{name}-{run}"
                b = builder.Build(target, zig, work, lock)
                builder.run_package(b, name, tarball)
                outputs.append(b.prefix)
            diff = _differences(*outputs)
            failures += bool(diff)
            print(f"{name}: {'byte-identical' if not diff else f'{len(diff)} difference(s)'}", *diff[:10], sep="\n  ", flush=True)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
