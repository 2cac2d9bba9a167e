"""Run a PEP 517 build backend for a target, in a host venv of the runtime's minor version.

Build requirements are installed *for the host* (wheels only where the index has
them) with the cross patch off; then the backend runs with it on, so it asks the
target's sysconfig and compiles with zig. Everything goes to one log file; a failure
is one line with the last compiler or backend error and the log's path.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from xbuild.crossbuild.crossenv import CONFIG_VAR, CrossEnv
from xbuild.errors import BuildError

log = logging.getLogger(__name__)

_DEFAULT_SYSTEM = {"requires": ["setuptools>=40.8.0"], "build-backend": "setuptools.build_meta:__legacy__"}
# Runs inside the host venv, in the source tree: the backend's hooks, as pyproject_hooks calls them.
_DRIVER = """\
import importlib, json, sys
hook, backend, paths, settings, out = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4]), sys.argv[5]
sys.path[:0] = paths
module, _, attr = backend.partition(":")
obj = importlib.import_module(module)
for part in filter(None, attr.split(".")):
    obj = getattr(obj, part)
if hook == "requires":
    get = getattr(obj, "get_requires_for_build_wheel", None)
    print("XBUILD-REQUIRES " + json.dumps(list(get(settings) if get else [])))
else:
    print("XBUILD-WHEEL " + obj.build_wheel(out, settings))
"""


class BackendFailed(BuildError):
    """The backend (or a compiler under it) failed; `log` holds its whole output."""

    def __init__(self, message: str, log_path: Path) -> None:
        super().__init__(message)
        self.log_path = log_path


def build_system(source: Path) -> dict[str, Any]:
    """[build-system] of the source tree, with PEP 517's defaults for a setup.py-only project."""
    path = source / "pyproject.toml"
    if not path.is_file():
        return dict(_DEFAULT_SYSTEM)
    try:
        table = tomllib.loads(path.read_text()).get("build-system") or {}
    except tomllib.TOMLDecodeError as e:
        raise BuildError(f"{path} is not valid TOML ({e})") from None
    if "build-backend" not in table:
        return {"requires": table.get("requires", _DEFAULT_SYSTEM["requires"]), "build-backend": _DEFAULT_SYSTEM["build-backend"]}
    return dict(table)


def last_error(text: str) -> str:
    """The line that says why a build failed: a compiler `error:`, else an exception, else the last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    generic = ("error: command", "error: subprocess", "error: Command", "ERROR:")
    compiler = [line for line in lines if re.search(r"(^|: )(fatal )?error: ", line) and not line.startswith(generic)]
    exceptions = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Exit)\b", line)]
    return (compiler or exceptions or lines or ["no output"])[-1][:300]


class HostEnv:
    """A venv of a host Python for one build, and the log everything in it writes to."""

    def __init__(self, python: Path, root: Path, log_path: Path) -> None:
        self.root = root
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text("")
        self._run([str(python), "-m", "venv", "--without-pip", str(root)], env=os.environ, what="creating the host venv")
        self.python = root / "bin" / "python"
        out = subprocess.run([str(self.python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], capture_output=True, text=True, check=True)
        self.site = Path(out.stdout.strip())

    def _run(self, argv: Sequence[str], *, env: Mapping[str, str], what: str, cwd: Path | None = None) -> str:
        with self.log_path.open("a") as f:
            f.write(f"\n$ {' '.join(argv)}\n")
            f.flush()
            proc = subprocess.run(list(argv), cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            f.write(proc.stdout)
        if proc.returncode != 0:
            raise BackendFailed(f"{what} failed: {last_error(proc.stdout)}", self.log_path)
        return proc.stdout

    def install(self, requirements: Sequence[str]) -> None:
        """Install build requirements for the host: wheels only if the index has them all, else sdists too."""
        if not requirements:
            return
        base = [sys.executable, "-m", "pip", "--python", str(self.python), "install", "--disable-pip-version-check", "--quiet"]
        env = {k: v for k, v in os.environ.items() if k != CONFIG_VAR}
        try:
            self._run([*base, "--only-binary=:all:", *requirements], env=env, what="installing build requirements")
        except BackendFailed:
            self._run([*base, "--prefer-binary", *requirements], env=env, what="installing build requirements")

    def add_site_files(self, files: Mapping[str, str]) -> None:
        for name, text in files.items():
            (self.site / name).write_text(text)

    def hook(self, hook: str, system: Mapping[str, Any], source: Path, cross: CrossEnv, env: Mapping[str, str], settings: Mapping[str, Any], out: Path) -> str:
        """Run one backend hook with the cross environment on; returns what it printed for xbuild."""
        paths = [str(source / p) for p in system.get("backend-path", [])]
        full = {**env, **cross.env, "PATH": f"{cross.env['PATH_PREPEND']}:{self.root / 'bin'}:{env.get('PATH', os.defpath)}"}
        argv = [str(self.python), "-c", _DRIVER, hook, system["build-backend"], json.dumps(paths), json.dumps(dict(settings)), str(out)]
        text = self._run(argv, env=full, what="the build backend" if hook == "wheel" else "asking the backend for its requirements", cwd=source)
        marker = "XBUILD-REQUIRES " if hook == "requires" else "XBUILD-WHEEL "
        found = [line[len(marker) :] for line in text.splitlines() if line.startswith(marker)]
        if not found:
            raise BackendFailed(f"the build backend printed no result: {last_error(text)}", self.log_path)
        return found[-1]


def build_wheel(python: Path, source: Path, cross: CrossEnv, env: Mapping[str, str], work: Path, log_path: Path) -> Path:
    """Build a wheel of the tree `source` for the cross environment's target; returns it."""
    system = build_system(source)
    host = HostEnv(python, work / "venv", log_path)
    host.install(list(system.get("requires", [])))
    host.add_site_files(cross.site_files)
    settings: dict[str, Any] = {}
    if system["build-backend"].startswith("mesonpy"):
        settings["setup-args"] = [f"--cross-file={cross.meson_cross_file}"]
    extra = json.loads(host.hook("requires", system, source, cross, env, settings, work))
    host.install([r for r in extra if r])
    out = work / "wheel"
    out.mkdir()
    name = host.hook("wheel", system, source, cross, env, settings, out)
    wheel = out / name.strip()
    if not wheel.is_file():
        raise BackendFailed(f"the build backend named {name!r}, which it did not write", log_path)
    log.debug("built %s", wheel)
    return wheel
