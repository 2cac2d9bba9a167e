"""Build a CPython runtime from the pinned sources and publish it in the one runtime model.

`build_runtime(target)` builds the dependencies, then CPython (with a host build of
the same CPython first when the target is foreign), rearranges the install into
python-build-standalone's `install_only` layout, strips it, rewrites sysconfig so
it names no build folder or wrapper, keeps every licence, and writes a build-info
record. It is published under a key of (source lock, recipes, zig, target); a
failure publishes nothing.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from elftools.elf.elffile import ELFFile

from xbuild import cache, targets
from xbuild.cpython import arheaders, builder, recipes, sources
from xbuild.cpython.builder import Build, Report
from xbuild.debian import SourceLock
from xbuild.errors import BuildError
from xbuild.resources import load_toml
from xbuild.runtimes import model, store
from xbuild.runtimes.floor import elf_files, libc_floor
from xbuild.runtimes.model import Runtime
from xbuild.runtimes.store import publish
from xbuild.targets import Target
from xbuild.toolchain import Zig, find_zig

log = logging.getLogger(__name__)

SOURCE_NAME = "source"  # its name among the runtime sources (xbuild/runtimes/source.py)
BUILD_INFO = "xbuild-build-info.json"
# Bumped when builder/assembly code changes what a build produces.
BUILDER_REVISION = "4"
# What configure scripts and makefiles take in a path: they split CC, CFLAGS and -I/-L
# flags on white space, and make gives meaning to `:`, `#`, `$`, `=` and quotes.
_MAKE_SAFE_PATH = re.compile(r"[A-Za-z0-9._/+@-]+")


def dependencies() -> list[str]:
    return list(load_toml(recipes.HERE / "build.toml")["packages"])


def recipe_digest(target: Target) -> str:
    """A hash of everything that says how to build for `target`: the recipes as they apply to it."""
    parts = [BUILDER_REVISION, *(builder.effective_recipe(n, target) for n in [*dependencies(), "cpython"])]
    return cache.sha256_bytes("\n".join(parts).encode())


def runtime_digest(target: Target, lock: SourceLock, zig_version: str) -> str:
    """The identity of a built runtime: same sources, recipes, zig and target -> same key."""
    return cache.sha256_bytes(f"{sources.lock_digest(lock)}\n{recipe_digest(target)}\nzig {zig_version}\n{target.triple}".encode())


def python_version(lock: SourceLock) -> str:
    return sources.package(lock, "cpython").upstream_version


def _fetch_all(lock: SourceLock, names: list[str], offline: bool) -> dict[str, Path]:
    """Every tarball, verified; a package missing from the lock fails before anything is downloaded."""
    for name in names:
        sources.package(lock, name)
    return {name: sources.fetch(lock, name, offline=offline) for name in names}


def host_python(lock: SourceLock, zig: Zig, report: Report, *, offline: bool = False) -> Path:
    """The same CPython built for this machine (cached): the build Python of cross builds."""
    host = targets.host()
    if host is None:
        raise BuildError("building CPython from source needs an x86_64 or aarch64 Linux host")
    if (published := _published_host_runtime(host, lock, zig)) is not None:
        return published
    cpython = sources.package(lock, "cpython")
    recipe = builder.effective_recipe("cpython", host, host=True)
    key = cache.sha256_bytes(f"{BUILDER_REVISION}\n{cpython.orig.sha256}\n{recipe}\nzig {zig.version}\n{host.triple}".encode())[:16]
    final = cache.root() / "cpython-host" / f"{cpython.upstream_version}-{key}"
    exe = final / "bin" / f"python{'.'.join(cpython.upstream_version.split('.')[:2])}"
    if exe.is_file():
        return exe
    with cache.locked(f"cpython-host-{key}"):
        if exe.is_file():
            return exe
        work = Path(tempfile.mkdtemp(prefix="cpython-host.", dir=cache.scratch_dir()))
        try:
            build = Build(host, zig, work, lock, report, log_dir=log_dir(host, key, "host"))
            tarball = sources.fetch(lock, "cpython", offline=offline)
            builder.run_package(build, "cpython", tarball, host=True)
            staging = build.destdir / "install"
            if not (staging / exe.relative_to(final)).is_file():
                raise BuildError(f"the host build of CPython {cpython.upstream_version} installed no {exe.relative_to(final)}")
            cache.publish_dir(staging, final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return exe


def bytecode_python(minor: str, *, offline: bool = False) -> Path | None:
    """This machine's CPython `minor` from the source lock, to compile bytecode with;
    None when the lock pins another minor or this host cannot build.

    The host runtime already published is used as is; otherwise the plain host build
    (no bundled C libraries: bytecode needs none) is made once and cached.
    """
    lock = sources.load_lock()
    version = python_version(lock)
    host = targets.host()
    if ".".join(version.split(".")[:2]) != minor or host is None:
        return None
    check_build_path(cache.root())
    zig = find_zig()
    if _published_host_runtime(host, lock, zig) is None:
        log.info("  no Python %s on this host to compile bytecode with: building CPython %s for it from source (once per cache, a few minutes)", minor, version)
    return host_python(lock, zig, builder.log_event, offline=offline)


def _published_host_runtime(host: Target, lock: SourceLock, zig: Zig) -> Path | None:
    """This machine's own from-source runtime, if already published: the same CPython
    release from the same lock, and it runs here, so a cross build uses it as its build
    Python instead of compiling CPython for the host a second time (one build fewer in CI,
    where the x86_64 glibc runtime is built first)."""
    runtime = published_runtime(host, lock, zig) if host.triple in load_toml(recipes.HERE / "targets.toml") else None
    exe = runtime.path(f"bin/python{runtime.minor}") if runtime else None
    return exe if exe and os.access(exe, os.X_OK) else None


def runtime_key(target: Target, lock: SourceLock, zig: Zig) -> str:
    """The store key of the runtime these sources, recipes and zig build for `target`."""
    return f"{SOURCE_NAME}-{python_version(lock)}-{runtime_digest(target, lock, zig.version)[:12]}"


def published_runtime(target: Target, lock: SourceLock | None = None, zig: Zig | None = None) -> Runtime | None:
    """The runtime `build_runtime(target)` would return, if it is already published (else None: nothing is built)."""
    return store.published(target, runtime_key(target, lock or sources.load_lock(), zig or find_zig()))


def log_dir(target: Target, digest: str, kind: str = "runtime") -> Path:
    """Where one build's step logs go: outside its scratch folder, so a failure keeps them."""
    path = cache.root() / "logs" / "cpython" / f"{kind}-{target.triple}-{digest[:12]}"
    shutil.rmtree(path, ignore_errors=True)
    return path


