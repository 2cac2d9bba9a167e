"""Build the sdist development set for every cross target, cold, and report what happened.

    python bench/sdist_matrix.py                       # every package x every target
    python bench/sdist_matrix.py -t aarch64-unknown-linux-gnu -p markupsafe -p pyyaml
    python bench/sdist_matrix.py --run                 # then build tests/data/speedups per target and run it

For each (package, target): whether it built on the first try, the build time (the
wheel cache is bypassed, so every build is real; zig's own cache stays warm), and
which per-package override (xbuild/crossbuild/overrides.toml) applied. With --run,
the speedups app is built for each target from the wheels just made and run under
qemu-user or wine; its output says which compiled modules loaded.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

from xbuild import runtimes, targets
from xbuild.crossbuild import builder, sdist
from xbuild.errors import XbuildError
from xbuild.toolchain import find_zig

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "tests" / "data" / "speedups"
TARGETS = ["aarch64-unknown-linux-gnu", "armv7-unknown-linux-gnueabihf", "s390x-unknown-linux-gnu", "x86_64-pc-windows-msvc"]


def _set() -> dict[str, str]:
    """The development set, pinned as the speedups app pins it: name -> version."""
    deps = tomllib.loads((APP / "pyproject.toml").read_text())["project"]["dependencies"]
    return {Requirement(d).name.lower(): str(Requirement(d).specifier).lstrip("=") for d in deps}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-t", "--target", action="append", help="target triples (default: the four dev-set targets)")
    parser.add_argument("-p", "--package", action="append", help="packages of the set (default: all)")
    parser.add_argument("--python", default=None, help="runtime Python version (default: xbuild's default)")
    parser.add_argument("--run", action="store_true", help="also build and run the speedups app per target")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    from xbuild.config import _options

    python = args.python or str(_options()["python"].default)
    pins = _set()
    packages = [p.lower() for p in args.package] if args.package else list(pins)
    zig = find_zig()
    builder._cached = lambda key: None  # every build real: the point is to measure it
    rows = []
    for triple in args.target or TARGETS:
        target = targets.get(triple)
        runtime = runtimes.fetch(target, python)
        req = builder.Request(target, runtime, zig, sysroot_packages=())
        for name in packages:
            started = time.monotonic()
            try:
                built = builder.from_sdist(sdist.find(name, f"=={pins[name]}", runtime.python), req)
                status, detail = "ok", ", ".join(built.extensions)
            except XbuildError as e:
                status, detail = "FAILED", str(e)
                built = None
            seconds = time.monotonic() - started
            override = "yes" if built and built.override else "-"
            rows.append((triple, f"{runtime.python} ({runtime.source})", name, pins[name], status, f"{seconds:.0f}", override, detail))
            print("\t".join(rows[-1]), flush=True)
    ok = sum(r[4] == "ok" for r in rows)
    print(f"\nfirst-try success: {ok}/{len(rows)}; total build time {sum(float(r[5]) for r in rows):.0f} s")
    if args.run:
        for triple in args.target or TARGETS:
            out = Path("/tmp/sdist-matrix") / triple
            build = subprocess.run([sys.executable, "-m", "xbuild", "-q", "build", str(APP), "-t", triple, "--no-binary", ":all:", "--output-dir", str(out)], capture_output=True, text=True)
            if build.returncode != 0:
                print(f"{triple}: app build failed: {build.stderr.strip()}")
                continue
            folder = next(p for p in out.iterdir() if p.is_dir())
            ran = subprocess.run([sys.executable, "-m", "xbuild", "run", str(folder)], capture_output=True, text=True)
            print(f"--- {triple} (exit {ran.returncode})\n{ran.stdout.strip()}")
    return 0 if ok == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
