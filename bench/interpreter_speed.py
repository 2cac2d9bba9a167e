#!/usr/bin/env python3
"""Speed of xbuild's from-source CPython 3.13 against a PGO+LTO build of the same minor version.

Why: xbuild builds CPython with `zig cc` and neither profile-guided optimization nor
link-time optimization (and with a shared libpython), where distributions ship
interpreters built with both. This measures what that costs on pure-Python code.

How: the reference is Debian trixie's own `python3.13` (its static build: `make
profile-opt` and -O3 -flto per debian/rules), fetched through xbuild's verified Debian
chain (InRelease -> Packages -> each .deb by sha256) together with trixie's libc6,
unpacked once into xbuild's cache (keyed by the lock's digest) and run under trixie's own
loader (`ld-linux-x86-64.so.2 --inhibit-cache --library-path <tree>`), so neither the
host's libc nor its loader cache takes part. The candidate is the published from-source
runtime for x86_64-unknown-linux-gnu, run under that same loader and libc by default so
that only the interpreter builds differ (`--host-libc`: as a user on this host runs it).
Each workload in bench/workloads/ is a standalone script that times its own inner loop
with time.perf_counter and prints the seconds, so process start-up is excluded. Rounds
are interleaved (reference, xbuild, reference, xbuild, ..., the order swapped every
round); the table reports each interpreter's minimum per workload, the ratio
xbuild/reference (above 1: xbuild is slower) and the geometric mean of the ratios.
Nothing here asserts a time. The patch versions differ (trixie pins its own 3.13.x), and
the C-library workload measures each runtime's OpenSSL and zlib, not the interpreter.

Usage: python bench/interpreter_speed.py [--rounds N] [--scale F] [--only NAME ...] [--json PATH]
                                         [--host-libc] [--build] [--offline]
       (the xbuild runtime must be built first: xbuild runtime build -t x86_64-unknown-linux-gnu --python 3.13)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from xbuild import cache, debian, targets
from xbuild.cpython.runtime import build_runtime, published_runtime
from xbuild.runtimes.model import Runtime

HERE = Path(__file__).resolve().parent
WORKLOADS_DIR = HERE / "workloads"
TRIPLE = "x86_64-unknown-linux-gnu"
MIRROR = "https://deb.debian.org/debian"
SUITE = "trixie"
ARCH = "amd64"
PYTHON = "python3.13"
ROOTS = ("python3.13-minimal", "libpython3.13-stdlib", "libc6")
EXCLUDE = ("debconf", "tzdata", "netbase", "media-types", "readline-common")
CACHE_NAME = f"{SUITE}-{PYTHON}"
LIBRARY_DIRS = ("usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu")
LOADERS = ("usr/lib64/ld-linux-x86-64.so.2", "lib64/ld-linux-x86-64.so.2", "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
PYTHON_FLAGS = ("-s", "-B")  # no user site-packages, no bytecode written into either tree
# Debian's sysconfig data describes its shared-libpython build; /usr/bin/python3.13 is the
# separate static build, which debian/rules (python3.13 3.13.5-2+deb13u5) makes on amd64 with
# `make profile-opt` (with_pgo) and LTO_CFLAGS = -g -fwrapv -O3 -flto -fuse-linker-plugin.
REFERENCE_BUILD = "PGO + LTO (-O3 -flto), static libpython, non-PIE, GCC (debian/rules' static build)"


@dataclass(frozen=True)
class Workload:
    """One script in bench/workloads/: `python <name>.py SIZE` prints its loop's seconds."""

    name: str
    size: int  # the default size, about half a second on a 2020s x86_64 core
    what: str
    pure: bool = True  # False: it measures C libraries, kept out of the main geometric mean

    @property
    def script(self) -> Path:
        return WORKLOADS_DIR / f"{self.name}.py"


WORKLOADS = (
    Workload("nbody", 80_000, "float arithmetic on lists"),
    Workload("dispatch", 400, "classes, method calls, allocation"),
    Workload("float_math", 90_000, "float objects and the math module"),
    Workload("template", 2500, "generators, dicts, str building"),
    Workload("regex", 30_000, "the re engine"),
    Workload("json_roundtrip", 200, "json dumps/loads"),
    Workload("clibs_hash_zlib", 24, "C libraries: OpenSSL sha256, zlib", pure=False),
)


@dataclass(frozen=True)
class Interpreter:
    """How to start one interpreter, and what it says about itself."""

    label: str
    argv: tuple[str, ...]
    env: dict[str, str]
    facts: dict[str, Any] = field(default_factory=dict)


# -- the reference: Debian trixie's python3.13 under trixie's loader and libc ---------------


def _lock_digest(lock: debian.Lock) -> str:
    return cache.sha256_bytes(json.dumps(lock.to_json(), sort_keys=True).encode())