def cached_host_python(minor: str) -> Path | None:
    """A host build of CPython `minor` made earlier by a source build (for bytecode)."""
    for exe in sorted((cache.root() / "cpython-host").glob(f"{minor}.*/bin/python{minor}"), reverse=True):
        if os.access(exe, os.X_OK):
            return exe
    return None


def _package_digests(target: Target, lock: SourceLock, zig_version: str) -> dict[str, str]:
    """For each dependency, a hash of it and everything built before it (a chain)."""
    chain = cache.sha256_bytes(f"{BUILDER_REVISION}\n{zig_version}\n{target.triple}\n{' '.join(dependencies())}".encode())
    digests = {}
    for name in dependencies():
        pkg = sources.package(lock, name)
        parts = [chain, pkg.orig.name, pkg.orig.sha256, builder.effective_recipe(name, target)]
        chain = digests[name] = cache.sha256_bytes("\n".join(parts).encode())
    return digests


def deps_digest(target: Target, lock: SourceLock, zig_version: str) -> str:
    """The identity of a built dependency set: their sources and recipes, zig, target."""
    return _package_digests(target, lock, zig_version)[dependencies()[-1]]


def build_deps(target: Target, lock: SourceLock, zig: Zig, report: Report, *, offline: bool = False) -> Path:
    """The static C libraries CPython links, built once per (sources, recipes, zig, target).

    Published on their own, so a change to CPython's recipe, or a failure while
    building CPython, does not cost the dependencies' minutes again. A failed build
    keeps its work folder: the next run resumes after the last package whose stamp
    (the chain digest of it and everything before it) still matches.
    """
    digests = _package_digests(target, lock, zig.version)
    digest = digests[dependencies()[-1]]
    final = cache.root() / "cpython-deps" / f"{target.triple}-{digest[:16]}"
    if (final / BUILD_INFO).is_file():
        return final
    with cache.locked(f"cpython-deps-{target.triple}"):
        if (final / BUILD_INFO).is_file():
            return final
        work = cache.scratch_dir() / f"cpython-deps-{target.triple}-zig{zig.version}.work"
        b = Build(target, zig, work, lock, report, log_dir=log_dir(target, digest, "deps"))
        tarballs = _fetch_all(lock, dependencies(), offline)
        stamps = work / "stamps"
        stamps.mkdir(parents=True, exist_ok=True)
        for name in dependencies():
            stamp = stamps / f"{name}.json"
            done = json.loads(stamp.read_text()) if stamp.is_file() else {}
            if done.get("digest") == digests[name]:
                b.timings[name], b.flags[name] = done["seconds"], done["flags"]
                continue
            builder.run_package(b, name, tarballs[name])
            _copy_licences(b, b.prefix, [name])
            shutil.rmtree(work / "src" / name)
            record = {"digest": digests[name], "seconds": b.timings[name], "flags": b.flags[name]}
            stamp.write_text(json.dumps(record, sort_keys=True))
        arheaders.normalize_tree(b.prefix / "lib")  # once, before publishing: ncurses' archives carry mtimes
        info = {"target": target.triple, "zig": zig.version, "key": digest, "flags": b.flags}
        (b.prefix / BUILD_INFO).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
        _write_times(b.logs, b.timings)
        cache.publish_dir(b.prefix, final)
        shutil.rmtree(work, ignore_errors=True)
    return final


