"""Shared fixtures: isolation for fast tests, the checked zig, a CLI runner, and helpers for one-line errors.

Two kinds of tests: those marked `slow` download, compile with zig and run qemu/wine for
real; every other test is fast and isolated by `_fast_test_isolation`: its own cache
folder, and no download from anywhere but this machine, no zig compile, no qemu or wine,
in this process or in the CLI processes `run_xbuild` starts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from xbuild import settings
from xbuild.toolchain import Zig, find_zig

from . import prebuild

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[1]
DEFAULT_MINOR = str(tomllib.loads((REPO / "xbuild" / "data" / "defaults.toml").read_text())["option"]["python"]["default"])

_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_NEVER_RESOLVES = ".invalid"  # RFC 2606: such a name fails to resolve, so nothing leaves the machine
_GUARD_VAR = "XBUILD_TEST_FAST"
# The same guard, for the CLI processes a fast test starts (see run_xbuild).
_GUARD_PRELUDE = f"""
import os, subprocess, urllib.parse, requests
if os.environ.get({_GUARD_VAR!r}):
    _send, _popen = requests.Session.send, subprocess.Popen.__init__
    def _send_guard(self, request, **kw):
        host = urllib.parse.urlsplit(request.url).hostname or ""
        if host not in {_LOOPBACK!r} and not host.endswith({_NEVER_RESOLVES!r}):
            raise SystemExit(f"fast test tried to download {{request.url}}: mark it slow")
        return _send(self, request, **kw)
    def _popen_guard(self, args, *a, **kw):
        argv = [args] if isinstance(args, (str, bytes, os.PathLike)) else list(args)
        name = os.path.basename(str(argv[0])) if argv else ""
        if (name.startswith("zig") and argv[1:] != ["version"]) or name.startswith(("qemu-", "wine")):
            raise SystemExit(f"fast test tried to run {{argv[:3]}}: mark it slow")
        _popen(self, args, *a, **kw)
    requests.Session.send, subprocess.Popen.__init__ = _send_guard, _popen_guard
"""


def _refused(argv: Sequence[Any]) -> bool:
    """zig (other than `zig version`), qemu-user and wine64 are for slow tests."""
    name = os.path.basename(str(argv[0])) if argv else ""
    return (name.startswith("zig") and [str(a) for a in argv[1:]] != ["version"]) or name.startswith(("qemu-", "wine"))


@pytest.fixture(autouse=True)
def _fast_test_isolation(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Unless marked slow: a private XBUILD_CACHE_DIR, and real downloads and compiler runs fail."""
    if request.node.get_closest_marker("slow"):
        yield
        return
    monkeypatch.setenv("XBUILD_CACHE_DIR", str(tmp_path_factory.mktemp("xbuild-cache")))
    monkeypatch.setenv(_GUARD_VAR, "1")
    settings.configure(None)  # follow the environment just set, whatever an earlier in-process main() configured
    send = requests.Session.send

    def guarded_send(self: requests.Session, prepared: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        host = urlsplit(prepared.url).hostname or ""
        if host not in _LOOPBACK and not host.endswith(_NEVER_RESOLVES):
            raise AssertionError(f"a fast test tried to download {prepared.url}: mark it slow")
        return send(self, prepared, **kwargs)

    def no_urlopen(url: Any, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a fast test tried to open {url}: mark it slow")

    popen_init = subprocess.Popen.__init__

    def guarded_popen(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        argv = [args] if isinstance(args, (str, bytes, os.PathLike)) else list(args)
        if _refused(argv):
            raise AssertionError(f"a fast test tried to run {argv[:3]}: mark it slow")
        popen_init(self, args, *rest, **kwargs)

    monkeypatch.setattr(requests.Session, "send", guarded_send)
    monkeypatch.setattr(urllib.request, "urlopen", no_urlopen)
    monkeypatch.setattr(subprocess.Popen, "__init__", guarded_popen)
    yield
    settings.configure(None)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    prebuild.order(items)
    cache = getattr(config, "cache", None)  # absent under -p no:cacheprovider
    prebuild.start(items, Path(str(cache.mkdir("xbuild-prebuild"))) / "build.log" if cache else REPO / ".prebuild.log")


def pytest_runtest_setup(item: pytest.Item) -> None:
    prebuild.wait(item)


def pytest_sessionfinish(session: pytest.Session) -> None:
    prebuild.stop()


def python_here(minor: str = DEFAULT_MINOR) -> Path:
    """An interpreter of `minor` that runs on this machine: `python3.X` on PATH, else the
    one xbuild compiles bytecode with (this host's CPython built from the source lock)."""
    from xbuild import bytecode
    from xbuild.cpython import runtime as built

    found = shutil.which(f"python{minor}")
    if found and bytecode.host_version(Path(found)) == minor:
        return Path(found)
    made = built.bytecode_python(minor)
    assert made is not None, f"no Python {minor} here and the source lock pins another"
    return made


@pytest.fixture(scope="session")
def zig() -> Zig:
    return find_zig()


def run_xbuild(*args: str, env: Mapping[str, str] | None = None, python_prelude: str = "") -> subprocess.CompletedProcess[str]:
    """Run the CLI in a fresh interpreter, as a user would (`python -m xbuild ...`); fast tests' guard included."""
    code = f"{_GUARD_PRELUDE}\n{python_prelude}\nimport sys\nfrom xbuild.cli import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str, code: int | None = None) -> str:
    """The failure a user sees: non-zero exit (`code` when given), one `xbuild: error:` line, no traceback."""
    assert proc.returncode != 0, proc
    if code is not None:
        assert proc.returncode == code, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("xbuild: error: "), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]
