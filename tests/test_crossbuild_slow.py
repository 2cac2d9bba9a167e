"""Cross builds from sdists for real: built with zig, run under qemu-user and wine, compiled modules loaded by name.

CI runs a representative subset (every package of the development set on every target is bench/sdist_matrix.py):
- on every target: the `ownext` app (its own setup.py Extension) with markupsafe and PyYAML
  (libyaml linked in) from source, as its `[tool.xbuild] build-from-source` asks;
- the Cython project on aarch64 (with `-m extended`: armv7, s390x and Windows too); the whole development set on aarch64 (extended);
- a build that fails gives one line and leaves nothing in dist/.
Wheels built from source are cached by sdist hash, so a warm run only assembles.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from xbuild import targets

from .conftest import assert_one_line_error, run_xbuild

pytestmark = [pytest.mark.slow]
DATA = Path(__file__).parent / "data"
LINUX = ["aarch64-unknown-linux-gnu", "armv7-unknown-linux-gnueabihf", "s390x-unknown-linux-gnu"]
WINDOWS = "x86_64-pc-windows-msvc"


def _marks(triple: str, ci: tuple[str, ...] = ("aarch64-unknown-linux-gnu", WINDOWS)) -> list[pytest.MarkDecorator]:
    """qemu or wine; targets outside `ci` are `extended` (the full matrix, `pytest -m extended`)."""
    runner = [pytest.mark.wine] if triple == WINDOWS else [pytest.mark.qemu]
    return runner if triple in ci else [*runner, pytest.mark.extended]


def _python(triple: str) -> list[str]:
    """The default Python (3.13, built from source for Linux) where CI builds that runtime
    anyway; Debian's 3.11 elsewhere, so the extended matrix compiles no CPython for armv7 or s390x."""
    return [] if triple in ("aarch64-unknown-linux-gnu", WINDOWS) else ["--python", "3.11", "--source", "debian"]


