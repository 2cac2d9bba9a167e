#!/usr/bin/env python3
"""Start-up time of xbuild artifacts against `python3` and PyInstaller, in one run.

Builds the example (yamldigest, which imports PyYAML's C loader), a hello-world app and
an import-heavy app (150 stdlib modules) for x86_64 Linux with xbuild, as a folder and
`--onefile`, the same apps with PyInstaller --onedir and --onefile, then runs each
command many times, interleaved so machine noise hits all alike, and prints minimum
and median wall time with ratios and each artifact's size. Nothing here asserts a time.

Usage: python bench/startup.py [--runs N]     (needs network for PyInstaller and PyYAML)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
APPS = {
    "hello": (REPO / "bench" / "hello", "from hello import main; raise SystemExit(main())", []),
    "yamldigest": (REPO / "examples" / "yamldigest", "from yamldigest.cli import main; raise SystemExit(main())", ["--text", "a: 1"]),
    "importheavy": (REPO / "bench" / "imports", "from importheavy import main; raise SystemExit(main())", []),
}
PYINSTALLER = "pyinstaller==6.22.3"


def sh(*argv: str | Path, **kw: object) -> None:
    subprocess.run([str(a) for a in argv], check=True, **kw)  # type: ignore[call-overload]


def size(path: Path) -> int:
    """Bytes of a file, or of every file below a folder."""
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def prepare(work: Path) -> tuple[dict[str, dict[str, list[str]]], dict[str, dict[str, int]]]:
    """Build every variant; returns app -> label -> command, and app -> label -> artifact size."""
    bench_venv = work / "venv"
    venv.create(bench_venv, with_pip=True)
    py = bench_venv / "bin" / "python"
    sh(py, "-m", "pip", "install", "-q", PYINSTALLER, *[str(project) for project, _, _ in APPS.values()])
    xbuild = Path(sys.executable).parent / "xbuild"
    commands: dict[str, dict[str, list[str]]] = {}
    sizes: dict[str, dict[str, int]] = {}
    for app, (project, code, args) in APPS.items():
        script = work / f"{app}_main.py"
        script.write_text(code + "\n")
        out = work / "dist" / app
        sh(xbuild, "-q", "build", project, "--onefile", "--output-dir", out, "-t", "x86_64-unknown-linux-gnu", "--source", "debian", stdout=subprocess.DEVNULL)
        folder = next(out.glob("*-x86_64-unknown-linux-gnu"))
        single = folder.with_name(folder.name + "-onefile") / app
        for mode in ("onedir", "onefile"):
            sh(py, "-m", "PyInstaller", "--log-level", "ERROR", f"--{mode}", "--name", f"{app}-{mode}",
               "--distpath", work / "pyi" / mode, "--workpath", work / "pyi-build" / mode, "--specpath", work / "pyi-spec", script)  # fmt: skip
        onedir = work / "pyi" / "onedir" / f"{app}-onedir"
        commands[app] = {
            "python3 -I -S -c pass": [str(py), "-I", "-S", "-c", "pass"],
            "python3 -I app.py": [str(py), "-I", str(script), *args],
            "xbuild folder": [str(folder / app), *args],
            "xbuild one-file": [str(single), *args],
            "PyInstaller --onedir": [str(onedir / f"{app}-onedir"), *args],
            "PyInstaller --onefile": [str(work / "pyi" / "onefile" / f"{app}-onefile"), *args],
        }
        sizes[app] = {
            "xbuild folder": size(folder),
            "xbuild one-file": size(single),
            "PyInstaller --onedir": size(onedir),
            "PyInstaller --onefile": size(work / "pyi" / "onefile" / f"{app}-onefile"),
        }
    return commands, sizes


def measure(commands: dict[str, list[str]], runs: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {label: [] for label in commands}
    for argv in commands.values():  # warm the page cache
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    for _ in range(runs):
        for label, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
            times[label].append((time.perf_counter() - start) * 1000)
    return times


def report(app: str, times: dict[str, list[float]], sizes: dict[str, int]) -> str:
    base = statistics.median(times["python3 -I app.py"])
    bare = statistics.median(times["python3 -I -S -c pass"])
    pyi = statistics.median(times["PyInstaller --onedir"])
    lines = [
        f"### {app}",
        "",
        "| command | min ms | median ms | vs python3 -I app.py | vs python3 -I -S -c pass | vs PyInstaller --onedir | size MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, samples in times.items():
        med = statistics.median(samples)
        mb = f"{sizes[label] / 1e6:.1f}" if label in sizes else ""
        lines.append(f"| {label} | {min(samples):.1f} | {med:.1f} | {med / base:.2f}x | {med / bare:.2f}x | {med / pyi:.2f}x | {mb} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xbuild-bench-") as tmp:
        commands, sizes = prepare(Path(tmp))
        print(f"runs per command: {args.runs} (interleaved), host: {os.uname().machine}, {os.cpu_count()} cores\n")
        for app, variants in commands.items():
            print(report(app, measure(variants, args.runs), sizes[app]) + "\n")
    for project, _, _ in APPS.values():
        shutil.rmtree(project / "build", ignore_errors=True)


if __name__ == "__main__":
    main()
