"""Write the one-file executables of a built artifact folder: launcher + payload.

    dist/<name>-<version>-<triple>-onefile/<script>

The folder's name can never be the folder artifact's, and each executable keeps its
script's name (what `argparse` shows as the program).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from xbuild.errors import BuildError
from xbuild.launcher import EntryPoint
from xbuild.onefile import payload
from xbuild.onefile.datapkgs import PathDataPackage
from xbuild.onefile.launcher import build_onefile_launcher
from xbuild.resources import shipped
from xbuild.runtimes.model import Runtime
from xbuild.targets import Target
from xbuild.toolchain import Zig

log = logging.getLogger(__name__)
RECORD = "xbuild-build.json"  # as xbuild.build names it (imported from there it would be a cycle)
SUFFIX = "-onefile"
_COMPILE = """\
import sys, _imp, importlib._bootstrap_external as b
name, optimize = sys.argv[1], int(sys.argv[2])
src = sys.stdin.buffer.read()
code = compile(src, name, "exec", dont_inherit=True, optimize=optimize)
sys.stdout.buffer.write(b._code_to_hash_pyc(code, _imp.source_hash(b._RAW_MAGIC_NUMBER, src), False))
"""


@dataclass(frozen=True)
class OneFile:
    """The one-file executables of one target."""

    folder: Path
    executables: tuple[Path, ...]
    digest: str
    size: int
    cached_packages: tuple[PathDataPackage, ...]


def compile_pyc(python: Path, name: str, source: bytes, optimize: int) -> bytes:
    """An unchecked hash-based .pyc of `source`, by the host Python of the runtime's version."""
    proc = subprocess.run([str(python), "-I", "-c", _COMPILE, name, str(optimize)], input=source, capture_output=True)
    if proc.returncode != 0:
        raise BuildError(f"compiling {name} for the one-file payload failed: {proc.stderr.decode(errors='replace').strip()[-300:]}")
    return proc.stdout


def make(
    zig: Zig, target: Target, runtime: Runtime, entries: list[EntryPoint], folder: Path, final: Path, python: Path, optimize: int
) -> OneFile:
    """Build `final` (a folder of one-file executables) from the artifact `folder`."""
    boot = compile_pyc(python, "_xbuild_onefile_boot.py", (shipped("runtime") / "onefile_boot.py").read_bytes(), optimize)
    windows = target.os == "windows"
    members, plan, cached = payload.collect(folder, runtime.stdlib, _libpython(runtime, windows), {"_xbuild_onefile_boot.pyc": boot}, windows=windows)
    for pkg in cached:
        log.info("  one-file: %s is served from the extract-once cache: %s", pkg.name, pkg.reason())
    built = payload.write(members, plan, cached, lambda src: compile_pyc(python, "_xbuild_onefile_index.py", src, optimize))
    staging = final.with_name(f".{final.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        exes = []
        for entry in entries:
            exe = build_onefile_launcher(zig, target, runtime, entry, staging / f"{entry.name}{target.exe_suffix}")
            with exe.open("ab") as f:
                f.write(built.data)
            exe.chmod(0o755)
            exes.append(final / exe.name)
        _write_record(folder, staging, built)
        if final.exists():
            shutil.rmtree(final)
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    size = max(e.stat().st_size for e in exes)
    log.info("  one-file: %s (%.1f MB, payload %s)", final, size / 1e6, built.digest[:12])
    return OneFile(final, tuple(exes), built.digest, size, tuple(cached))


def _write_record(folder: Path, staging: Path, built: payload.Payload) -> None:
    """The folder artifact's record, plus what the payload holds: `xbuild run` and the audit read it."""
    record = json.loads((folder / RECORD).read_text())
    record["onefile"] = {
        "payload_sha256": built.digest,
        "native_files": sorted(built.natives),
        "cached_packages": {p.name: p.reason() for p in built.cached_packages},
    }
    (staging / RECORD).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def _libpython(runtime: Runtime, windows: bool) -> str | None:
    """The real libpython file below the runtime root (`lib/libpython3.11.so.1.0`,
    `python311.dll`); None for a static runtime, whose interpreter is linked into the launcher."""
    if runtime.static_link:
        return None
    if windows:
        return runtime.libpython
    assert runtime.libpython, "Linux runtimes name their libpython"
    real = runtime.path(runtime.libpython).resolve()
    return real.relative_to(runtime.root.resolve()).as_posix()
