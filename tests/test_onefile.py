"""`xbuild build --onefile`: single executables that load Python and native code from themselves.

Slow: two builds of the example (x86_64 and aarch64 glibc, Debian's CPython 3.11, the
runtimes the other build tests cache), one of a probe app with package data, and one
more x86_64 build to compare bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from .conftest import DATA, REPO, run_xbuild

pytestmark = pytest.mark.slow

EXAMPLE = REPO / "examples" / "yamldigest"
X86 = "x86_64-unknown-linux-gnu"
ARM = "aarch64-unknown-linux-gnu"
EPOCH = {"SOURCE_DATE_EPOCH": "1700000000"}
SOURCES = ["--source", "debian", "--python", "3.11"]
ARGS = ["--info", "--echo", "héllo", "wörld ✓", "--text", "name: xbuild\nitems: [1, 2, 3]\n", "--exit", "3"]


def _build(project: Path, out: Path, *triples: str) -> subprocess.CompletedProcess[str]:
    proc = run_xbuild(
        "build", str(project), "--onefile", "--output-dir", str(out), *SOURCES, *[a for t in triples for a in ("-t", t)], env=EPOCH
    )
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _build(EXAMPLE, out, X86, ARM)
    return out


def _exe(dist: Path, triple: str, name: str = "yamldigest", project: str = "yamldigest-1.0.0") -> Path:
    return dist / f"{project}-{triple}-onefile" / name


def _empty_env(tmp: Path) -> dict[str, str]:
    dirs = {key: tmp / key.lower() for key in ("HOME", "XDG_CACHE_HOME", "TMPDIR")}
    for d in dirs.values():
        d.mkdir()
    return {**os.environ, **{k: str(v) for k, v in dirs.items()}}


def test_same_output_as_folder_exit_code_and_unicode_argv(dist: Path) -> None:
    folder = subprocess.run([str(dist / f"yamldigest-1.0.0-{X86}" / "yamldigest"), *ARGS], capture_output=True, text=True)
    single = subprocess.run([str(_exe(dist, X86)), *ARGS], capture_output=True, text=True)
    assert folder.returncode == single.returncode == 3, single.stderr
    assert single.stdout.splitlines() == folder.stdout.splitlines()
    assert single.stdout.splitlines()[1] == "echo: héllo wörld ✓"
    assert _exe(dist, X86).parent.name != f"yamldigest-1.0.0-{X86}"
    assert sorted(p.name for p in _exe(dist, X86).parent.iterdir()) == [
        "xbuild-audit.json",
        "xbuild-audit.md",
        "xbuild-build.json",
        "xbuild-sbom.cdx.json",
        "yamldigest",
    ]
    assert (dist / f"yamldigest-1.0.0-{X86}-onefile.tar.gz").is_file()


def _maps_while_blocked(exe: Path, env: dict[str, str], fifo_dir: Path) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    """Start the app reading a FIFO (it has imported yaml by then), read its maps, then feed it."""
    fifo = fifo_dir / "input.yaml"
    os.mkfifo(fifo)
    proc = subprocess.Popen([str(exe), str(fifo)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    maps: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any("_yaml" in line for line in maps):
        time.sleep(0.05)
        maps = Path(f"/proc/{proc.pid}/maps").read_text().splitlines()
    with fifo.open("w") as f:
        f.write("a: [1, 2]\n")
    out, err = proc.communicate(timeout=60)
    return maps, subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_linux_run_writes_nothing_and_loads_natives_from_memory(dist: Path, tmp_path: Path) -> None:
    home = tmp_path / "ro"
    home.mkdir()
    exe = home / "yamldigest"
    shutil.copy2(_exe(dist, X86), exe)
    home.chmod(0o555)
    env = _empty_env(tmp_path)
    fifo_dir = tmp_path / "fifo"
    fifo_dir.mkdir()
    try:
        maps, done = _maps_while_blocked(exe, env, fifo_dir)
    finally:
        home.chmod(0o755)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("sha256:")
    yaml_maps = {line.split(None, 5)[-1] for line in maps if "_yaml" in line}
    assert yaml_maps == {"/memfd:_yaml.cpython-311-x86_64-linux-gnu.so (deleted)"}, yaml_maps
    assert any("/memfd:libpython3.11.so" in line for line in maps)
    for key in ("HOME", "XDG_CACHE_HOME", "TMPDIR"):
        assert list(Path(env[key]).iterdir()) == [], key
    assert sorted(p.name for p in home.iterdir()) == ["yamldigest"]


def _listing(root: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*")) if p.is_file()}


def test_memfd_refused_falls_back_to_an_extract_once_cache(dist: Path, tmp_path: Path) -> None:
    env = {**_empty_env(tmp_path), "XBUILD_ONEFILE_NO_MEMFD": "1"}
    record = json.loads((_exe(dist, X86).parent / "xbuild-build.json").read_text())
    digest = record["onefile"]["payload_sha256"]
    cache = Path(env["XDG_CACHE_HOME"]) / "xbuild-onefile"
    fifo_dir = tmp_path / "fifo"
    fifo_dir.mkdir()
    maps, first = _maps_while_blocked(_exe(dist, X86), env, fifo_dir)
    assert first.returncode == 0, first.stderr
    assert {line.split(None, 5)[-1] for line in maps if "_yaml" in line} == {
        str(cache / digest / "yaml/_yaml.cpython-311-x86_64-linux-gnu.so")
    }
    assert (cache / digest / ".xbuild-complete").read_text() == digest
    assert sorted(p.name for p in cache.iterdir()) == [digest, f"{digest}.lock"]
    assert list(Path(env["HOME"]).iterdir()) == [] and list(Path(env["TMPDIR"]).iterdir()) == []
    listed = _listing(cache / digest)
    assert "lib/libpython3.11.so.1.0" in listed and "yaml/_yaml.cpython-311-x86_64-linux-gnu.so" in listed

    # A second start extracts nothing: the same files, untouched.
    again = subprocess.run([str(_exe(dist, X86)), *ARGS], env=env, capture_output=True, text=True)
    assert again.returncode == 3, again.stderr
    assert _listing(cache / digest) == listed

    # A first run killed half-way (work folder left, no marker) is repaired.
    shutil.rmtree(cache / digest)
    (cache / f"{digest}.work" / "lib").mkdir(parents=True)
    (cache / f"{digest}.work" / "lib" / "libpython3.11.so.1.0").write_bytes(b"half")
    repaired = subprocess.run([str(_exe(dist, X86)), *ARGS], env=env, capture_output=True, text=True)
    assert repaired.returncode == 3, repaired.stderr
    assert sorted(p.name for p in cache.iterdir()) == [digest, f"{digest}.lock"]
    assert {k: v[0] for k, v in _listing(cache / digest).items()} == {k: v[0] for k, v in listed.items()}

    # A cache folder missing its marker (a file deleted by hand) is extracted again.
    (cache / digest / ".xbuild-complete").unlink()
    (cache / digest / "yaml" / "_yaml.cpython-311-x86_64-linux-gnu.so").unlink()
    fixed = subprocess.run([str(_exe(dist, X86)), *ARGS], env=env, capture_output=True, text=True)
    assert fixed.returncode == 3, fixed.stderr
    assert {k: v[0] for k, v in _listing(cache / digest).items()} == {k: v[0] for k, v in listed.items()}

    # Two first runs at once: one good copy, no work folder left.
    shutil.rmtree(cache)
    results: list[subprocess.CompletedProcess[str]] = []
    runs = [
        threading.Thread(
            target=lambda: results.append(subprocess.run([str(_exe(dist, X86)), *ARGS], env=env, capture_output=True, text=True))
        )
        for _ in range(2)
    ]
    for t in runs:
        t.start()
    for t in runs:
        t.join()
    assert [r.returncode for r in results] == [3, 3], [r.stderr for r in results]
    assert sorted(p.name for p in cache.iterdir()) == [digest, f"{digest}.lock"]
    assert {k: v[0] for k, v in _listing(cache / digest).items()} == {k: v[0] for k, v in listed.items()}


def test_audit_reads_the_binaries_inside_the_payload(dist: Path) -> None:
    report = json.loads((_exe(dist, X86).parent / "xbuild-audit.json").read_text())
    audited = {f["path"] for f in report["files"]}
    assert {"yamldigest", "runtime/lib/libpython3.11.so.1.0", "app/yaml/_yaml.cpython-311-x86_64-linux-gnu.so"} <= audited
    assert report["violations"] == []
    pinned = run_xbuild("audit", str(_exe(dist, X86).parent), "--glibc", "2.17")
    assert pinned.returncode == 1, pinned.stdout + pinned.stderr
    assert "runtime/lib/" in pinned.stdout and "GLIBC_2.3" in pinned.stdout


@pytest.mark.qemu
def test_aarch64_onefile_under_qemu(dist: Path) -> None:
    folder = run_xbuild("run", str(dist / f"yamldigest-1.0.0-{ARM}"), "--", *ARGS)
    single = run_xbuild("run", str(_exe(dist, ARM).parent), "--", *ARGS)
    assert folder.returncode == single.returncode == 3, single.stderr
    assert single.stdout.splitlines() == folder.stdout.splitlines()
    assert "linux/aarch64" in single.stdout


def test_two_builds_are_byte_identical(dist: Path, tmp_path: Path) -> None:
    _build(EXAMPLE, tmp_path, X86)
    first, second = _exe(dist, X86).read_bytes(), _exe(tmp_path, X86).read_bytes()
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("probe")
    proc = _build(DATA / "onefileapp", out, X86)
    return out, proc.stderr


def test_package_data_metadata_and_tracebacks(probe: tuple[Path, str], tmp_path: Path) -> None:
    out, log = probe
    assert (
        "one-file: ofpath is served from the extract-once cache: it ships data files (ofpath/table.txt) and ofpath/__init__.py builds paths from __file__"
        in log
    )
    exe = _exe(out, X86, "ofprobe", "ofprobe-2.0.0")
    record = json.loads((exe.parent / "xbuild-build.json").read_text())
    assert list(record["onefile"]["cached_packages"]) == ["ofpath"]
    env = _empty_env(tmp_path)
    proc = subprocess.run([str(exe), "é", "7"], env=env, capture_output=True, text=True)
    assert proc.returncode == 7, proc.stderr
    assert proc.stdout.splitlines() == [
        "resources: resource data ✓",
        "get_data: resource data ✓",
        "path data: path data ✓",
        "metadata: 6.0.3 2.0.0",
        "loader: CSafeLoader {'a': [1, 2]}",
        "argv: é 7",
    ]
    assert "/memfd:_yaml" in proc.stderr
    cached = Path(env["XDG_CACHE_HOME"]) / "xbuild-onefile" / record["onefile"]["payload_sha256"] / "pkgs" / "ofpath" / "table.txt"
    assert cached.read_text(encoding="utf-8") == "path data ✓\n"

    failed = subprocess.run([str(exe), "--raise"], env=env, capture_output=True, text=True)
    assert failed.returncode == 1
    assert f'File "{exe}/ofprobe/cli.py", line 13, in fail_here' in failed.stderr
    assert 'raise RuntimeError("raised on purpose")' in failed.stderr
    assert stat.S_IMODE(exe.stat().st_mode) == 0o755


WIN = "x86_64-pc-windows-msvc"


@pytest.fixture(scope="module")
def win_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("windist")
    proc = run_xbuild("build", str(EXAMPLE), "--onefile", "--output-dir", str(out), "-t", WIN, env=EPOCH)
    assert proc.returncode == 0, proc.stderr
    return out


def _wine_cache(digest: str) -> Path:
    """%LOCALAPPDATA%\\xbuild-onefile as xbuild's wine prefix maps it (one user folder there)."""
    prefix = Path(os.environ.get("XBUILD_CACHE_DIR") or Path.home() / ".cache" / "xbuild") / "wine" / "prefix"
    (local,) = [p for p in (prefix / "drive_c" / "users").glob("*/AppData/Local") if p.parts[-3] != "Public"]
    return local / "xbuild-onefile"


