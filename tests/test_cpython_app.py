"""The example app on a from-source runtime: glibc 2.17 floor in its audit, and it runs on an older glibc.

Built twice for x86_64-unknown-linux-gnu: with the source runtime (CPython 3.13 built
by zig at glibc 2.17) and with Debian bookworm's runtime (CPython 3.11, glibc 2.36).
Both are run under Debian bullseye's own loader and libc (glibc 2.31, fetched through
xbuild's verified Debian chain from tests/data/bullseye-libc6-amd64.lock.json): the
first runs, the second fails with the version error a bullseye user would see. The
aarch64 build runs under qemu-aarch64 with bullseye's arm64 libc6 as its root.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from xbuild import debian, targets
from xbuild.cpython import runtime as built

from .conftest import DATA, REPO, run_xbuild

pytestmark = pytest.mark.slow

EXAMPLE = REPO / "examples" / "yamldigest"
TRIPLE = "x86_64-unknown-linux-gnu"
ARGS = ["--info", "--text", "name: xbuild\nitems: [1, 2]\n"]


def _build(out: Path, *extra: str, triple: str = TRIPLE) -> Path:
    proc = run_xbuild("build", str(EXAMPLE), "--output-dir", str(out), "-t", triple, *extra, env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert proc.returncode == 0, proc.stderr
    return out / f"yamldigest-1.0.0-{triple}"


@pytest.fixture(scope="module")
def source_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("source"), "--python", "3.13", "--source", "source")


@pytest.fixture(scope="module")
def debian_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("debian"), "--python", "3.11", "--source", "debian")


def _bullseye_libc(arch: str, root: Path) -> Path:
    """Debian 11's libc6 (glibc 2.31) for `arch`, verified InRelease -> Packages -> .deb, unpacked."""
    lock = debian.Lock.from_json(json.loads((DATA / f"bullseye-libc6-{arch}.lock.json").read_text()))
    debs = debian.unpack_lock(lock, root)
    assert [d.version.split("-")[0] for d in debs if d.package == "libc6"] == ["2.31"]
    return root