def build_runtime(target: Target, *, report: Report = builder.log_event, offline: bool = False, key: str | None = None) -> Runtime:
    """Build (or find already published) the from-source runtime for `target`."""
    builder.target_facts(target)  # a target without facts is refused before anything runs
    check_build_path(cache.root())
    lock = sources.load_lock()
    zig = find_zig()
    digest = runtime_digest(target, lock, zig.version)
    key = key or runtime_key(target, lock, zig)

    def build(work: Path) -> Runtime:
        tarball = _fetch_all(lock, [*dependencies(), "cpython"], offline)["cpython"]  # every hash checked before any step
        b = Build(target, zig, work, lock, report, log_dir=log_dir(target, digest))
        if b.cross:
            b.build_python = host_python(lock, zig, report, offline=offline)
        deps = build_deps(target, lock, zig, report, offline=offline)
        b.deps = deps
        builder.run_package(b, "cpython", tarball)
        root = assemble(b)
        return describe(root, b, digest)

    return publish(target, key, build)


def check_build_path(root: Path) -> None:
    """Refuse, before anything runs, a cache folder that configure and make cannot build in.

    Every path of a source build (work folders, the dependency prefix, zig, the build
    Python) lives under the cache, and the C libraries' build systems split it at a
    space; a build there would fail minutes later in some dependency's configure step.
    """
    text = str(root.absolute())
    if not _MAKE_SAFE_PATH.fullmatch(text):
        odd = sorted({ch for ch in text if not _MAKE_SAFE_PATH.fullmatch(ch)})
        shown = " ".join(repr(ch) for ch in odd)
        raise BuildError(
            f"building CPython from source needs a cache folder whose path configure and make can use, and {text} "
            f"holds {shown}; set XBUILD_CACHE_DIR to a path of letters, digits and ._/+@- only (or pick another --source)"
        )


# -- assembly: the install tree -> install_only layout -------------------------------


def assemble(b: Build) -> Path:
    """Turn `make install`'s tree into the runtime folder `python/`."""
    minor = ".".join(python_version(b.lock).split(".")[:2])
    root = b.work / "python"
    shutil.move(b.destdir / "install", root)
    lib = root / "lib"
    for junk in ("bin/idle3", f"bin/idle{minor}", "bin/2to3", f"bin/2to3-{minor}", f"lib/python{minor}/idlelib", f"lib/python{minor}/tkinter", f"lib/python{minor}/turtledemo"):
        path = root / junk
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    _keep_static_libpython(lib, minor)
    if b.target.libc == "musl":
        _keep_static_archives(b, root)
    arheaders.normalize_tree(lib)
    _strip(b, root)
    _rewrite_build_paths(b, root, minor)
    _compile_sysconfigdata(b, root, minor)
    _copy_licences(b, root, ["cpython"])
    shutil.copytree(b.prefix / "share" / "licenses", root / "share" / "licenses", dirs_exist_ok=True)
    return root


def _keep_static_libpython(lib: Path, minor: str) -> None:
    """`lib/libpython3.X.a` for static linking later; the config folder keeps a link to it."""
    archives = sorted(lib.glob(f"python{minor}/config-{minor}*/libpython{minor}.a"))
    if not archives:
        raise BuildError(f"make install left no libpython{minor}.a")
    found = archives[0]
    if found.is_symlink():
        found = found.resolve()
    shutil.move(found, lib / f"libpython{minor}.a")
    if archives[0].exists() or archives[0].is_symlink():
        archives[0].unlink()
    os.symlink(os.path.relpath(lib / f"libpython{minor}.a", archives[0].parent), archives[0])


