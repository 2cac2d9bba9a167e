"""C libraries a package links against, for the target (`sysroot-packages`, e.g. libyaml-dev).

Linux glibc targets: the packages are resolved against the target architecture's
signed Debian index, like xbuild's sysroots, fetched verified and unpacked once into
the cache under the lock's digest. Extensions link their *static* archives: a wheel
that needs `libyaml-0.so.2` would not load on a target without it, and manylinux
policies do not allow it.

Other targets (Windows): a recipe in `clibs/` compiles the library from Debian's
source package (pinned in `clibs/sources.lock.json`) with zig for the target.
"""

from __future__ import annotations

import glob
import json
import logging
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from xbuild import archive, debian, sysroot
from xbuild import cache as xcache
from xbuild.errors import UsageError
from xbuild.resources import load_toml
from xbuild.targets import Target
from xbuild.toolchain import Zig

log = logging.getLogger(__name__)
# What a -dev package pulls in that zig already brings (libc) or no link needs.
_EXCLUDE = ("libc6", "libc6-dev", "libgcc-s1", "libcrypt1", "libcrypt-dev", "libnsl-dev", "libtirpc-dev", "linux-libc-dev", "libstdc++6")
RECIPES = Path(__file__).parent / "clibs"


@dataclass(frozen=True)
class TargetLibs:
    """Headers and static archives for one target, and what compiles against them need."""

    root: Path
    include_dirs: tuple[Path, ...]
    lib_dir: Path
    packages: tuple[str, ...]
    lock: dict[str, Any]  # Debian lock (binary packages or source packages): every hash that led here
    defines: tuple[str, ...] = field(default=())
    symbolic: bool = False  # archives made for executables (Debian's): bind their symbols in the module

    def compile_flags(self) -> list[str]:
        flags = [f for d in self.include_dirs for f in ("-idirafter", str(d))]
        return flags + [f"-D{d}" for d in self.defines]

    def link_flags(self) -> list[str]:
        # Debian's archives are built for executables (PIE, not PIC): -Bsymbolic binds their
        # symbols inside the module, which is what lets lld put them in a shared object.
        return [f"-L{self.lib_dir}", *(["-Wl,-Bsymbolic"] if self.symbolic else [])]

    def digest(self) -> str:
        return xcache.sha256_bytes(json.dumps([self.lock, list(self.defines)], sort_keys=True).encode())


def _triplet(root: Path) -> str:
    for folder in sorted((root / "usr" / "lib").iterdir()):
        if folder.is_dir() and folder.name.count("-") >= 2:
            return folder.name
    raise UsageError(f"{root}: the Debian packages hold no multiarch library folder")


def fetch(target: Target, packages: Sequence[str], zig: Zig, *, offline: bool = False) -> TargetLibs | None:
    """The packages for `target`: Debian's builds on Linux glibc, recipes elsewhere."""
    if not packages:
        return None
    if target.os == "linux" and target.libc == "glibc" and target.debian:
        return _from_debian(target, packages, offline=offline)
    return _from_recipes(target, packages, zig, offline=offline)


def _from_debian(target: Target, packages: Sequence[str], *, offline: bool) -> TargetLibs:
    assert target.debian is not None
    recipe = sysroot.recipe()
    names = tuple(sorted(set(packages)))
    state = xcache.root() / "crossbuild" / "libs" / target.triple
    key = xcache.sha256_bytes(json.dumps([recipe["suite"], names]).encode())[:16]
    lock_file = state / f"{key}.lock.json"
    if lock_file.is_file():
        lock = debian.Lock.from_json(json.loads(lock_file.read_text()))
    else:
        log.info("  resolving %s for %s in Debian %s", ", ".join(names), target.triple, recipe["suite"])
        lock = debian.lock_packages(sysroot.mirror(), recipe["suite"], target.debian, names, [*recipe["exclude"], *_EXCLUDE])
        xcache.write_atomic(lock_file, json.dumps(lock.to_json(), indent=1, sort_keys=True) + "\n")
    digest = sysroot.lock_digest(lock)
    final = state / digest[:16]
    if not final.is_dir():
        with xcache.locked(f"crossbuild-libs-{target.triple}-{digest[:16]}"):
            if not final.is_dir():
                work = Path(tempfile.mkdtemp(prefix="libs.", dir=xcache.scratch_dir()))
                try:
                    debian.unpack_lock(lock, work, offline=offline)
                    static = work / "xbuild-static"
                    static.mkdir()
                    for lib in (work / "usr" / "lib" / _triplet(work)).glob("*.a"):
                        shutil.copy2(lib, static / lib.name)
                    xcache.publish_dir(work, final)
                finally:
                    shutil.rmtree(work, ignore_errors=True)
    triplet = _triplet(final)
    includes = (final / "usr" / "include" / triplet, final / "usr" / "include")
    return TargetLibs(final, includes, final / "xbuild-static", names, lock.to_json(), symbolic=True)


