"""CPython for Linux glibc targets (3.11 today), assembled from Debian bookworm's packages.

Debian builds CPython for every architecture it supports, which makes it the one
reachable source of real foreign-architecture runtimes. The packages named by
`toolchains/debian-python3.11.lock.json` are fetched and verified, then rearranged
into the `install_only` layout: the stdlib and `lib-dynload`, `libpython3.11.so`,
the headers, and every shared library they need (OpenSSL, libffi, SQLite, ...)
grafted into `lib/`. Debian's interpreter is linked statically and cannot find
those, so `bin/python3.11` is CPython's own main() linked by zig with an rpath of
`$ORIGIN/../lib`. The recorded libc floor is what the files really need.

The same lock also pins each architecture's libc6, which qemu-user needs as its
library root to run that architecture's dynamically linked programs.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from xbuild import cache as xcache
from xbuild import debian, targets
from xbuild.elfedit import runpath_to_rpath
from xbuild.errors import RuntimeLayoutError, RuntimeSourceError
from xbuild.resources import load_toml, shipped
from xbuild.runtimes import model
from xbuild.runtimes.floor import libc_floor
from xbuild.runtimes.model import Runtime
from xbuild.runtimes.offer import Offer, matches
from xbuild.runtimes.store import publish
from xbuild.targets import Target
from xbuild.toolchain import OPT_LEVEL, find_zig

NAME = "debian"


@cache
def _recipe() -> dict[str, Any]:
    return load_toml(shipped("toolchains") / "debian.toml")


@dataclass(frozen=True)
class _Layout:
    """toolchains/debian.toml's Python version and where Debian's packages put its parts."""

    python: str  # "python3.11": the folder and library name of CPython 3.11
    libpython_package: str
    stdlib: str
    include: str
    pyconfig: str  # with {triplet}
    libraries: tuple[str, ...]  # with {triplet}


@cache
def _layout() -> _Layout:
    recipe = _recipe()
    python = f"python{recipe['python']}"
    table = recipe["layout"]
    fill = {"python": python, "triplet": "{triplet}"}
    return _Layout(
        python=python,
        libpython_package=table["libpython-package"].format(**fill),
        stdlib=table["stdlib"].format(**fill),
        include=table["include"].format(**fill),
        pyconfig=table["pyconfig"].format(**fill),
        libraries=tuple(p.format(**fill) for p in table["libraries"]),
    )


@cache
def _lock_file() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((shipped("toolchains") / _recipe()["lock"]).read_text())
    return data


def _lock(part: str, target: Target) -> debian.Lock | None:
    entry = _lock_file()[part].get(target.debian or "")
    return debian.Lock.from_json(entry) if entry else None


def pinned_debs() -> set[str]:
    """sha256 of every .deb the lock names, for every architecture."""
    return {deb["sha256"] for part in _lock_file().values() for lock in part.values() for deb in lock["packages"]}


def _lock_digest(lock: debian.Lock) -> str:
    return xcache.sha256_bytes(json.dumps(lock.to_json(), sort_keys=True).encode())


def _upstream_version(lock: debian.Lock) -> str:
    deb = next(d for d in lock.packages if d.package == _layout().libpython_package)
    return deb.version.split(":")[-1].split("-")[0]  # 3.11.2-6+deb12u8 -> 3.11.2


def offers(target: Target | None = None, python: str | None = None) -> list[Offer]:
    found = []
    for triple in _recipe()["triples"]:
        t = targets.get(triple)
        lock = _lock("runtime", t)
        if lock is None or (target is not None and t != target):
            continue
        version = _upstream_version(lock)
        if matches(version, python):
            what = f"CPython {version} for {triple} (Debian {lock.suite} {lock.architecture})"
            found.append(Offer(NAME, triple, version, what, f"{lock.mirror} {lock.suite}/{lock.architecture}", _lock_digest(lock)))
    return found


def install(offer: Offer, target: Target, *, offline: bool = False) -> Runtime:
    lock = _lock("runtime", target)
    assert lock is not None

    def build(work: Path) -> Runtime:
        fs = work / "fs"
        debs = debian.unpack_lock(lock, fs, offline=offline)
        root = _assemble(fs, work / "python")
        _link_interpreter(root, target)
        floor = libc_floor(root, target)
        notes = [f"glibc floor {floor} from Debian {lock.suite}'s builds (above the target's {target.floor})"] if floor else []
        inputs = {f"{d.package}_{d.version}_{d.architecture}.deb": d.sha256 for d in debs}
        return model.describe(root, target, source=NAME, origin=offer.origin, inputs=inputs, libc_floor=floor, notes=notes)

    return publish(target, offer.key, build)


def _multiarch_dir(fs: Path) -> str:
    """Debian's multiarch triplet (aarch64-linux-gnu, arm-linux-gnueabihf, ...), found in the tree."""
    pattern = _layout().pyconfig.replace("{triplet}", "*")
    for pyconfig in fs.glob(pattern):
        return pyconfig.relative_to(fs).parts[pattern.split("/").index("*")]
    raise RuntimeLayoutError(f"the Debian packages have no {_layout().pyconfig.replace('{triplet}', '<triplet>')}")


