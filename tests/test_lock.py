"""`xbuild lock` and builds from the lock, end to end, against a package index on this machine.

The example's dependency (PyYAML, one wheel per target) and its build backend
(setuptools) are served from a local simple index (tests/httpserver.py), so the lock's
URLs point there and the server's log shows exactly what a build downloads. Builds reuse
the runtimes already in xbuild's cache (the example's default ones, which test_build.py
also uses), but start with no wheel in it.

Slow: the first run downloads the fixture wheels once into `<cache>/test-wheels/lock/`;
each build of the three targets then takes about half a minute.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.pylock import Pylock

from xbuild import cache, config, targets
from xbuild.lock import document
from xbuild.lock.create import resolution_python

from . import httpserver
from .conftest import DEFAULT_MINOR, REPO, assert_one_line_error, python_here, run_xbuild

pytestmark = pytest.mark.slow

EXAMPLE = REPO / "examples" / "yamldigest"
TRIPLES = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu", "x86_64-pc-windows-msvc"]
# What the local index offers: (pip --platform, requirement); the example pins PyYAML==6.0.3.
INDEX = [
    ("manylinux_2_17_x86_64", "PyYAML==6.0.3"),
    ("manylinux_2_17_aarch64", "PyYAML==6.0.3"),
    ("win_amd64", "PyYAML==6.0.3"),
    ("any", "setuptools==84.2.1"),
]
EPOCH = {"SOURCE_DATE_EPOCH": "1700000000"}
PYTHON = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["tool"]["xbuild"]["python"]  # the example's runtime


def _fixture_wheels() -> list[Path]:
    found = []
    for platform, requirement in INDEX:
        folder = cache.root() / "test-wheels" / "lock" / f"{platform}-cp{PYTHON.replace('.', '')}" / requirement.replace("==", "-")
        if not sorted(folder.glob("*.whl")):
            argv = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(folder), requirement]
            if platform != "any":
                argv += ["--platform", platform, "--python-version", PYTHON]
            subprocess.run(argv, check=True, capture_output=True)
        (wheel,) = sorted(folder.glob("*.whl"))
        found.append(wheel)
    return found


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpserver.FaultyServer, dict[str, str]]]:
    """A simple index on 127.0.0.1 with the fixture wheels, and the environment that points pip at it only."""
    server = httpserver.FaultyServer()
    pages: dict[str, list[str]] = {}
    for wheel in _fixture_wheels():
        body = wheel.read_bytes()
        server.routes[f"/files/{wheel.name}"] = httpserver.Route(body)
        project = wheel.name.split("-")[0].lower().replace("_", "-")
        pages.setdefault(project, []).append(f'<a href="/files/{wheel.name}#sha256={hashlib.sha256(body).hexdigest()}">{wheel.name}</a>')
    for project, links in pages.items():
        html = f"<!DOCTYPE html><html><body>{''.join(links)}</body></html>".encode()
        server.routes[f"/simple/{project}/"] = httpserver.Route(html, content_type="text/html")
    httpd, _ = httpserver.start(server)
    empty = tmp_path_factory.mktemp("no-find-links")
    env = {"PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": f"{server.url}/simple/", "PIP_FIND_LINKS": str(empty), **EPOCH}
    yield server, env
    httpd.shutdown()


def _forget_locked_files(project: Path) -> None:
    """Take the lock's wheels out of xbuild's cache, and the build backend installed from them: a build must fetch them.

    The rest of the cache (runtimes, zig's compiled libcs) stays warm, as test_build.py left it.
    """
    for wheel in _locked_files(project).values():
        sha = wheel["hashes"]["sha256"] if "hashes" in wheel else wheel["sha256"]  # type: ignore[index]  # TOML tables
        cache.blob_path(str(sha)).unlink(missing_ok=True)
    shutil.rmtree(cache.root() / "build-backends", ignore_errors=True)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, index: tuple[httpserver.FaultyServer, dict[str, str]]) -> Path:
    """A copy of the example, locked against the local index."""
    _, env = index
    folder = tmp_path_factory.mktemp("locked") / "yamldigest"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("dist", "pylock.toml"))
    proc = run_xbuild("lock", str(folder), env=env)
    assert proc.returncode == 0, proc.stderr
    assert "pyyaml" in proc.stdout and "setuptools 84.2.1" in proc.stdout
    return folder


@pytest.fixture(scope="module")
def cold_build(tmp_path_factory: pytest.TempPathFactory, index: tuple[httpserver.FaultyServer, dict[str, str]], project: Path) -> tuple[list[str], Path]:
    """The three targets built from the lock with none of its wheels cached: (paths the server was asked for, dist)."""
    server, env = index
    _forget_locked_files(project)
    dist = tmp_path_factory.mktemp("dist")
    server.requests.clear()
    proc = run_xbuild("build", str(project), "--locked", "--output-dir", str(dist), env=env)
    assert proc.returncode == 0, proc.stderr
    assert "nothing to resolve" in proc.stderr and "resolving dependencies" not in proc.stderr
    return [r.path for r in server.requests], dist


def _locked_files(project: Path) -> dict[str, dict[str, object]]:
    raw = tomllib.loads((project / "pylock.toml").read_text())
    files = {w["url"].rsplit("/", 1)[-1]: w for p in raw["packages"] for w in p["wheels"]}
    files |= {w["file"]: w for w in raw["tool"]["xbuild"]["build-wheels"]}
    return files


def test_the_lock_covers_three_targets_and_round_trips_through_packaging(project: Path) -> None:
    raw = tomllib.loads((project / "pylock.toml").read_text())
    lock = Pylock.from_dict(raw)
    assert Pylock.from_dict(lock.to_dict()) == lock
    assert len(lock.environments or []) == 3 and sorted(raw["tool"]["xbuild"]["targets"]) == sorted(TRIPLES)
    assert [(p.name, str(p.version), p.marker) for p in lock.packages] == [("pyyaml", "6.0.3", None)]
    for triple in TRIPLES:
        target = targets.get(triple)
        (wheel,) = document.select(lock, target, resolution_python(target, config.load(project)[1]), None, "test")
        assert wheel.url.startswith("http://127.0.0.1:") and wheel.size > 100_000 and len(wheel.sha256) == 64
        assert target.wheel_arch in wheel.file


def test_a_second_lock_is_byte_identical(project: Path, index: tuple[httpserver.FaultyServer, dict[str, str]], tmp_path: Path) -> None:
    _, env = index
    before = (project / "pylock.toml").read_bytes()
    proc = run_xbuild("lock", str(project), env=env)
    assert proc.returncode == 0, proc.stderr
    assert (project / "pylock.toml").read_bytes() == before
    assert f"unchanged: {project / 'pylock.toml'} (sha256 {hashlib.sha256(before).hexdigest()})" in proc.stdout


def test_a_build_on_an_empty_cache_fetches_exactly_the_locked_wheels(cold_build: tuple[list[str], Path], project: Path) -> None:
    requested, dist = cold_build
    locked = _locked_files(project)
    assert sorted(requested) == sorted(f"/files/{name}" for name in locked)  # each once, no index page
    lock_sha = hashlib.sha256((project / "pylock.toml").read_bytes()).hexdigest()
    for triple in TRIPLES:
        folder = dist / f"yamldigest-1.0.0-{triple}"
        record = json.loads((folder / "xbuild-build.json").read_text())
        assert record["lock"] == {"file": "pylock.toml", "sha256": lock_sha}
        (dep,) = [w for w in record["wheels"] if w["name"] == "pyyaml"]
        assert locked[dep["file"]]["hashes"]["sha256"] == dep["sha256"]  # type: ignore[index]  # TOML table
        sbom = (folder / "xbuild-sbom.cdx.json").read_text()
        assert f"pylock.toml sha256:{lock_sha}" in sbom


def test_the_built_app_runs(cold_build: tuple[list[str], Path]) -> None:
    _, dist = cold_build
    exe = dist / "yamldigest-1.0.0-x86_64-unknown-linux-gnu" / "yamldigest"
    proc = subprocess.run([str(exe), "--text", "a: [1, 2]"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()


def _copy(project: Path, dest: Path) -> Path:
    shutil.copytree(project, dest, ignore=shutil.ignore_patterns("dist"))
    return dest


def test_a_tampered_hash_is_refused_in_one_line(project: Path, index: tuple[httpserver.FaultyServer, dict[str, str]], cold_build: tuple[list[str], Path], tmp_path: Path) -> None:
    _, env = index
    copy = _copy(project, tmp_path / "tampered")
    text = (copy / "pylock.toml").read_text()
    x86 = next(w for w in _locked_files(project).values() if "x86_64.whl" in str(w["url"]))
    real = x86["hashes"]["sha256"]  # type: ignore[index]  # TOML table
    (copy / "pylock.toml").write_text(text.replace(real, "0" * 64))
    proc = run_xbuild("-q", "build", str(copy), "-t", TRIPLES[0], "--source", "source", "--output-dir", str(tmp_path / "dist"), env=env)
    assert_one_line_error(proc, "sha256 mismatch", "pyyaml 6.0.3", "refusing to use it", code=3)
    assert not any((tmp_path / "dist").glob("yamldigest-*"))


def test_an_added_dependency_makes_the_lock_stale_and_locked_fails(project: Path, cold_build: tuple[list[str], Path], tmp_path: Path) -> None:
    copy = _copy(project, tmp_path / "grown")
    pyproject = copy / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('dependencies = ["PyYAML==6.0.3"]', 'dependencies = ["PyYAML==6.0.3", "idna==3.10"]'))
    proc = run_xbuild("-q", "build", str(copy), "--locked", "--output-dir", str(tmp_path / "dist"), env=EPOCH)
    assert_one_line_error(proc, "--locked: pylock.toml is stale: the project's dependencies changed (added idna==3.10)", "xbuild lock", code=2)
    (copy / "pylock.toml").unlink()
    proc = run_xbuild("-q", "build", str(copy), "--locked", "--output-dir", str(tmp_path / "dist"), env={})
    assert_one_line_error(proc, "--locked: there is no pylock.toml", "run `xbuild lock` first", code=2)


def _in_empty_netns(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`xbuild ARGS` in a new network namespace: no interface but a loopback that is down."""
    code = "import sys; from xbuild.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(["unshare", "-n", sys.executable, "-c", code, *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=900)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare(1) for a network namespace")
