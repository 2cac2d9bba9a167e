"""Run the recipes: unpack each pinned tarball and run its steps with zig's wrappers.

Every step is a short shell script from the recipe, run in the package's source
folder with CC/AR/RANLIB pointing at xbuild's zig wrappers for the target and the
variables below. Each step writes one log file; the caller's `report` callback sees
every step start (package, step counter, elapsed time). A failing step raises
`StepFailed`, which names the package, the step and its log.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from xbuild import archive, debian
from xbuild.cpython import recipes
from xbuild.errors import BuildError
from xbuild.resources import load_toml
from xbuild.targets import Target
from xbuild.toolchain import Zig, write_wrappers

log = logging.getLogger(__name__)

BUILD_TRIPLE = "x86_64-pc-linux-gnu"
# Flags every dependency is compiled with: position-independent (it ends up in
# libpython.so), symbols hidden (nothing of OpenSSL & co. is exported), no UBSan
# traps and no error on __DATE__ (zig cc's defaults).
DEPS_CFLAGS = "-O2 -fPIC -fvisibility=hidden -Wno-date-time"


class StepFailed(BuildError):
    """One step of one package failed; the message names the log to read."""


@dataclass(frozen=True)
class Event:
    """A step starting: what a progress display shows."""

    package: str
    step: str
    index: int  # 1-based, within the package
    steps: int
    elapsed: float  # seconds since the whole build started
    log: Path


Report = Callable[[Event], None]


def log_event(event: Event) -> None:
    """The default progress report: one log line per step."""
    minutes, seconds = divmod(int(event.elapsed), 60)
    log.info("[%d:%02d] building %s: step %d/%d %s (log %s)", minutes, seconds, event.package, event.index, event.steps, event.step, event.log)


@dataclass
class Build:
    """One build: the target, its work folder and the facts its scripts see."""

    target: Target
    zig: Zig
    work: Path
    lock: debian.SourceLock
    report: Report = log_event
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    build_python: Path | None = None
    started: float = field(default_factory=time.monotonic)
    deps: Path | None = None  # a finished dependency prefix to build against (else work/deps)
    log_dir: Path | None = None  # default: work/logs; kept elsewhere so a failed build's logs survive
    timings: dict[str, float] = field(default_factory=dict)
    flags: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def prefix(self) -> Path:
        """Where dependencies install (static libraries and headers)."""
        return self.deps or self.work / "deps"

    @property
    def logs(self) -> Path:
        return self.log_dir or self.work / "logs"

    @property
    def destdir(self) -> Path:
        return self.work / "dest"

    @property
    def toolchain(self) -> Path:
        return self.work / "toolchain"

    def facts(self) -> dict[str, Any]:
        return target_facts(self.target)

    @property
    def cross(self) -> bool:
        return bool(self.facts()["host"] != BUILD_TRIPLE)


def target_facts(target: Target) -> dict[str, Any]:
    """The target's row of xbuild/cpython/targets.toml; a missing one is a one-line error."""
    table = load_toml(recipes.HERE / "targets.toml")
    row = table.get(target.triple)
    if row is None:
        raise BuildError(f"CPython cannot be built from source for {target.triple} yet; buildable: {', '.join(table)}")
    return dict(row)


def libm_header(build: Build) -> Path | None:
    """The `-include` header binding libm calls to glibc's base version (glibc targets only)."""
    base = build.facts().get("libm_base")
    if not base:
        return None
    functions = recipes.load("cpython")["libm"]["functions"]
    lines = [f'__asm__(".symver {fn},{fn}@{base}");' for fn in functions]
    header = build.work / "files" / "xbuild-glibc-libm.h"
    header.parent.mkdir(parents=True, exist_ok=True)
    text = "/* Written by xbuild: glibc's libm, not zig's compiler-rt, answers these. */\n#ifndef __ASSEMBLER__\n"
    header.write_text(text + "\n".join(lines) + "\n#endif\n")
    return header


