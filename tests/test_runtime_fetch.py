"""Runtime downloads against a local server: verified, resumed, refused, shared, offline."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from xbuild import cache, download
from xbuild.errors import (
    ExitCode,
    IntegrityError,
    OfflineError,
    SourceUnavailableError,
)

from .conftest import assert_one_line_error, run_xbuild
from .httpserver import FaultyServer, Route, start
from .runtime_archives import pbs_linux_archive, pins_toml, sha256

TRIPLE = "x86_64-unknown-linux-gnu"
FILE = "cpython-3.11.16+test-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz"
PATH = "/cpython-3.11.16%2Btest-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz"
ARCHIVE = pbs_linux_archive()


@pytest.fixture
def server() -> Iterator[FaultyServer]:
    state = FaultyServer()
    httpd, _ = start(state)
    yield state
    httpd.shutdown()


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("XBUILD_CACHE_DIR", str(root))
    monkeypatch.setattr(download, "BACKOFF_SECONDS", 0.01)
    return root


def _pin(server: FaultyServer, body: bytes = ARCHIVE, path: str = PATH, size: int | None = None) -> download.PinnedFile:
    return download.PinnedFile(server.url + path, sha256(body), "test archive", size)


def _left_behind(root: Path) -> list[str]:
    """Files in the cache other than lock files: what a failure must not leave."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "locks" not in p.parts)


# --- the downloader -----------------------------------------------------------------


def test_good_download_is_verified_and_cached(server: FaultyServer, cache_dir: Path) -> None:
    server.routes[PATH] = Route(ARCHIVE)
    path = download.fetch(_pin(server, size=len(ARCHIVE)))
    assert path == cache.blob_path(sha256(ARCHIVE)) and path.read_bytes() == ARCHIVE
    assert download.fetch(_pin(server)) == path  # second time from the cache
    assert len(server.requests_for(PATH)) == 1


def test_wrong_hash_is_refused_and_nothing_is_kept(server: FaultyServer, cache_dir: Path) -> None:
    server.routes[PATH] = Route(ARCHIVE)
    pin = download.PinnedFile(server.url + PATH, "0" * 64, "test archive")
    with pytest.raises(IntegrityError, match="sha256 mismatch"):
        download.fetch(pin)
    assert _left_behind(cache_dir) == []