def test_offline_build_in_a_network_namespace_needs_only_the_warm_cache(project: Path, cold_build: tuple[list[str], Path], tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    proc = _in_empty_netns("build", str(project), "--offline", "--locked", "--output-dir", str(dist), env=EPOCH)
    assert proc.returncode == 0, proc.stderr
    for triple in TRIPLES:
        assert (dist / f"yamldigest-1.0.0-{triple}" / "xbuild-build.json").is_file()
    # From a cold cache the same build stops at the first file it lacks, in one line.
    cold = tmp_path / "cold-cache"
    proc = _in_empty_netns("-q", "build", str(project), "--offline", "--output-dir", str(tmp_path / "dist2"), env={"XBUILD_CACHE_DIR": str(cold)})
    assert_one_line_error(proc, "offline:", "is not in the cache", "run once without --offline", code=4)


def test_uv_installs_this_hosts_wheels_from_the_lock(project: Path, tmp_path: Path) -> None:
    python = python_here()  # the lock is for the project's Python (the default minor), not the test runner's
    uv = Path(sys.executable).with_name("uv")
    target = tmp_path / "site"
    env = {**os.environ, "UV_CACHE_DIR": str(tmp_path / "uv-cache"), "UV_NO_CONFIG": "1"}
    proc = subprocess.run(
        [str(uv), "pip", "install", "--python", str(python), "--target", str(target), "-r", str(project / "pylock.toml")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    check = "import sys, yaml; sys.exit(0 if yaml.__with_libyaml__ and yaml.__version__ == '6.0.3' else 1)"
    assert subprocess.run([str(python), "-c", check], env={**os.environ, "PYTHONPATH": str(target)}).returncode == 0
    assert [p.name for p in target.glob("*.dist-info")] == ["pyyaml-6.0.3.dist-info"]


def test_pip_reads_the_lock_too(project: Path, index: tuple[httpserver.FaultyServer, dict[str, str]], tmp_path: Path) -> None:
    """pip (this venv's, run by a Python of the lock's minor: pip refuses --python-version with a pylock) selects the cp313 wheel."""
    import pip

    _, env = index
    report = tmp_path / "report.json"
    only_pip = tmp_path / "only-pip"
    only_pip.mkdir()
    (only_pip / "pip").symlink_to(Path(pip.__file__).parent)
    proc = subprocess.run(
        [str(python_here()), "-m", "pip", "install", "--dry-run", "--ignore-installed", "--target", str(tmp_path / "t"), "--report", str(report), "-r", str(project / "pylock.toml")],
        capture_output=True, text=True, env={**os.environ, **env, "PYTHONPATH": str(only_pip)}, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (item,) = json.loads(report.read_text())["install"]
    url = item["download_info"]["url"]
    assert item["metadata"]["name"].lower() == "pyyaml" and "manylinux" in url and "x86_64" in url and f"cp{DEFAULT_MINOR.replace('.', '')}" in url