def fixed_names(build: Build) -> dict[str, str]:
    """The build's own folders -> the fixed names that stand for them in debug info and in
    the recorded flags; longest first, so a folder inside another is mapped by its own name."""
    names = {
        str(build.work): "/build",
        str(build.prefix): "/deps",
        str(build.zig.path.parent / "lib"): "/zig",
        str(build.zig.cache_dir): "/zig-cache",
    }
    if build.build_python is not None:
        names[str(build.build_python.parents[1])] = "/build-python"
    return dict(sorted(names.items(), key=lambda item: len(item[0]), reverse=True))


def recorded(value: str, build: Build) -> str:
    """A flag value as the build-info record keeps it: without this machine's folders."""
    for path, name in fixed_names(build).items():
        value = value.replace(path, name)
    return value


def _expand(value: str, known: dict[str, str]) -> str:
    """Replace $NAME / ${NAME} of xbuild's own variables; anything else stays for the shell or make."""
    return re.sub(r"\$\{?([A-Z_][A-Z0-9_]*)\}?", lambda m: known.get(m.group(1), m.group(0)), value)


def merged_env(recipe: dict[str, Any], target: Target) -> dict[str, str]:
    """A recipe's variables for `target`: `[build.env]`, then `.cross`, `.<libc>` and `.<machine>` on top."""
    table = recipe.get("build", {}).get("env", {})
    merged = {k: v for k, v in table.items() if isinstance(v, str)}
    cross = target_facts(target)["host"] != BUILD_TRIPLE
    for part in (["cross"] if cross else []) + [target.libc, target.machine]:
        merged.update(table.get(part, {}))
    return merged


def recipe_env(build: Build, recipe: dict[str, Any]) -> dict[str, str]:
    return merged_env(recipe, build.target)


def effective_recipe(name: str, target: Target, *, host: bool = False) -> str:
    """What of recipe `name` applies to `target`, as stable text: the steps, the merged
    variables, and the content of every file they use. Build keys hash this, so a change
    for one target (a musl-only flag) does not invalidate the others' builds."""
    recipe = recipes.load(name)
    section = recipe["host"] if host else recipe["build"]
    env = merged_env(recipe, target)
    # The recipe's files, and any patch only one target's PATCHES names (ppc64le's termio):
    # that one changes that target's key alone.
    names = [*recipe["build"].get("files", []), *env.get("PATCHES", "").split()]
    files = {f: hashlib.sha256(recipes.patch(f).read_bytes()).hexdigest() for f in names}
    data: dict[str, Any] = {"name": name, "steps": section["steps"]}
    if not host:  # the host build uses no files and no per-target variables
        data["files"] = files
        data |= {"env": env, "licenses": section["licenses"], "facts": target_facts(target)}
        if name == "cpython" and target.libc == "glibc":
            data["libm"] = recipe["libm"]
        if name == "cpython" and target.libc == "musl":
            data["static"] = recipe["static"]
    return json.dumps(data, sort_keys=True)


def environment(build: Build, name: str, recipe: dict[str, Any], pkg: debian.SourcePackage, *, host: bool = False) -> dict[str, str]:
    """The environment of every step of one package."""
    tools = write_wrappers(build.zig, build.target, build.toolchain)
    env = build.zig.environ()
    facts = build.facts()
    known = {
        "PREFIX": str(build.prefix),
        "STAGING": str(build.destdir),  # not DESTDIR: every Makefile would install below it
        "HOST": facts["host"],
        "BUILD": BUILD_TRIPLE,
        "JOBS": str(build.jobs),
        "FILES": str(recipes.PATCHES),
        "VERSION": pkg.upstream_version,
        "BUILD_PYTHON": str(build.build_python or ""),
        "OPENSSL_TARGET": facts.get("openssl", ""),
    }
    env.update(known)
    env.update(
        CC=str(tools["cc"]), CXX=str(tools["c++"]), AR=str(tools["ar"]), RANLIB=str(tools["ranlib"]),
        CFLAGS=DEPS_CFLAGS, CPPFLAGS=f"-I{build.prefix}/include", LDFLAGS=f"-L{build.prefix}/lib",
        CC_FOR_BUILD="cc", BUILD_CC="cc", PKG_CONFIG="false", LIBM_INCLUDE="",
        SOURCE_DATE_EPOCH="0", LC_ALL="C", TZ="UTC",
    )  # fmt: skip
    # Debug info records the compile folder and the headers' folders: mapped to fixed names, so
    # two builds in different folders, or with zig installed elsewhere, give the same bytes
    # (objects in lib/libpython3.X.a and the dependencies' archives).
    prefix_map = " ".join(f"-ffile-prefix-map={path}={name}" for path, name in fixed_names(build).items())
    env["CFLAGS"] = f"{DEPS_CFLAGS} {prefix_map}"
    if name == "cpython":
        env["CFLAGS"] = f"-Wno-date-time {prefix_map}"  # CPython adds its own optimisation and visibility flags
        if (header := libm_header(build)) and not host:
            env["LIBM_INCLUDE"] = f"-include {header}"
    # A recipe may extend the flags set above for one target: CFLAGS = "$CFLAGS -I../src".
    flags = {k: env[k] for k in ("CFLAGS", "CPPFLAGS", "LDFLAGS")}
    env.update({k: _expand(v, known | flags) for k, v in recipe_env(build, recipe).items()})
    return env