@pytest.fixture(scope="module")
def bullseye(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _bullseye_libc("amd64", tmp_path_factory.mktemp("bullseye"))


def _under_bullseye(root: Path, app: Path) -> subprocess.CompletedProcess[str]:
    """Run the app in a mount namespace whose / is bullseye's libc6 tree plus the app.

    (Invoking bullseye's ld.so directly would not do: the launcher finds its runtime
    next to /proc/self/exe, which would then be the loader.)
    """
    return _chrooted(root, app, "yamldigest", *ARGS)


def _chrooted(root: Path, app: Path, script_name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `/app/<script_name>` in a user and mount namespace whose / is `root` plus the app and /proc."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    dest = root / "app"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(app, dest, symlinks=True)
    (root / "proc").mkdir(exist_ok=True)  # the launcher finds its runtime through /proc/self/exe
    script = 'mount -t proc proc "$1/proc" && exec chroot "$@"'
    argv = ["unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork", "sh", "-c", script, "sh", str(root), f"/app/{script_name}", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def test_source_runtime_app_audits_at_glibc_2_17(source_app: Path) -> None:
    report = json.loads((source_app / "xbuild-audit.json").read_text())
    assert report["policy"] == "manylinux_2_17"
    assert report["floors"]["glibc"] == "2.17"
    assert report["summary"]["violations"] == 0, report["violations"]
    libs = sorted(p.name for p in (source_app / "runtime" / "lib").glob("libpython*"))
    assert libs == ["libpython3.13.so", "libpython3.13.so.1.0"], libs  # not the 17 MB libpython3.so copy
    proc = subprocess.run([str(source_app / "yamldigest"), *ARGS], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("python 3.13.") and "loader CSafeLoader" in proc.stdout


def test_source_runtime_app_runs_on_bullseye_glibc_2_31(source_app: Path, bullseye: Path) -> None:
    proc = _under_bullseye(bullseye, source_app)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("python 3.13.") and "loader CSafeLoader" in proc.stdout and "sha256:" in proc.stdout
    # Inside that root the only libc is bullseye's 2.31.
    assert sorted(p.name for p in (bullseye / "lib" / "x86_64-linux-gnu").glob("libc-2.*.so")) == ["libc-2.31.so"]


def test_debian_runtime_app_fails_on_bullseye_with_the_version_error(debian_app: Path, bullseye: Path) -> None:
    proc = _under_bullseye(bullseye, debian_app)
    assert proc.returncode != 0
    assert "version `GLIBC_2.3" in proc.stderr and "not found" in proc.stderr, proc.stderr


@pytest.mark.qemu
def test_source_runtime_aarch64_app_runs_under_qemu_on_bullseye_glibc_2_31(tmp_path: Path) -> None:
    """The aarch64 build of the example, run by qemu-aarch64 with bullseye's arm64 libc6
    as its only root (`-L`): the loader, libc and libm it gets are glibc 2.31's."""
    app = _build(tmp_path / "out", "--python", "3.13", "--source", "source", triple="aarch64-unknown-linux-gnu")
    root = _bullseye_libc("arm64", tmp_path / "bullseye-arm64")
    assert sorted(p.name for p in (root / "lib" / "aarch64-linux-gnu").glob("libc-2.*.so")) == ["libc-2.31.so"]
    assert json.loads((app / "xbuild-audit.json").read_text())["floors"]["glibc"] == "2.17"
    proc = subprocess.run(["qemu-aarch64", "-L", str(root), str(app / "yamldigest"), *ARGS], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("python 3.13.") and "loader CSafeLoader" in proc.stdout and "sha256:" in proc.stdout
    # the same root, asked from inside: the runtime's interpreter reports bullseye's glibc
    runtime = built.published_runtime(targets.get("aarch64-unknown-linux-gnu"))
    assert runtime is not None
    code = "import os; print(os.confstr('CS_GNU_LIBC_VERSION'))"
    asked = subprocess.run(["qemu-aarch64", "-L", str(root), str(runtime.path(runtime.executable)), "-I", "-c", code], capture_output=True, text=True, timeout=300)
    assert asked.stdout.strip() == "glibc 2.31", asked.stderr


@pytest.fixture(scope="module")
def musl_runtime() -> None:
    """The static x86_64 musl runtime, built in this process (a cold build may take longer
    than one CLI run's test timeout), so the tests below time only their own work."""
    built.build_runtime(targets.get("x86_64-unknown-linux-musl"))


def test_static_musl_runtime_refuses_an_app_with_extension_modules(musl_runtime: None, tmp_path: Path) -> None:
    """yamldigest needs PyYAML, whose musllinux wheel carries _yaml*.so: the static musl
    interpreter could not load it, so the build stops in one line naming the wheel."""
    out = tmp_path / "out"
    proc = run_xbuild("build", str(EXAMPLE), "--output-dir", str(out), "-t", "x86_64-unknown-linux-musl", "--python", "3.13", "--source", "source")
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("xbuild: error:")]
    assert len(errors) == 1 and "static interpreter" in errors[0] and "pyyaml" in errors[0].lower(), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists() or not any(out.iterdir())


def test_static_musl_refusal_comes_before_the_runtime_is_built(tmp_path: Path) -> None:
    """In an empty cache the same app is refused before minutes of building a runtime it
    could not use: its wheels are resolved with the offer's Python first."""
    cache_dir, out = tmp_path / "cache", tmp_path / "out"
    proc = run_xbuild(
        "build", str(EXAMPLE), "--output-dir", str(out), "-t", "x86_64-unknown-linux-musl", "--python", "3.13", "--source", "source",
        env={"XBUILD_CACHE_DIR": str(cache_dir)},
    )  # fmt: skip
    errors = [line for line in proc.stderr.splitlines() if line.startswith("xbuild: error:")]
    assert proc.returncode != 0 and len(errors) == 1, proc.stderr
    assert "would be a static interpreter" in errors[0] and "pyyaml" in errors[0].lower() and "Traceback" not in proc.stderr
    assert not (cache_dir / "cpython-deps").exists() and not (cache_dir / "runtimes").exists()
    assert not out.exists() or not any(out.iterdir())


MUSL = "x86_64-unknown-linux-musl"
STATIC_APP = """\
import decimal, hashlib, json, lzma, sqlite3, ssl, sys, uuid, zlib

def main():
    db = sqlite3.connect(":memory:")
    print("static", sys.version.split()[0], ssl.OPENSSL_VERSION, "sqlite", db.execute("select sqlite_version()").fetchone()[0])
    print(decimal.Decimal(1) / 7, hashlib.sha3_256(b"x").hexdigest()[:8], len(lzma.compress(b"x" * 99)) > 0, zlib.crc32(b"x"))
    print(uuid.UUID(bytes=bytes(16)).version is None, json.dumps(sys.argv[1:], ensure_ascii=False))
"""


def _build_static_demo(where: Path, triple: str, *extra: str) -> Path:
    """A pure-Python app using the stdlib's C-backed modules, built for a static musl target."""
    project = where / "staticdemo"
    (project / "staticdemo").mkdir(parents=True)
    (project / "staticdemo" / "__init__.py").write_text(STATIC_APP)
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "staticdemo"\nversion = "1.0"\n\n[project.scripts]\nstaticdemo = "staticdemo:main"\n'
    )
    out = where / "dist"
    proc = run_xbuild("build", str(project), "--output-dir", str(out), "-t", triple, "--python", "3.13", "--source", "source", *extra)
    assert proc.returncode == 0, proc.stderr
    return out / f"staticdemo-1.0-{triple}"


@pytest.fixture(scope="module")
def static_app(musl_runtime: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_static_demo(tmp_path_factory.mktemp("static"), MUSL, "--onefile")


def _assert_static(path: Path) -> None:
    with path.open("rb") as f:
        elf = ELFFile(f)
        assert not any(s.header.p_type == "PT_INTERP" for s in elf.iter_segments())
        dynamic = elf.get_section_by_name(".dynamic")
        assert dynamic is None or not [t for t in dynamic.iter_tags() if t.entry.d_tag == "DT_NEEDED"]


def _check_static_demo(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert re.fullmatch(r"static 3\.13\.\d+ OpenSSL 3\.\d+\.\d+ .* sqlite 3\.\d+\.\d+", lines[0]), lines
    assert lines[1:] == ["0.1428571428571428571428571429 " + hashlib.sha3_256(b"x").hexdigest()[:8] + f" True {zlib.crc32(b'x')}", 'True ["é", "2"]'], lines


def test_static_musl_app_launcher_is_static_and_runs_with_no_libc(static_app: Path, tmp_path: Path) -> None:
    """The launcher links the whole interpreter (libpython3.13.a and its dependencies'
    archives, as the runtime's static_link names them): no loader, no DT_NEEDED."""
    launcher = static_app / "staticdemo"
    _assert_static(launcher)
    _check_static_demo(subprocess.run([str(launcher), "é", "2"], capture_output=True, text=True, timeout=120))
    # A root holding nothing but the artifact and an empty /proc: no loader, no libc anywhere.
    root = tmp_path / "root"
    root.mkdir()
    proc = _chrooted(root, static_app, "staticdemo", "é", "2")
    assert not [p for p in root.rglob("*") if p.name.startswith(("ld-", "libc.", "libc-")) or p.name.endswith(".so")], "the root must hold no libc"
    _check_static_demo(proc)


def test_static_musl_onefile_is_one_static_file_that_runs_with_no_libc_and_writes_nothing(static_app: Path, tmp_path: Path) -> None:
    """Issue 12: the one-file build of a pure-Python app for static musl is a single
    static ELF (the interpreter linked in, bytecode read from the appended archive)."""
    onefile = static_app.with_name(static_app.name + "-onefile")
    assert sorted(p.name for p in onefile.iterdir() if not p.name.startswith("xbuild-")) == ["staticdemo"]
    exe = onefile / "staticdemo"
    _assert_static(exe)
    empty = {name: tmp_path / name for name in ("home", "cache", "tmp")}
    for folder in empty.values():
        folder.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(empty["home"]), "XDG_CACHE_HOME": str(empty["cache"]), "TMPDIR": str(empty["tmp"])}
    _check_static_demo(subprocess.run([str(exe), "é", "2"], capture_output=True, text=True, timeout=120, env=env))
    assert [p for folder in empty.values() for p in folder.iterdir()] == []
    # In a root holding only this one file (and an empty /proc).
    single = tmp_path / "single"
    single.mkdir()
    shutil.copy2(exe, single / "staticdemo")
    root = tmp_path / "root"
    root.mkdir()
    proc = _chrooted(root, single, "staticdemo", "é", "2")
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == ["app", "app/staticdemo", "proc"]
    _check_static_demo(proc)


def test_source_runtime_onefile_runs(tmp_path: Path) -> None:
    """The glibc 2.17 runtime has no os.memfd_create (glibc gained it in 2.27): the one-file
    executable must fall back to its extract-once cache and still print what the folder prints."""
    out = tmp_path / "out"
    proc = run_xbuild("-q", "build", str(EXAMPLE), "--onefile", "--output-dir", str(out), "-t", TRIPLE, "--python", "3.13", "--source", "source")
    assert proc.returncode == 0, proc.stderr
    exe = out / f"yamldigest-1.0.0-{TRIPLE}-onefile" / "yamldigest"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    run = subprocess.run([str(exe), *ARGS], capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("python 3.13.") and "loader CSafeLoader" in run.stdout


@pytest.mark.qemu
def test_aarch64_musl_app_is_static_and_runs_under_qemu_without_a_libc_root(tmp_path: Path) -> None:
    """Not built by the test suite (CI's budget): checked when the aarch64 musl runtime is in
    this cache (`xbuild runtime build -t aarch64-unknown-linux-musl --python 3.13`)."""
    triple = "aarch64-unknown-linux-musl"
    if built.published_runtime(targets.get(triple)) is None:
        pytest.skip(f"the {triple} source runtime is not in this cache (not built by CI: too costly)")
    launcher = _build_static_demo(tmp_path, triple) / "staticdemo"
    _assert_static(launcher)
    with launcher.open("rb") as f:
        assert ELFFile(f)["e_machine"] == "EM_AARCH64"
    _check_static_demo(subprocess.run(["qemu-aarch64", str(launcher), "é", "2"], capture_output=True, text=True, timeout=300, env={"QEMU_LD_PREFIX": "/nonexistent"}))