@cache
def _recipes() -> dict[str, dict[str, Any]]:
    return {str(load_toml(p)["provides"]): {**load_toml(p), "name": p.stem} for p in sorted(RECIPES.glob("*.toml"))}


def _from_recipes(target: Target, packages: Sequence[str], zig: Zig, *, offline: bool) -> TargetLibs:
    recipes = _recipes()
    missing = [p for p in packages if p not in recipes]
    if missing:
        raise UsageError(f"no recipe builds {', '.join(missing)} for {target.triple} (recipes: {', '.join(recipes)}): add one to {RECIPES}")
    lock = debian.SourceLock.from_json(json.loads((RECIPES / "sources.lock.json").read_text()))
    chosen = [recipes[p] for p in sorted(set(packages))]
    pins = {r["name"]: asdict(lock.packages[r["name"]]) for r in chosen}
    digest = xcache.sha256_bytes(json.dumps([pins, chosen, zig.version], sort_keys=True).encode())
    final = xcache.root() / "crossbuild" / "clibs" / target.triple / digest[:16]
    if not final.is_dir():
        with xcache.locked(f"crossbuild-clibs-{target.triple}-{digest[:16]}"):
            if not final.is_dir():
                work = Path(tempfile.mkdtemp(prefix="clibs.", dir=xcache.scratch_dir()))
                try:
                    for recipe in chosen:
                        _build_recipe(recipe, lock, target, zig, work, offline=offline)
                    xcache.publish_dir(work, final)
                finally:
                    shutil.rmtree(work, ignore_errors=True)
    defines = tuple(d for r in chosen for d in r.get("consumer-defines", []))
    return TargetLibs(final, (final / "include",), final / "lib", tuple(sorted(set(packages))), {"sources": pins}, defines)


def _build_recipe(recipe: dict[str, Any], lock: debian.SourceLock, target: Target, zig: Zig, dest: Path, *, offline: bool) -> None:
    """Unpack the pinned orig tarball and compile the recipe's sources into lib<name>.a with zig."""
    pkg = lock.packages[recipe["name"]]
    tarball = debian.fetch_source(pkg, lock.mirror, offline=offline)
    src_root = dest / "src" / recipe["name"]
    archive.extract(tarball, src_root, what=pkg.orig.name)
    tops = [p for p in src_root.iterdir() if p.is_dir()]
    top = tops[0] if len(tops) == 1 else src_root
    includes = [f"-I{top / i}" for i in recipe.get("include", [])]
    defines = [f"-D{d}" for d in recipe.get("defines", [])]
    objects = []
    log.info("  compiling %s %s for %s from Debian's source", recipe["name"], pkg.version, target.triple)
    for pattern in recipe["sources"]:
        for source in sorted(glob.glob(str(top / pattern))):
            obj = dest / "obj" / recipe["name"] / (Path(source).stem + ".o")
            obj.parent.mkdir(parents=True, exist_ok=True)
            zig.run(zig.cc(target, ["-O2", "-fPIC", "-g0", *includes, *defines, "-c", source, "-o", str(obj)]), what=f"compiling {Path(source).name} of {recipe['name']}")
            objects.append(str(obj))
    lib_dir = dest / "lib"
    lib_dir.mkdir(exist_ok=True)
    library = lib_dir / f"lib{recipe['library']}.a"
    zig.run(zig.ar(["rcs", str(library), *objects]), what=f"archiving {recipe['name']}")
    if target.os == "windows":
        shutil.copy2(library, lib_dir / f"{recipe['library']}.lib")
    (dest / "include").mkdir(exist_ok=True)
    for folder in recipe.get("include", []):
        shutil.copytree(top / folder, dest / "include", dirs_exist_ok=True)