def unpack(build: Build, name: str, tarball: Path) -> Path:
    """The orig tarball unpacked into `src/<name>` (its single top folder stripped)."""
    dest = build.work / "src" / name
    shutil.rmtree(dest, ignore_errors=True)
    tmp = build.work / "src" / f".{name}.unpack"
    shutil.rmtree(tmp, ignore_errors=True)
    archive.extract(tarball, tmp, what=tarball.name)
    tops = list(tmp.iterdir())
    if len(tops) != 1 or not tops[0].is_dir():
        raise BuildError(f"{tarball.name}: expected one top folder, found {len(tops)} entries")
    tops[0].rename(dest)
    tmp.rmdir()
    return dest


def _run_step(script: str, cwd: Path, env: dict[str, str], out: IO[str]) -> int:
    """Run one step's script in its own process group, so an interrupted build leaves no make behind."""
    proc = subprocess.Popen(["sh", "-ec", script], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        return proc.wait()
    except BaseException:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
        raise


def run_package(build: Build, name: str, tarball: Path, *, host: bool = False) -> None:
    """Unpack one package and run its steps (the `[host]` steps for the host build of CPython)."""
    recipe = recipes.load(name)
    pkg = build.lock.packages[name]
    steps = recipe["host"]["steps"] if host else recipe["build"]["steps"]
    label = f"{name} (host)" if host else name
    total = len(steps) + 1
    build.logs.mkdir(parents=True, exist_ok=True)
    begin = time.monotonic()
    build.report(Event(label, "unpack", 1, total, time.monotonic() - build.started, build.logs / f"{name}{'-host' if host else ''}-0-unpack.log"))
    src = unpack(build, name, tarball)
    (build.logs / f"{name}{'-host' if host else ''}-0-unpack.log").write_text(f"{tarball.name} (sha256 {pkg.orig.sha256}) unpacked into {src}\n")
    env = environment(build, name, recipe, pkg, host=host)
    build.flags[label] = {k: recorded(env[k], build) for k in ("CFLAGS", "CPPFLAGS", "LDFLAGS", *recipe_env(build, recipe))}
    for i, step in enumerate(steps, start=2):
        logfile = build.logs / f"{name}{'-host' if host else ''}-{i - 1}-{step['name']}.log"
        build.report(Event(label, step["name"], i, total, time.monotonic() - build.started, logfile))
        with logfile.open("w") as out:
            out.write(f"# {label}: {step['name']}\n# cwd {src}\n{step['sh']}\n\n")
            out.flush()
            returncode = _run_step(step["sh"], src, env, out)
        if returncode != 0:
            raise StepFailed(f"building {label} failed at step {i}/{total} ({step['name']}, exit code {returncode}); see {logfile}")
    build.timings[label] = round(time.monotonic() - begin, 1)
    log.debug("%s built in %.0f s", label, build.timings[label])