def _keep_static_archives(b: Build, root: Path) -> None:
    """The archives a launcher needs besides libpython3.X.a to link the interpreter statically
    (recipe `[static]`): without them an app's launcher misses `uuid_generate_time_safe` & co."""
    static = recipes.load("cpython")["static"]
    folder = root / static["folder"]
    folder.mkdir(parents=True)
    sources = [b.prefix / "lib" / name for name in static["archives"]] + [b.work / "src" / "cpython" / rel for rel in static["build_archives"]]
    for src in sources:
        if not src.is_file():
            raise BuildError(f"the static runtime needs {src.name}, which the build did not produce ({src})")
        shutil.copyfile(src, folder / src.name)


def static_link(target: Target, minor: str) -> list[str]:
    """The runtime's `static_link` record: empty for shared (glibc) runtimes."""
    if target.libc != "musl":
        return []
    static = recipes.load("cpython")["static"]
    names = [*static["archives"], *(Path(rel).name for rel in static["build_archives"])]
    return [f"lib/libpython{minor}.a", *(f"{static['folder']}/{name}" for name in names), *static["system"]]


def _strip(b: Build, root: Path) -> None:
    """Drop symbol tables and debug info from every ELF file except the static archive."""
    for path in elf_files(root):
        if not _has_symbols(path):
            continue  # linked with -s already (zig objcopy cannot strip static executables)
        out = path.with_name(path.name + ".stripped")
        proc = subprocess.run([str(b.zig.path), "objcopy", "--strip-all", str(path), str(out)], env=b.zig.environ(), capture_output=True, text=True)
        if proc.returncode != 0:
            out.unlink(missing_ok=True)
            raise BuildError(f"stripping {path.name} failed: {proc.stderr.strip()[-300:]}")
        shutil.copymode(path, out)
        os.replace(out, path)


def _has_symbols(path: Path) -> bool:
    with path.open("rb") as f:
        elf = ELFFile(f)
        if elf["e_type"] not in ("ET_EXEC", "ET_DYN"):
            return False  # objects (config/python.o) are kept as they are for relinking
        return any(elf.get_section_by_name(name) is not None for name in (".symtab", ".debug_info"))


def _rewrite_build_paths(b: Build, root: Path, minor: str) -> None:
    """sysconfig data, the Makefile and python-config name no build folder and no wrapper.

    The wrappers become plain tool names (`cc`, `c++`, `ar`, `ranlib`: what an
    extension build on the target system should call); flags pointing into the
    build folder (dependency prefix, libm header) are removed.
    """
    tools = {str(b.toolchain / t): t for t in ("cc", "c++", "ar", "ranlib")}
    folders = {str(b.work), str(b.prefix)} | ({str(b.build_python.parents[1])} if b.build_python else set())
    build_roots = sorted(folders, key=len, reverse=True)
    patterns = [
        (re.compile(r"(--with-(?:openssl|build-python)=)[^\s'\"]+"), r"\1..."),
        (re.compile(r" ?-Wl,--version-script=[^\s'\"]+"), ""),  # libpython's own export list
        (re.compile(r" ?-ffile-prefix-map=[^\s'\"]+"), ""),  # only meaningful in the build folder
    ]
    for folder in map(re.escape, build_roots):
        patterns += [
            (re.compile(r" ?-include\s+" + folder + r"[^\s'\"]*"), ""),
            (re.compile(r" ?-[IL]\s*" + folder + r"[^\s'\"]*"), ""),
        ]
    candidates = [
        *root.glob(f"lib/python{minor}/_sysconfigdata_*.py"),
        *root.glob(f"lib/python{minor}/config-{minor}*/Makefile"),
        *root.glob(f"lib/python{minor}/build-details.json"),
        *root.glob("bin/python*-config"),
        *root.glob("lib/pkgconfig/*.pc"),
    ]
    for path in candidates:
        if path.is_symlink() or not path.is_file():
            continue
        text = path.read_text()
        for wrapper, name in tools.items():
            text = text.replace(wrapper, name)
        for pattern, repl in patterns:
            text = pattern.sub(repl, text)
        for folder in build_roots:
            text = text.replace(folder, "/build")
        path.write_text(text)
        for stale in path.parent.glob(f"__pycache__/{path.stem}.*.pyc"):
            stale.unlink()
    leftovers = [p for p in candidates if p.is_file() and any(f in p.read_text() for f in build_roots)]
    if leftovers:
        raise BuildError(f"build paths remain in {leftovers[0]}")