def _cache_dir() -> Path:
    return cache.root() / "bench" / CACHE_NAME


def _newest_cached_lock() -> debian.Lock:
    """The lock of the most recently unpacked reference tree (for --offline)."""
    found = sorted(_cache_dir().glob("*/lock.json"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise SystemExit(f"--offline: no unpacked {SUITE} {PYTHON} below {_cache_dir()} yet; run once online")
    return debian.Lock.from_json(json.loads(found[-1].read_text()))


def reference_tree(*, offline: bool = False) -> tuple[Path, debian.Lock]:
    """The unpacked trixie tree (root file system) holding python3.13 and libc6, and its lock."""
    if offline:
        lock = _newest_cached_lock()
    else:
        lock = debian.lock_packages(debian.mirror_url(MIRROR), SUITE, ARCH, roots=list(ROOTS), exclude=list(EXCLUDE))
    final = _cache_dir() / _lock_digest(lock)[:16]
    if (final / "fs" / "usr" / "bin" / PYTHON).is_file():
        return final / "fs", lock
    with cache.locked(f"bench-{CACHE_NAME}"):
        if not (final / "fs" / "usr" / "bin" / PYTHON).is_file():
            staging = Path(tempfile.mkdtemp(prefix=f"bench-{CACHE_NAME}-", dir=cache.scratch_dir()))
            debian.unpack_lock(lock, staging / "fs", offline=offline)
            cache.write_atomic(staging / "lock.json", json.dumps(lock.to_json(), indent=1, sort_keys=True) + "\n")
            cache.publish_dir(staging, final)
    return final / "fs", lock


def _loader(fs: Path) -> Path:
    for rel in LOADERS:
        if (fs / rel).exists():
            return fs / rel
    raise SystemExit(f"no ld-linux-x86-64.so.2 in the unpacked {SUITE} tree {fs}")


def trixie_loader(fs: Path) -> tuple[str, ...]:
    """The command prefix that runs a program under trixie's loader and libc, not the host's."""
    library_path = ":".join(str(fs / d) for d in LIBRARY_DIRS if (fs / d).is_dir())
    return (str(_loader(fs)), "--inhibit-cache", "--library-path", library_path)


def reference_interpreter(fs: Path, lock: debian.Lock) -> Interpreter:
    versions = {d.package: d.version for d in lock.packages}
    facts = {
        "debian": f"{lock.suite} {lock.architecture}, InRelease {lock.signature}",
        "packages": {name: versions[name] for name in ROOTS},
        "lock_sha256": _lock_digest(lock),
        "tree": str(fs),
        "build": REFERENCE_BUILD,
    }
    argv = (*trixie_loader(fs), str(fs / "usr" / "bin" / PYTHON))
    return Interpreter(f"Debian {SUITE} {PYTHON}", argv, {**_base_env(), "PYTHONHOME": str(fs / "usr")}, facts)


# -- the candidate: xbuild's from-source runtime ---------------------------------------------


def xbuild_runtime(*, build: bool) -> Runtime | None:
    target = targets.get(TRIPLE)
    return build_runtime(target) if build else published_runtime(target)


def xbuild_interpreter(runtime: Runtime, loader: tuple[str, ...]) -> Interpreter:
    """xbuild's interpreter, under `loader` (trixie's, so both share one libc) or the host's (empty)."""
    facts = {"runtime": str(runtime.root), "python": runtime.python, "notes": runtime.notes, "build": ""}
    argv = (*loader, str(runtime.path(f"bin/{PYTHON}")))
    return Interpreter(f"xbuild source {runtime.python}", argv, _base_env(), facts)


# -- running -----------------------------------------------------------------------------------

PROBE = """
import json, sys, sysconfig
maps = open("/proc/self/maps").read().split()
config = sysconfig.get_config_var("CONFIG_ARGS") or ""
print(json.dumps({
    "version": sys.version,
    "prefix": sys.prefix,
    "libc": sorted({p for p in maps if "/libc.so" in p or "/libm.so" in p or "/ld-linux" in p}),
    "config_pgo": "--enable-optimizations" in config,
    "config_lto": "--with-lto" in config,
    "config_shared": "--enable-shared" in config,
}))
"""


def _base_env() -> dict[str, str]:
    """A small, equal environment for both: fixed hash seed, C.UTF-8, nothing from the caller's Python."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "0"}


def _run(interp: Interpreter, args: list[str]) -> str:
    proc = subprocess.run([*interp.argv, *PYTHON_FLAGS, *args], env=interp.env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{interp.label} failed ({proc.returncode}) running {' '.join(args)[:80]}:\n{proc.stderr.strip()}")
    return proc.stdout


def probe(interp: Interpreter) -> Interpreter:
    """The same interpreter with its version, mapped libc and build recorded."""
    facts = {**interp.facts, **json.loads(_run(interp, ["-c", PROBE]))}
    if not facts["build"]:  # its own sysconfig describes this very build
        yes = {True: "yes", False: "no"}
        compiler = facts["version"].rsplit("[", 1)[-1].rstrip("]").strip()
        shared = "shared" if facts["config_shared"] else "static"
        facts["build"] = f"PGO {yes[facts['config_pgo']]}, LTO {yes[facts['config_lto']]}, {shared} libpython, {compiler} (its CONFIG_ARGS)"
    return Interpreter(interp.label, interp.argv, interp.env, facts)


def time_workload(interp: Interpreter, workload: Workload, size: int) -> float:
    """Seconds the workload's inner loop took, as the script reports it."""
    out = _run(interp, [str(workload.script), str(size)])
    return float(out.strip().splitlines()[-1])


def measure(pair: tuple[Interpreter, Interpreter], workloads: list[Workload], scale: float, rounds: int) -> dict[str, list[list[float]]]:
    """Per workload, the times of each interpreter over the rounds, run interleaved."""
    times: dict[str, list[list[float]]] = {w.name: [[], []] for w in workloads}
    for r in range(rounds):
        order = (0, 1) if r % 2 == 0 else (1, 0)
        for w in workloads:
            for i in order:
                times[w.name][i].append(time_workload(pair[i], w, max(1, round(w.size * scale))))
        print(f"round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
    return times


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def summarize(workloads: list[Workload], times: dict[str, list[list[float]]], scale: float) -> list[dict[str, Any]]:
    rows = []
    for w in workloads:
        ref, xb = (min(t) for t in times[w.name])
        rows.append({"workload": w.name, "what": w.what, "pure_python": w.pure, "size": max(1, round(w.size * scale)),
                     "reference_s": ref, "xbuild_s": xb, "ratio": xb / ref,
                     "reference_all": times[w.name][0], "xbuild_all": times[w.name][1]})  # fmt: skip
    return rows


def print_table(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Print the table; returns the geometric means (interpreter workloads, and all)."""
    print(f"\n{'workload':<18} {'reference s':>12} {'xbuild s':>10} {'xbuild/ref':>11}  what")
    for row in rows:
        print(f"{row['workload']:<18} {row['reference_s']:>12.4f} {row['xbuild_s']:>10.4f} {row['ratio']:>11.3f}  {row['what']}")
    means = {
        "geomean_interpreter": geomean([r["ratio"] for r in rows if r["pure_python"]]),
        "geomean_all": geomean([r["ratio"] for r in rows]),
    }
    print(f"{'geomean (interpreter workloads)':<42} {means['geomean_interpreter']:>11.3f}")
    if any(not r["pure_python"] for r in rows):
        print(f"{'geomean (all, incl. C libraries)':<42} {means['geomean_all']:>11.3f}")
    return means


def describe(interp: Interpreter) -> None:
    f = interp.facts
    print(f"{interp.label}: {f['version'].splitlines()[0]}")
    print(f"  build: {f['build']}")
    print(f"  loader and libc mapped: {', '.join(f['libc'])}")
    if "packages" in f:
        print(f"  Debian packages: {', '.join(f'{k} {v}' for k, v in f['packages'].items())} ({f['debian']})")
    else:
        print(f"  runtime {f['runtime']}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; the minimum of each is reported (default 5)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every workload's default size (default 1.0)")
    parser.add_argument("--only", nargs="+", choices=[w.name for w in WORKLOADS], help="run only these workloads")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--build", action="store_true", help="build the xbuild runtime if it is not published yet")
    parser.add_argument("--host-libc", action="store_true", help=f"run xbuild's interpreter under the host's libc, not {SUITE}'s")
    parser.add_argument("--offline", action="store_true", help=f"reuse the last unpacked {SUITE} tree without asking the mirror")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.scale <= 0:
        parser.error("--rounds must be at least 1 and --scale above 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runtime = xbuild_runtime(build=args.build)
    if runtime is None:
        print(
            f"no published source runtime for {TRIPLE}: run `xbuild runtime build -t {TRIPLE} --python 3.13` (or pass --build)",
            file=sys.stderr,
        )
        return 2
    fs, lock = reference_tree(offline=args.offline)
    candidate = xbuild_interpreter(runtime, () if args.host_libc else trixie_loader(fs))
    pair = (probe(reference_interpreter(fs, lock)), probe(candidate))
    for interp in pair:
        describe(interp)
    workloads = [w for w in WORKLOADS if not args.only or w.name in args.only]
    rows = summarize(workloads, measure(pair, workloads, args.scale, args.rounds), args.scale)
    means = print_table(rows)
    if args.json:
        result = {"rounds": args.rounds, "scale": args.scale, "interpreters": {"reference": asdict(pair[0]), "xbuild": asdict(pair[1])},
                  "workloads": rows, **means}  # fmt: skip
        cache.write_atomic(args.json, json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