def _win_run(folder: Path) -> subprocess.CompletedProcess[str]:
    return run_xbuild("run", str(folder), "--", *ARGS)


@pytest.mark.wine
def test_windows_onefile_extracts_once_repairs_and_survives_two_first_runs(win_dist: Path) -> None:
    single = _exe(win_dist, WIN, "yamldigest.exe").parent
    assert sorted(p.name for p in single.iterdir()) == ["xbuild-audit.json", "xbuild-audit.md", "xbuild-build.json", "xbuild-sbom.cdx.json", "yamldigest.exe"]
    report = json.loads((single / "xbuild-audit.json").read_text())
    assert report["violations"] == [] and {"python313.dll", "runtime/DLLs/_ssl.pyd", "app/yaml/_yaml.cp313-win_amd64.pyd"} <= {f["path"] for f in report["files"]}
    digest = json.loads((single / "xbuild-build.json").read_text())["onefile"]["payload_sha256"]
    cache = _wine_cache(digest)
    for stale in cache.glob(f"{digest}*") if cache.is_dir() else []:
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()

    # The first run extracts; its output is the folder build's, line by line, exit code and unicode argv kept.
    folder = _win_run(win_dist / f"yamldigest-1.0.0-{WIN}")
    first = _win_run(single)
    assert folder.returncode == first.returncode == 3, first.stderr
    assert first.stdout.splitlines() == folder.stdout.splitlines()
    assert "echo: héllo wörld ✓" in first.stdout.splitlines() and "win32/AMD64, loader CSafeLoader" in first.stdout
    assert (cache / digest / ".xbuild-complete").read_text() == digest
    assert sorted(p.name for p in cache.glob(f"{digest}*")) == [digest, f"{digest}.lock"]
    listed = _listing(cache / digest)
    assert {"rt/python313.dll", "rt/vcruntime140.dll", "rt/DLLs/_ssl.pyd", "yaml/_yaml.cp313-win_amd64.pyd"} <= set(listed)
    assert not [name for name in listed if name.endswith((".py", ".pyc"))]  # Python code stays in the .exe

    # The second run extracts nothing: the same files, untouched.
    again = _win_run(single)
    assert again.returncode == 3 and again.stdout == first.stdout, again.stderr
    assert _listing(cache / digest) == listed

    # A killed first run (a work folder left, the marker never written, a DLL cut short) is repaired.
    (cache / f"{digest}.work-4242" / "rt").mkdir(parents=True)
    (cache / f"{digest}.work-4242" / "rt" / "python313.dll").write_bytes(b"half")
    (cache / digest / ".xbuild-complete").unlink()
    (cache / digest / "rt" / "python313.dll").write_bytes(b"MZ cut short")
    repaired = _win_run(single)
    assert repaired.returncode == 3 and repaired.stdout == first.stdout, repaired.stderr
    assert sorted(p.name for p in cache.glob(f"{digest}*")) == [digest, f"{digest}.lock"]
    assert {k: v[0] for k, v in _listing(cache / digest).items()} == {k: v[0] for k, v in listed.items()}

    # Two first runs at once: both succeed, one good copy, no work folder left.
    shutil.rmtree(cache / digest)
    results: list[subprocess.CompletedProcess[str]] = []
    runs = [threading.Thread(target=lambda: results.append(_win_run(single))) for _ in range(2)]
    for t in runs:
        t.start()
    for t in runs:
        t.join()
    assert [r.returncode for r in results] == [3, 3], [r.stderr for r in results]
    assert all(r.stdout == first.stdout for r in results)
    assert sorted(p.name for p in cache.glob(f"{digest}*")) == [digest, f"{digest}.lock"]
    assert {k: v[0] for k, v in _listing(cache / digest).items()} == {k: v[0] for k, v in listed.items()}
