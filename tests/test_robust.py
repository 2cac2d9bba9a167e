"""Found by trying to break it: what a damaged cache, a killed build, a full disk, a
read-only project, a non-ASCII folder and a broken artifact record must do.

Fast tests use small fixtures; the slow ones build the example app for real and
break things around it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from xbuild import cache, download, hostmemory, leftovers, runtimes, targets
from xbuild.errors import HostUnreachableError, OfflineError
from xbuild.runtimes import store

from .conftest import REPO, assert_one_line_error, run_xbuild
from .runtime_archives import pbs_linux_archive, pins_toml, sha256

EXAMPLE = REPO / "examples" / "yamldigest"
LINUX = "x86_64-unknown-linux-gnu"
ARTIFACT = f"yamldigest-1.0.0-{LINUX}"
# Debian's runtime: the one source that needs no GitHub, so no "unreachable" warning in the output.
BUILD_ARGS = ["-t", LINUX, "--source", "debian", "--python", "3.11"]
ARGS = ["--info", "--echo", "héllo", "wörld ✓", "--text", "a: [1, 2]"]


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("XBUILD_CACHE_DIR", str(root))
    return root


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# --- cached downloads are checked when used -------------------------------------------


def _pinned_source(tmp_path: Path, body: bytes) -> download.PinnedFile:
    source = tmp_path / "origin" / "pkg-1.0-py3-none-any.whl"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(body)
    return download.PinnedFile(source.as_uri(), sha256(body), "pkg 1.0 (pkg-1.0-py3-none-any.whl)", len(body))


@pytest.mark.parametrize("damage", ["flipped byte", "other valid file of the same size"])
def test_damaged_cached_blob_is_refetched_with_one_warning(
    tmp_path: Path, cache_dir: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    body = os.urandom(4096)
    pin = _pinned_source(tmp_path, body)
    blob = download.fetch(pin)
    assert blob.read_bytes() == body
    if damage == "flipped byte":
        data = bytearray(body)
        data[100] ^= 0x01
        blob.write_bytes(bytes(data))
    else:
        blob.write_bytes(os.urandom(4096))
    with caplog.at_level(logging.WARNING, logger="xbuild"):
        again = download.fetch(pin)
    assert again == blob and again.read_bytes() == body
    (warning,) = _warnings(caplog)
    assert "pkg 1.0" in warning and "damaged" in warning and "fetching it again" in warning
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="xbuild"):
        assert download.fetch(pin).read_bytes() == body
    assert _warnings(caplog) == []  # repaired: no warning the next time


def test_damaged_cached_blob_offline_is_one_error(tmp_path: Path, cache_dir: Path) -> None:
    pin = _pinned_source(tmp_path, b"wheel bytes" * 100)
    blob = download.fetch(pin)
    blob.write_bytes(b"WHEEL BYTES" * 100)
    with pytest.raises(OfflineError, match="damaged"):
        download.fetch(pin, offline=True)
    assert not blob.exists()


# --- cached runtime trees are checked against their manifest -----------------------------

PBS_FILE = "cpython-3.11.16+test-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz"


@pytest.fixture
def pbs_mirror(tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    archive = pbs_linux_archive()
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / PBS_FILE).write_bytes(archive)
    pins = tmp_path / "pbs.toml"
    pins.write_text(pins_toml("https://unused.invalid", [("3.11.16", LINUX, PBS_FILE, sha256(archive))]))
    monkeypatch.setenv("XBUILD_PBS_PINS", str(pins))
    monkeypatch.setenv("XBUILD_PBS_MIRROR", mirror.as_uri())
    return archive


def test_changed_runtime_file_is_noticed_and_unpacked_again(pbs_mirror: bytes, caplog: pytest.LogCaptureFixture) -> None:
    target = targets.get(LINUX)
    runtime = runtimes.fetch(target, "3.11", sources=["pbs"])
    os_py = runtime.root / "lib/python3.11/os.py"
    original = os_py.read_bytes()
    assert store.quick_verify(runtime) == []

    # A change that keeps size and mtime: only ctime and the content tell.
    stat = os_py.stat()
    os_py.write_bytes(original.replace(b"# os", b"# OS"))
    os.utime(os_py, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert store.quick_verify(runtime) == ["lib/python3.11/os.py: content changed"]

    with caplog.at_level(logging.WARNING, logger="xbuild"):
        repaired = runtimes.fetch(target, "3.11", sources=["pbs"])
    (warning,) = _warnings(caplog)
    assert "lib/python3.11/os.py: content changed" in warning and "unpacking it again" in warning
    assert repaired.root == runtime.root
    assert os_py.read_bytes() == original
    assert store.verify(repaired) == []


def test_added_and_removed_runtime_files_are_noticed(pbs_mirror: bytes) -> None:
    runtime = runtimes.fetch(targets.get(LINUX), "3.11", sources=["pbs"])
    (runtime.root / "lib/python3.11/sitecustomize.py").write_text("print('injected')\n")
    (runtime.root / "share/padding.bin").unlink()
    assert store.quick_verify(runtime) == [
        "lib/python3.11/sitecustomize.py: not in the manifest",
        "share/padding.bin: missing",
    ]
    assert store.discard_if_damaged(runtime) is False
    assert not runtime.root.exists()


def test_quick_verify_hashes_only_files_whose_metadata_changed(pbs_mirror: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = runtimes.fetch(targets.get(LINUX), "3.11", sources=["pbs"])
    assert store.quick_verify(runtime) == []  # the first check hashes everything and records what it saw
    hashed: list[str] = []
    real = store._entry

    def counting(path: Path) -> str:
        hashed.append(path.name)
        return real(path)

    monkeypatch.setattr(store, "_entry", counting)
    assert store.quick_verify(runtime) == []
    assert hashed == []
    (runtime.root / "include/python3.11/Python.h").touch()
    assert store.quick_verify(runtime) == []
    assert hashed == ["Python.h"]


# --- unreachable hosts are remembered across processes --------------------------------


def test_unreachable_host_is_remembered_then_retried(tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pins = tmp_path / "pbs.toml"
    pins.write_text(pins_toml("https://unused.invalid", [("3.11.16", LINUX, PBS_FILE, "0" * 64)]))
    env = {"XBUILD_CACHE_DIR": str(cache_dir), "XBUILD_PBS_PINS": str(pins), "XBUILD_PBS_MIRROR": "https://xbuild-test-host.invalid"}
    argv = ["runtime", "fetch", "-t", LINUX, "--python", "3.11", "--source", "pbs"]

    first = run_xbuild(*argv, env=env)
    assert "downloading" in first.stderr
    assert "cannot reach xbuild-test-host.invalid (host name does not resolve)" in first.stderr
    assert "xbuild-test-host.invalid" in json.loads((cache_dir / "state" / "unreachable-hosts.json").read_text())

    second = run_xbuild(*argv, env=env)
    assert second.returncode != 0
    assert "downloading" not in second.stderr  # not tried again
    line = assert_one_line_error(run_xbuild("-q", *argv, env=env), "cannot reach xbuild-test-host.invalid", "XBUILD_UNREACHABLE_TTL=0")
    assert "did not resolve" in line and "ago" in line

    forced = run_xbuild(*argv, env={**env, "XBUILD_UNREACHABLE_TTL": "0"})
    assert "downloading" in forced.stderr and "host name does not resolve" in forced.stderr


def test_remembered_host_expires(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hostmemory.remember("example.invalid")
    assert hostmemory.seconds_since_failure("example.invalid") is not None
    monkeypatch.setenv(hostmemory.TTL_VAR, "0")
    assert hostmemory.seconds_since_failure("example.invalid") is None
    monkeypatch.setenv(hostmemory.TTL_VAR, "600")
    (cache_dir / "state" / "unreachable-hosts.json").write_text(json.dumps({"example.invalid": time.time() - 601}))
    assert hostmemory.seconds_since_failure("example.invalid") is None
    pin = download.PinnedFile("https://example.invalid/x.whl", "0" * 64, "x")
    hostmemory.remember("example.invalid")
    with pytest.raises(HostUnreachableError, match="did not resolve"):
        download.fetch(pin)


# --- leftovers of killed builds --------------------------------------------------------


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def live_build(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A process that holds a build's lock in `out/`, as a running build does."""
    out = tmp_path / "dist"
    out.mkdir()
    code = (
        "import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1] + f'/.xbuild-{os.getpid()}.lock', os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(120)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"locked\n"
    yield proc, out
    proc.kill()
    proc.wait()


def _plant(out: Path, pid: int, name: str = "app-1.0-x86_64-unknown-linux-gnu") -> list[Path]:
    made = [out / f".xbuild-{pid}-abc123", out / f".{name}.partial-{pid}", out / f".{name}.old-{pid}"]
    for folder in made:
        (folder / "runtime").mkdir(parents=True)
        (folder / "runtime" / "big").write_bytes(b"x" * 1000)
    tmp = out / f".{name}.tar.gz.{pid}.tmp"
    tmp.write_bytes(b"half an archive")
    return [*made, tmp]


def test_stale_leftovers_go_and_a_live_builds_stay(live_build: tuple[subprocess.Popen[bytes], Path]) -> None:
    proc, out = live_build
    dead = _dead_pid()
    dead_with_lock = _dead_pid()
    stale = _plant(out, dead) + _plant(out, dead_with_lock, "other-2.0-x86_64-pc-windows-msvc")
    (out / f".xbuild-{dead_with_lock}.lock").write_text("")  # its lock file stayed, nobody holds it
    live = _plant(out, proc.pid)
    kept = [out / "app-1.0-x86_64-unknown-linux-gnu", out / "app-1.0-x86_64-unknown-linux-gnu.tar.gz", out / ".hidden-user-file"]
    kept[0].mkdir()
    kept[1].write_bytes(b"a finished archive")
    kept[2].write_text("mine")

    freed = leftovers.remove_stale(out)
    assert freed > 6000
    assert not any(p.exists() for p in stale)
    assert not (out / f".xbuild-{dead_with_lock}.lock").exists()
    assert all(p.exists() for p in live), "a running build's files were removed"
    assert (out / f".xbuild-{proc.pid}.lock").exists()
    assert all(p.exists() for p in kept)


def test_claim_holds_a_lock_that_other_builds_respect(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    out.mkdir()
    with leftovers.claim(out):
        lock = out / f".xbuild-{os.getpid()}.lock"
        fd = os.open(lock, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    assert list(out.iterdir()) == []


# --- xbuild run: missing project, damaged record ------------------------------------------


def test_run_without_artifact_outside_a_project_asks_for_it(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "xbuild", "run", "-t", LINUX], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    line = assert_one_line_error(proc, "no artifact given", "give the artifact's folder", "run inside the project")
    assert "[project]" not in line
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "other"\n')  # some other tool's project
    proc = subprocess.run(
        [sys.executable, "-m", "xbuild", "run", "-t", LINUX], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert_one_line_error(proc, "no artifact given", "give the artifact's folder")


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b'{"target": "x86_64-unknown-linux-gnu", "entry', "is damaged"),
        (b"\xff\xfe\x00", "is damaged"),
        (b"[]", "no target or entry points"),
        (b'{"target": "x86_64-unknown-linux-gnu", "entry_points": {}}', "no target or entry points"),
        (b'{"target": "x86_64-unknown-linux-gnu", "entry_points": {"../../bin/sh": "a:b"}}', "no target or entry points"),
        (b'{"target": "pdp11-unknown-unix", "entry_points": {"app": "a:b"}}', "unknown target"),
    ],
)
def test_run_on_a_damaged_record_is_one_error(tmp_path: Path, content: bytes, says: str) -> None:
    folder = tmp_path / ARTIFACT
    folder.mkdir()
    (folder / "xbuild-build.json").write_bytes(content)
    assert_one_line_error(run_xbuild("run", str(folder)), "xbuild-build.json", says, "build the artifact again")


def test_run_on_a_missing_launcher_or_folder_is_one_error(tmp_path: Path) -> None:
    folder = tmp_path / ARTIFACT
    folder.mkdir()
    (folder / "xbuild-build.json").write_text(json.dumps({"target": LINUX, "entry_points": {"app": "app:main"}}))
    assert_one_line_error(run_xbuild("run", str(folder)), "app", "is missing from the artifact")
    assert_one_line_error(run_xbuild("run", str(tmp_path / "nope")), "is not a folder")
    (folder / "xbuild-build.json").unlink()
    assert_one_line_error(run_xbuild("run", str(folder)), "is not an xbuild artifact")


# --- slow: the example built for real, then broken ---------------------------------------


def _build(out: Path, *, quiet: bool = False, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_xbuild(*(["-q"] if quiet else []), "build", str(EXAMPLE), *BUILD_ARGS, "--output-dir", str(out), env=env)


@pytest.fixture(scope="module")
def linux_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = _build(out)
    assert proc.returncode == 0, proc.stderr
    return out


def _check_runs(exe: Path, env: dict[str, str]) -> None:
    proc = subprocess.run([str(exe), *ARGS], capture_output=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    lines = proc.stdout.decode("utf-8").splitlines()
    assert lines[0].startswith("python 3.11") and "loader CSafeLoader" in lines[0]
    assert lines[1] == "echo: héllo wörld ✓"
    assert lines[2].startswith("sha256:") and lines[2].endswith("keys=1")


@pytest.mark.slow
@pytest.mark.parametrize("folder", ["a folder ünï ✓", b"caf\xe9 latin-1"], ids=["utf8", "not-utf8"])
@pytest.mark.parametrize("locale", ["C", "C.UTF-8", None], ids=["C", "C.UTF-8", "unset"])
def test_linux_artifact_starts_from_a_non_ascii_folder(
    linux_dist: Path, tmp_path: Path, folder: str | bytes, locale: str | None
) -> None:
    where = Path(os.fsdecode(os.path.join(os.fsencode(tmp_path), os.fsencode(folder))))
    shutil.copytree(linux_dist / ARTIFACT, where / ARTIFACT, symlinks=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LC_") and k not in ("LANG", "LANGUAGE")}
    if locale:
        env["LC_ALL"] = locale
    _check_runs(where / ARTIFACT / "yamldigest", env)


@pytest.mark.slow
def test_launcher_says_so_when_its_runtime_is_missing_from_a_non_ascii_folder(linux_dist: Path, tmp_path: Path) -> None:
    where = tmp_path / "ünï" / ARTIFACT
    shutil.copytree(linux_dist / ARTIFACT, where, symlinks=True)
    shutil.rmtree(where / "runtime" / "lib" / "python3.11" / "encodings")
    proc = subprocess.run([str(where / "yamldigest")], capture_output=True, env={**os.environ, "LC_ALL": "C"}, timeout=60, check=False)
    assert proc.returncode == 127
    assert "the bundled Python runtime is missing or damaged" in proc.stderr.decode()
    assert "ünï" in proc.stderr.decode("utf-8")


@pytest.mark.slow
@pytest.mark.wine
def test_windows_artifact_starts_from_a_non_ascii_folder(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    proc = run_xbuild("build", str(EXAMPLE), "-t", "x86_64-pc-windows-msvc", "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    name = "yamldigest-1.0.0-x86_64-pc-windows-msvc"
    where = tmp_path / "a folder ünï ✓" / name
    shutil.copytree(out / name, where)
    # wine maps Unix paths to Windows ones through the locale, so it needs a UTF-8 one.
    run = run_xbuild("run", str(where), "--", *ARGS, env={"LC_ALL": "C.UTF-8"})
    assert run.returncode == 0, run.stderr
    lines = run.stdout.replace("\r\n", "\n").splitlines()
    assert "win32" in lines[0] and "loader CSafeLoader" in lines[0]
    assert lines[1] == "echo: héllo wörld ✓"


def _wait_for(predicate: object, proc: subprocess.Popen[str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        if proc.poll() is not None:
            pytest.fail(f"the build ended ({proc.returncode}) before the moment to kill it")
        time.sleep(0.02)
    pytest.fail("timed out waiting for the build")


def _start_build(out: Path) -> subprocess.Popen[str]:
    code = "import sys\nfrom xbuild.cli import main\nsys.exit(main(sys.argv[1:]))"
    argv = [sys.executable, "-c", code, "-q", "build", str(EXAMPLE), *BUILD_ARGS, "--output-dir", str(out)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True, start_new_session=True)


def _kill(proc: subprocess.Popen[str]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.slow
def test_builds_killed_mid_way_are_cleaned_by_the_next(tmp_path: Path, live_build: tuple[subprocess.Popen[bytes], Path]) -> None:
    holder, out = live_build
    live = _plant(out, holder.pid, "yamldigest-0.9-x86_64-unknown-linux-gnu")

    def left() -> set[str]:
        return {p.name for p in out.iterdir()} - {p.name for p in live} - {f".xbuild-{holder.pid}.lock"}

    during_assembly = _start_build(out)
    _wait_for(lambda: any(out.glob(f".{ARTIFACT}.partial-*/app")), during_assembly)
    _kill(during_assembly)
    first = left()
    assert f".{ARTIFACT}.partial-{during_assembly.pid}" in first
    assert any(n.startswith(f".xbuild-{during_assembly.pid}-") for n in first)

    # The next build cleans those up first, and is killed while writing its archive.
    during_archive = _start_build(out)
    _wait_for(lambda: any(out.glob(f".{ARTIFACT}.tar.gz.*.tmp")), during_archive)
    _kill(during_archive)
    second = left()
    assert not any(str(during_assembly.pid) in n for n in second), second
    assert f".{ARTIFACT}.tar.gz.{during_archive.pid}.tmp" in second
    assert any(n.startswith(f".xbuild-{during_archive.pid}-") for n in second)
    assert all(p.exists() for p in live), "a running build's files were removed"

    proc = _build(out)
    assert proc.returncode == 0, proc.stderr
    assert "leftover(s) of interrupted builds" in proc.stderr
    now = {p.name for p in out.iterdir()}
    assert now - {p.name for p in live} == {ARTIFACT, f"{ARTIFACT}.tar.gz", f".xbuild-{holder.pid}.lock"}
    assert all(p.exists() for p in live), "a running build's files were removed"
    _check_runs(out / ARTIFACT / "yamldigest", dict(os.environ))


def _mount_tmpfs(where: Path, size_mb: int) -> None:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(where)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")


@pytest.fixture
def mounts() -> Iterator[list[Path]]:
    mounted: list[Path] = []
    yield mounted
    for where in reversed(mounted):
        subprocess.run(["umount", str(where)], capture_output=True, check=False)


@pytest.mark.slow
def test_full_output_disk_is_one_line_and_leaves_nothing(tmp_path: Path, linux_dist: Path, mounts: list[Path]) -> None:
    tiny = tmp_path / "tiny"
    _mount_tmpfs(tiny, 1)
    mounts.append(tiny)
    assert_one_line_error(_build(tiny / "dist", quiet=True), "no space left", str(tiny / "dist"), "--output-dir")
    assert list(tiny.iterdir()) == []

    # Room for the folder but not its archive: the folder goes too, never one without the other.
    folder_mb = cache.tree_size(linux_dist / ARTIFACT) / 2**20
    archive_mb = (linux_dist / f"{ARTIFACT}.tar.gz").stat().st_size / 2**20
    for extra in (2, 5, 8):
        roomy = tmp_path / f"roomy{extra}"
        _mount_tmpfs(roomy, int(folder_mb + archive_mb / 2) + extra)
        mounts.append(roomy)
        proc = _build(roomy / "dist")
        if proc.returncode == 0:
            continue
        assert "Traceback" not in proc.stderr
        errors = [line for line in proc.stderr.splitlines() if line.startswith("xbuild: error:")]
        assert len(errors) == 1 and "no space left" in errors[0], proc.stderr
        assert list(roomy.iterdir()) == []
        if "audit:" in proc.stderr:  # it failed while writing the archive
            return
    pytest.fail("no tmpfs size made the archive step fail")


@pytest.mark.slow
def test_read_only_project_is_one_line(tmp_path: Path, mounts: list[Path]) -> None:
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("dist"))  # not the main job's output
    done = subprocess.run(["mount", "--bind", "-o", "ro", str(project), str(project)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot make a read-only bind mount here: {done.stderr.decode().strip()}")
    mounts.append(project)
    if os.access(project, os.W_OK) and subprocess.run(["touch", str(project / "probe")], capture_output=True, check=False).returncode == 0:
        pytest.skip("the bind mount is not read-only here")
    proc = run_xbuild("-q", "build", str(project), *BUILD_ARGS)
    assert_one_line_error(proc, str(project / "dist"), "--output-dir")
    assert not (project / "dist").exists()


def _private_cache(tmp_path: Path) -> Path:
    """A copy of the shared cache's Linux runtime and downloads, so breaking it harms no one."""
    shared = cache.root()
    private = tmp_path / "cache"
    (private / "runtimes").mkdir(parents=True)
    for rt in (shared / "runtimes" / LINUX).iterdir():
        if rt.is_dir() and rt.name.startswith("debian-"):  # the runtime these builds use (--source debian)
            shutil.copytree(rt, private / "runtimes" / LINUX / rt.name, symlinks=True)
    shutil.copytree(shared / "blobs", private / "blobs")
    (private / "zig").symlink_to(shared / "zig")  # compiled libcs: read, never broken here
    return private


@pytest.mark.slow
def test_build_repairs_a_tampered_runtime_and_a_swapped_wheel(tmp_path: Path, linux_dist: Path) -> None:
    record = json.loads((linux_dist / ARTIFACT / "xbuild-build.json").read_text())
    pyyaml = next(w for w in record["wheels"] if w["name"].lower() == "pyyaml")
    private = _private_cache(tmp_path)
    env = {"XBUILD_CACHE_DIR": str(private)}

    (runtime_dir,) = [p for p in (private / "runtimes" / LINUX).iterdir() if p.is_dir() and p.name.startswith("debian-")]
    os_py = runtime_dir / "lib/python3.11/os.py"
    pristine = os_py.read_bytes()
    os_py.write_bytes(pristine + b"\nraise SystemExit('tampered runtime')\n")
    blob = private / "blobs" / "sha256" / pyyaml["sha256"][:2] / pyyaml["sha256"]
    other = next(p for p in (private / "blobs" / "sha256").glob("*/*") if p != blob and p.stat().st_size > 1000)
    blob.write_bytes(other.read_bytes())  # a different, valid file where the pinned wheel was

    out = tmp_path / "dist"
    proc = _build(out, env=env)
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("xbuild: warning:")]
    assert len(warnings) == 2, proc.stderr
    assert any("runtime" in w and "os.py: content changed" in w and "unpacking it again" in w for w in warnings)
    assert any("PyYAML" in w and "damaged" in w and "fetching it again" in w for w in warnings)

    assert (out / ARTIFACT / "runtime/lib/python3.11/os.py").read_bytes() == pristine
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == pyyaml["sha256"]
    shipped = json.loads((out / ARTIFACT / "xbuild-build.json").read_text())
    assert next(w for w in shipped["wheels"] if w["name"].lower() == "pyyaml")["sha256"] == pyyaml["sha256"]
    _check_runs(out / ARTIFACT / "yamldigest", dict(os.environ))

    again = _build(out, env=env)
    assert again.returncode == 0, again.stderr
    assert "warning" not in again.stderr