def _compile_sysconfigdata(b: Build, root: Path, minor: str) -> None:
    """Bytecode for the rewritten sysconfig data, as `make install` compiled the rest of the
    stdlib: hash-checked (SOURCE_DATE_EPOCH is set), for every optimisation level, named
    below the install prefix. Without it the first run of the runtime would write a pyc
    stamped with the time of that run into the published tree."""
    python = b.build_python if b.cross else root / "bin" / f"python{minor}"
    files = sorted(str(p) for p in root.glob(f"lib/python{minor}/_sysconfigdata_*.py"))
    args = [str(python), "-E", "-m", "compileall", "-q", "-f", "--invalidation-mode", "checked-hash", "-o", "0", "-o", "1", "-o", "2"]
    proc = subprocess.run([*args, "-d", f"/install/lib/python{minor}", *files], capture_output=True, text=True, env={"PATH": os.environ.get("PATH", ""), "SOURCE_DATE_EPOCH": "0"})
    if proc.returncode != 0:
        raise BuildError(f"compiling the rewritten sysconfig data failed: {(proc.stdout + proc.stderr).strip()[-300:]}")


TIMES = "build-times.json"


def _write_times(logs: Path, seconds: dict[str, float]) -> None:
    """Seconds per package, kept beside the step logs: not in the runtime, whose bytes must
    not depend on how long its build took."""
    logs.mkdir(parents=True, exist_ok=True)
    (logs / TIMES).write_text(json.dumps(seconds, indent=2, sort_keys=True) + "\n")


def _read_times(logs: Path) -> dict[str, float]:
    try:
        return dict(json.loads((logs / TIMES).read_text()))
    except (OSError, ValueError):
        return {}


def deps_log_dir(b: Build) -> Path:
    """The dependencies' log folder of build `b` (named after their published key)."""
    return cache.root() / "logs" / "cpython" / f"deps-{b.target.triple}-{b.prefix.name.rsplit('-', 1)[-1][:12]}"


def build_times(target: Target) -> dict[str, float]:
    """Seconds per package of the last from-source build for `target` (empty if none is on record)."""
    lock, zig = sources.load_lock(), find_zig()
    folders = [
        cache.root() / "logs" / "cpython" / f"deps-{target.triple}-{deps_digest(target, lock, zig.version)[:12]}",
        cache.root() / "logs" / "cpython" / f"runtime-{target.triple}-{runtime_digest(target, lock, zig.version)[:12]}",
    ]
    return {k: v for folder in folders for k, v in _read_times(folder).items()}


def _copy_licences(b: Build, dest_root: Path, names: list[str]) -> None:
    """Each component's licence text, from its unpacked source into share/licenses/<component>/."""
    for name in names:
        dest = dest_root / "share" / "licenses" / name
        dest.mkdir(parents=True, exist_ok=True)
        for rel in recipes.load(name)["build"]["licenses"]:
            src = b.work / "src" / name / rel
            if not src.is_file():
                raise BuildError(f"{name}: licence file {rel} is missing from its source")
            shutil.copyfile(src, dest / Path(rel).name)


def describe(root: Path, b: Build, digest: str) -> Runtime:
    """The build-info record and the runtime record."""
    lock = b.lock
    names = [*dependencies(), "cpython"]
    deps_info = json.loads((b.prefix / BUILD_INFO).read_text())
    info = {
        "target": b.target.triple,
        "zig": b.zig.version,
        "sources_lock": sources.lock_digest(lock),
        "recipes": recipe_digest(b.target),
        "key": digest,
        "sources": {n: {"package": p.package, "version": p.version, "orig": p.orig.name, "sha256": p.orig.sha256} for n in names for p in [lock.packages[n]]},
        "flags": {**deps_info.get("flags", {}), **b.flags},
    }
    _write_times(b.logs, {**_read_times(deps_log_dir(b)), **b.timings})
    (root / BUILD_INFO).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    floor = libc_floor(root, b.target)
    notes = [f"built from source by zig {b.zig.version} (see {BUILD_INFO})"]
    inputs = {lock.packages[n].orig.name: lock.packages[n].orig.sha256 for n in names}
    origin = f"{sources.LOCK_NAME} {sources.lock_digest(lock)[:12]}"
    minor = ".".join(python_version(lock).split(".")[:2])
    return model.describe(
        root, b.target, source=SOURCE_NAME, origin=origin, inputs=inputs, libc_floor=floor, notes=notes, static_link=static_link(b.target, minor)
    )