def _build(project: Path, triple: str, out: Path, *, forced: bool = True) -> Path:
    """Build for `triple`; `forced`: every dependency from its sdist (--no-binary :all:), else as pyproject.toml says."""
    force = ["--no-binary", ":all:"] if forced else []
    proc = run_xbuild("-q", "build", str(project), "-t", triple, *force, *_python(triple), "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    (folder,) = [p for p in out.iterdir() if p.is_dir() and p.name.endswith(triple)]
    return folder


def _run(folder: Path, *args: str) -> list[str]:
    proc = run_xbuild("run", str(folder), "--", *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.replace("\r\n", "\n").strip().splitlines()


def _suffix(folder: Path, triple: str) -> str:
    """The extension suffix of the artifact's runtime, as a regex (whatever Python version it has)."""
    minor = "".join(json.loads((folder / "xbuild-build.json").read_text())["runtime"]["python"].split(".")[:2])
    if triple == WINDOWS:
        return re.escape(f".cp{minor}-win_amd64.pyd")
    return re.escape(f".cpython-{minor}-") + r"[a-z0-9_]+-linux-gnu[a-z]*\.so"


def _fnv1a(data: bytes) -> str:
    h = 2166136261
    for byte in data:
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return f"{h:08x}"


@pytest.mark.parametrize("triple", [pytest.param(t, marks=_marks(t)) for t in [*LINUX, WINDOWS]])
def test_own_extension_with_markupsafe_and_pyyaml_from_source(triple: str, tmp_path: Path) -> None:
    target = targets.get(triple)
    folder = _build(DATA / "ownext", triple, tmp_path, forced=False)  # [tool.xbuild] build-from-source
    suffix = _suffix(folder, triple)
    lines = _run(folder)
    endian = "big" if target.machine == "s390x" else "little"
    assert re.fullmatch(rf"ownext: _native{suffix} {target.bits}-bit {endian}-endian fnv1a={_fnv1a(b'xbuild')} byteorder={endian}", lines[0]), lines
    assert re.fullmatch(rf"markupsafe: _speedups{suffix} &lt;x&gt;", lines[1]), lines
    assert re.fullmatch(rf"pyyaml: _yaml{suffix} \{{'k': \[1, 2\]\}}", lines[2]), lines
    record = json.loads((folder / "xbuild-build.json").read_text())
    built = record["built_from_source"]
    by_name = {w["name"].lower(): w for w in record["wheels"]}
    for name in ("markupsafe", "pyyaml", "ownext"):
        entry = built[by_name[name]["file"]]
        assert len(entry["sdist_sha256"]) == 64 and entry["cache_key"]
    assert built[by_name["pyyaml"]["file"]]["sdist"] == "pyyaml-6.0.3.tar.gz"
    if target.os == "linux":
        assert by_name["markupsafe"]["file"].endswith(f"manylinux_2_17_{target.wheel_arch}.whl")
    sbom = json.loads((folder / "xbuild-sbom.cdx.json").read_text())
    yaml = next(c for c in sbom["components"] if c["name"].lower() == "pyyaml")
    props = {p["name"]: p["value"] for p in yaml.get("properties", [])}
    assert props["xbuild:sdist-sha256"] == built[by_name["pyyaml"]["file"]]["sdist_sha256"]


@pytest.mark.parametrize("triple", [pytest.param(t, marks=_marks(t, ci=("aarch64-unknown-linux-gnu",))) for t in [*LINUX, WINDOWS]])
def test_cython_project_builds_and_runs(triple: str, tmp_path: Path) -> None:
    target = targets.get(triple)
    folder = _build(DATA / "cyext", triple, tmp_path)
    long_bits = 32 if target.os == "windows" or target.bits == 32 else 64  # Windows is LLP64
    (line,) = _run(folder)
    assert re.fullmatch(rf"_fast{_suffix(folder, triple)} sum_squares\(1000\)=332833500 long_bits={long_bits}", line), line


@pytest.mark.qemu
@pytest.mark.extended
def test_whole_development_set_on_aarch64(tmp_path: Path) -> None:
    triple = "aarch64-unknown-linux-gnu"
    folder = _build(DATA / "speedups", triple, tmp_path)
    suffix = _suffix(folder, triple)
    lines = _run(folder)
    expected = {  # name: (module imported by name, its file's stem, what using it printed)
        "markupsafe": ("markupsafe._speedups", "_speedups", "'&lt;a &amp; b&gt;'"),
        "pyrsistent": ("pvectorc", "pvectorc", "[1, 2, 3]"),
        "simplejson": ("simplejson._speedups", "_speedups", "'\"\\\\u00e9\"'"),
        "msgpack": ("msgpack._cmsgpack", "_cmsgpack", "{'a': [1, 2]}"),
        "wrapt": ("wrapt._wrappers", "_wrappers", "3"),
        "brotli": ("_brotli", "_brotli", "10"),
        "lz4": ("lz4.block._block", "_block", "1000"),
        "pyyaml": ("yaml._yaml", "_yaml", "{'a': [1, 2], 'b': {'c': 'd'}}"),
    }
    assert len(lines) == len(expected) + 1, lines
    for line, (name, (module, stem, value)) in zip(lines, expected.items(), strict=False):
        assert re.fullmatch(rf"{name}: {re.escape(module)} {stem}{suffix} {re.escape(value)}", line), line


@pytest.mark.qemu
def test_a_failing_build_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    project = tmp_path / "broken"
    shutil.copytree(DATA / "ownext", project)
    source = project / "ownext" / "_native.c"
    source.write_text("#if defined(__aarch64__)\n#error no aarch64 support in this module\n#endif\n" + source.read_text())
    out = tmp_path / "dist"
    proc = run_xbuild("-q", "build", str(project), "-t", "aarch64-unknown-linux-gnu", "--output-dir", str(out))
    # Warnings about unreachable runtime sources (PBS on GitHub, here) may come first; the error is one line.
    proc.stderr = "".join(line for line in proc.stderr.splitlines(keepends=True) if not line.startswith("xbuild: warning: "))
    line = assert_one_line_error(proc, "building ownext 1.0 for aarch64-unknown-linux-gnu from source failed", "error: no aarch64 support in this module", "full log: ")
    log = Path(line.rsplit("full log: ", 1)[1].strip())
    assert "#error no aarch64 support" in log.read_text()
    assert not out.exists() or not any(out.iterdir())