def _assemble(fs: Path, root: Path) -> Path:
    """Rearrange an unpacked Debian tree into the install_only layout at `root`."""
    layout = _layout()
    triplet = _multiarch_dir(fs)
    lib = root / "lib"
    lib.mkdir(parents=True)
    shutil.move(fs / layout.stdlib, lib / layout.python)
    # Shared libraries (files and their soname links) from both library folders.
    for folder in (fs / p.format(triplet=triplet) for p in layout.libraries):
        for path in sorted(folder.glob("*.so*")) if folder.is_dir() else []:
            if (path.is_file() or path.is_symlink()) and not (lib / path.name).exists():
                shutil.move(path, lib / path.name)
    include = root / "include" / layout.python
    shutil.move(fs / layout.include, include)
    (include / "pyconfig.h").unlink()
    shutil.move(fs / layout.pyconfig.format(triplet=triplet), include / "pyconfig.h")
    _drop_dangling_links_and_archives(root)
    return root


def _drop_dangling_links_and_archives(root: Path) -> None:
    for path in sorted(root.rglob("*"), reverse=True):
        if (path.is_symlink() and not path.exists()) or (path.suffix == ".a" and path.is_file()):
            path.unlink()


def _link_interpreter(root: Path, target: Target) -> None:
    zig = find_zig()
    python = _layout().python
    source = shipped("runtime") / "python_main.c"
    exe = root / "bin" / python
    exe.parent.mkdir(parents=True, exist_ok=True)
    args = [
        OPT_LEVEL,
        "-I", str(root / "include" / python),
        "-o", str(exe),
        str(source),
        "-L", str(root / "lib"),
        f"-l{python}",
        "-Wl,-rpath,$ORIGIN/../lib",
    ]  # fmt: skip
    zig.run(zig.cc(target, args), what=f"linking {python} for {target.triple}")
    # DT_RPATH, not RUNPATH: libpython's and extension modules' own needs resolve from lib/ too.
    runpath_to_rpath(exe)
    os.symlink(python, root / "bin" / "python3")


def libc_root(target: Target, *, offline: bool = False) -> Path:
    """The target's own glibc and loader, unpacked: qemu-user's `-L` for its programs."""
    lock = _lock("libc", target)
    if lock is None:
        raise RuntimeSourceError(f"no pinned Debian libc for {target.triple}; qemu needs one to run its dynamically linked programs")
    final = xcache.root() / "debian" / "libc" / f"{lock.architecture}-{_lock_digest(lock)[:12]}"
    if final.is_dir():
        return final
    with xcache.locked(f"libc-{lock.architecture}"):
        if final.is_dir():
            return final
        work = Path(xcache.scratch_dir()) / f"libc-{lock.architecture}.{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        try:
            debian.unpack_lock(lock, work, offline=offline)
            xcache.publish_dir(work, final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return final