def test_corrupted_byte_is_refused(server: FaultyServer, cache_dir: Path) -> None:
    flipped = bytearray(ARCHIVE)
    flipped[len(flipped) // 3] ^= 0x01
    server.routes[PATH] = Route(bytes(flipped))
    with pytest.raises(IntegrityError, match=f"got {sha256(bytes(flipped))}, pinned {sha256(ARCHIVE)}"):
        download.fetch(_pin(server))
    assert _left_behind(cache_dir) == []


def test_truncated_file_is_refused_by_size(server: FaultyServer, cache_dir: Path) -> None:
    server.routes[PATH] = Route(ARCHIVE[: len(ARCHIVE) // 2])  # an honest but short response
    with pytest.raises(IntegrityError, match=f"pinned {len(ARCHIVE)}"):
        download.fetch(_pin(server, size=len(ARCHIVE)))
    assert _left_behind(cache_dir) == []


def test_body_cut_short_every_time_fails_after_retries(server: FaultyServer, cache_dir: Path) -> None:
    server.routes[PATH] = Route(ARCHIVE, always_drop=True, range_support=False)
    with pytest.raises(SourceUnavailableError, match=f"failed after {download.ATTEMPTS} attempts"):
        download.fetch(_pin(server))
    assert len(server.requests_for(PATH)) == download.ATTEMPTS
    assert _left_behind(cache_dir) == []


def test_dropped_connection_resumes_with_range(server: FaultyServer, cache_dir: Path) -> None:
    cut = len(ARCHIVE) // 2
    server.routes[PATH] = Route(ARCHIVE, drop_after=cut, drops_left=1)
    path = download.fetch(_pin(server))
    assert path.read_bytes() == ARCHIVE
    first, second = server.requests_for(PATH)
    assert first.range is None and second.range is not None
    resumed_at = int(second.range.removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= cut  # kept what arrived, asked only for the rest


def test_server_ignoring_range_restarts_cleanly(server: FaultyServer, cache_dir: Path) -> None:
    server.routes[PATH] = Route(ARCHIVE, drops_left=1, range_support=False)
    assert download.fetch(_pin(server)).read_bytes() == ARCHIVE


def test_404_is_a_source_unavailable(server: FaultyServer, cache_dir: Path) -> None:
    with pytest.raises(SourceUnavailableError, match="HTTP 404"):
        download.fetch(_pin(server))
    assert _left_behind(cache_dir) == []


def test_file_urls_are_verified_too(tmp_path: Path, cache_dir: Path) -> None:
    local = tmp_path / "mirror" / FILE
    local.parent.mkdir()
    local.write_bytes(ARCHIVE)
    good = download.PinnedFile(local.as_uri(), sha256(ARCHIVE), "test archive")
    assert download.fetch(good).read_bytes() == ARCHIVE
    with pytest.raises(IntegrityError):
        download.fetch(download.PinnedFile(local.as_uri(), "1" * 64, "test archive"))


def test_offline_uses_the_cache_or_says_what_is_missing(server: FaultyServer, cache_dir: Path) -> None:
    server.routes[PATH] = Route(ARCHIVE)
    with pytest.raises(OfflineError, match="not in the cache"):
        download.fetch(_pin(server), offline=True)
    assert server.requests == []
    download.fetch(_pin(server))
    assert download.fetch(_pin(server), offline=True).read_bytes() == ARCHIVE


# --- through the CLI: `xbuild runtime fetch` with the pbs source --------------------------


def _cli_env(server: FaultyServer, tmp_path: Path, digest: str) -> dict[str, str]:
    pins = tmp_path / "pbs.toml"
    pins.write_text(pins_toml("https://unused.invalid", [("3.11.16", TRIPLE, FILE, digest)]))
    return {"XBUILD_CACHE_DIR": str(tmp_path / "cache"), "XBUILD_PBS_PINS": str(pins), "XBUILD_PBS_MIRROR": server.url}


def _fetch(env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return run_xbuild("-q", "runtime", "fetch", "-t", TRIPLE, "--python", "3.11", "--source", "pbs", *extra, env=env)


def test_cli_fetch_extracts_and_describes_the_runtime(server: FaultyServer, tmp_path: Path) -> None:
    server.routes[PATH] = Route(ARCHIVE)
    proc = _fetch(_cli_env(server, tmp_path, sha256(ARCHIVE)))
    assert proc.returncode == 0, proc.stderr
    summary, root = proc.stdout.strip().splitlines()
    assert summary.startswith(f"CPython 3.11.16 for {TRIPLE} from pbs")
    meta = Path(root) / "xbuild-runtime.json"
    assert '"executable": "bin/python3.11"' in meta.read_text()
    assert (Path(root) / "bin" / "python3.11").stat().st_mode & 0o111
    assert not (tmp_path / "cache" / "tmp").exists() or not any((tmp_path / "cache" / "tmp").iterdir())


@pytest.mark.parametrize(
    ("route", "digest", "needle", "code"),
    [
        (Route(ARCHIVE), "0" * 64, "sha256 mismatch", ExitCode.INTEGRITY),
        (Route(ARCHIVE, always_drop=True, range_support=False), None, "failed after", ExitCode.NETWORK),
        (None, None, "HTTP 404", ExitCode.NETWORK),
    ],
    ids=["wrong-hash", "cut-short", "404"],
)
def test_cli_failures_are_one_line_and_leave_nothing(
    server: FaultyServer, tmp_path: Path, route: Route | None, digest: str | None, needle: str, code: ExitCode
) -> None:
    if route:
        server.routes[PATH] = route
    env = _cli_env(server, tmp_path, digest or sha256(ARCHIVE))
    assert_one_line_error(_fetch(env), needle, code=code)
    assert _left_behind(tmp_path / "cache") == []


def _evil_archive(member: tarfile.TarInfo) -> bytes:
    return pbs_linux_archive(extra=[member], padding=1000)


def _symlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info


def _file(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 1
    return info


@pytest.mark.parametrize(
    "member",
    [_file("python/../../escaped.txt"), _file("/tmp/xbuild-absolute.txt"), _symlink("python/lib/evil", "/etc/passwd"), _symlink("python/up", "../../..")],
    ids=["dotdot", "absolute-path", "absolute-link", "link-outside"],
)
def test_unsafe_archives_are_refused(server: FaultyServer, tmp_path: Path, member: tarfile.TarInfo) -> None:
    body = _evil_archive(member)
    server.routes[PATH] = Route(body)
    line = assert_one_line_error(_fetch(_cli_env(server, tmp_path, sha256(body))), "refusing unsafe archive member", code=ExitCode.INTEGRITY)
    assert member.name in line
    assert _left_behind(tmp_path / "cache") == []
    assert not Path("/tmp/xbuild-absolute.txt").exists() and not (tmp_path / "escaped.txt").exists()


def test_corrupt_archive_is_one_line(server: FaultyServer, tmp_path: Path) -> None:
    body = b"\x1f\x8b" + os.urandom(5000)  # gzip magic, garbage after
    server.routes[PATH] = Route(body)
    assert_one_line_error(_fetch(_cli_env(server, tmp_path, sha256(body))), "corrupt or unreadable archive", code=ExitCode.INTEGRITY)
    assert _left_behind(tmp_path / "cache") == []


def test_two_processes_share_one_download_and_one_runtime(server: FaultyServer, tmp_path: Path) -> None:
    server.routes[PATH] = Route(ARCHIVE, delay_per_chunk=0.02)  # slow enough to overlap
    env = {**os.environ, **_cli_env(server, tmp_path, sha256(ARCHIVE))}
    code = "import sys; from xbuild.cli import main; sys.exit(main(sys.argv[1:]))"
    argv = [sys.executable, "-c", code, "-q", "runtime", "fetch", "-t", TRIPLE, "--python", "3.11", "--source", "pbs"]
    procs = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    roots = {out.strip().splitlines()[-1] for out, _ in outputs}
    assert len(roots) == 1
    assert len(list((tmp_path / "cache").glob("runtimes/*/*"))) == 1
    assert len(server.requests_for(PATH)) == 1  # the second process waited and reused the first's download
    assert run_xbuild("runtime", "verify", env=env).returncode == 0


def test_cli_offline(server: FaultyServer, tmp_path: Path) -> None:
    server.routes[PATH] = Route(ARCHIVE)
    env = _cli_env(server, tmp_path, sha256(ARCHIVE))
    assert_one_line_error(_fetch(env, "--offline"), "offline", "not in the cache", "without --offline", code=ExitCode.NETWORK)
    assert_one_line_error(_fetch({**env, "XBUILD_OFFLINE": "1"}), "offline", "not in the cache", code=ExitCode.NETWORK)
    assert server.requests == []
    assert _fetch(env).returncode == 0
    server.routes.clear()
    proc = _fetch({**env, "XBUILD_PBS_MIRROR": "http://127.0.0.1:9"}, "--offline")
    assert proc.returncode == 0, proc.stderr


def test_verify_finds_a_tampered_runtime(server: FaultyServer, tmp_path: Path) -> None:
    server.routes[PATH] = Route(ARCHIVE)
    env = _cli_env(server, tmp_path, sha256(ARCHIVE))
    root = Path(_fetch(env).stdout.strip().splitlines()[-1])
    (root / "lib" / "python3.11" / "os.py").write_text("# tampered\n")
    proc = run_xbuild("runtime", "verify", env=env)
    assert proc.returncode == 1
    assert "lib/python3.11/os.py: content changed" in proc.stdout


def test_import_a_local_runtime(tmp_path: Path) -> None:
    archive = tmp_path / "my-python.tar.gz"
    archive.write_bytes(ARCHIVE)
    env = {"XBUILD_CACHE_DIR": str(tmp_path / "cache")}
    proc = run_xbuild("-q", "runtime", "import", str(archive), "-t", TRIPLE, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "CPython 3.11.16" in proc.stdout
    listing = run_xbuild("runtime", "list", "-t", TRIPLE, env=env).stdout
    assert any(line.split()[2:4] == ["local", "cached"] for line in listing.splitlines()[2:]), listing
    # An imported runtime is the first source a build tries: no network is touched.
    fetched = run_xbuild("-q", "runtime", "fetch", "-t", TRIPLE, "--python", "3.11", env={**env, "XBUILD_PBS_MIRROR": "http://127.0.0.1:9"})
    assert fetched.returncode == 0, fetched.stderr
    assert "from local" in fetched.stdout and fetched.stderr == ""
    assert_one_line_error(run_xbuild("runtime", "import", str(tmp_path / "nope.tar.gz"), "-t", TRIPLE, env=env), "does not exist")


@pytest.mark.parametrize("delta", [0, 1, -1], ids=["right", "one-more", "one-less"])
def test_pinned_size_is_checked(server: FaultyServer, tmp_path: Path, delta: int) -> None:
    """A pbs pin may carry the archive's size, as pbs's own download list does; a different size is fatal."""
    server.routes[PATH] = Route(ARCHIVE)
    env = _cli_env(server, tmp_path, sha256(ARCHIVE))
    pins = Path(env["XBUILD_PBS_PINS"])
    pins.write_text(pins.read_text().replace(f'sha256 = "{sha256(ARCHIVE)}"', f'sha256 = "{sha256(ARCHIVE)}"\nsize = {len(ARCHIVE) + delta}'))
    proc = _fetch(env)
    if delta == 0:
        assert proc.returncode == 0, proc.stderr
    else:
        assert_one_line_error(proc, "size mismatch", f"pinned {len(ARCHIVE) + delta}", code=ExitCode.INTEGRITY)
        assert _left_behind(tmp_path / "cache") == []
