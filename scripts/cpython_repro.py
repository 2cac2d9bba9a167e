#!/usr/bin/env python3
"""Are from-source builds byte-identical? Build dependencies twice and compare the results.

Each named package of xbuild/cpython/build.toml is built twice for the target, in two
work folders with different names (so a recorded build path shows up as a difference),
each against its own prefix; the installed files are then compared byte for byte
(pkg-config files name their prefix by design and are used only while building: skipped). Cheap by design (small packages first); run with `nice`.

Usage: nice -n 10 python scripts/cpython_repro.py [-t TRIPLE] [PACKAGE ...]   (default: zlib bzip2 expat libffi)
       python scripts/cpython_repro.py --compare RUNTIME_A RUNTIME_B   (two published runtimes, every file;
       for ELF files the differing sections are named)
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


def _elf_sections(path: Path) -> dict[str, bytes] | None:
    """Section name -> bytes of an ELF file, or None when it is not ELF."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    with path.open("rb") as f:
        if f.read(4) != b"\x7fELF":
            return None
        f.seek(0)
        try:
            return {s.name: s.data() for s in ELFFile(f).iter_sections() if s.header["sh_type"] != "SHT_NOBITS"}
        except ELFError:
            return None


def compare_runtimes(a: Path, b: Path) -> int:
    """Compare every file of two runtime trees; print counts and, per differing ELF file, its sections."""
    files_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file()}
    common = sorted(files_a & files_b)
    differ = [p for p in common if not filecmp.cmp(a / p, b / p, shallow=False)]
    print(f"{len(common) - len(differ)} identical, {len(differ)} different, {len(files_a ^ files_b)} in one tree only")
    for p in sorted(files_a ^ files_b):
        print(f"  only in {'A' if p in files_a else 'B'}: {p}")
    for p in differ:
        sa, sb = _elf_sections(a / p), _elf_sections(b / p)
        if sa is None or sb is None:
            print(f"  differs: {p}")
            continue
        names = sorted(n for n in sa.keys() | sb.keys() if sa.get(n) != sb.get(n))
        print(f"  differs (ELF sections {', '.join(names) or 'none: headers only'}): {p}")
    return 1 if differ or files_a ^ files_b else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-t", "--target", default="x86_64-unknown-linux-gnu")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("RUNTIME_A", "RUNTIME_B"))
    parser.add_argument("packages", nargs="*", default=["zlib", "bzip2", "expat", "libffi"])
    args = parser.parse_args()
    if args.compare:
        return compare_runtimes(*args.compare)
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
