"""C libraries a package links against, for the target, from Debian (`sysroot-packages`).

The packages (e.g. `libyaml-dev`) are resolved against the target architecture's
signed Debian index, like xbuild's sysroots, fetched verified and unpacked once into
the cache under the lock's digest. Extensions link their *static* archives: a wheel
that needs `libyaml-0.so.2` would not load on a target without it, and manylinux
policies do not allow it. The headers come after zig's libc headers.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from xbuild import cache as xcache
from xbuild import debian, sysroot
from xbuild.errors import UsageError
from xbuild.targets import Target

log = logging.getLogger(__name__)
# What a -dev package pulls in that zig already brings (libc) or no link needs.
_EXCLUDE = ("libc6", "libc6-dev", "libgcc-s1", "libcrypt1", "libcrypt-dev", "libnsl-dev", "libtirpc-dev", "linux-libc-dev", "libstdc++6")


@dataclass(frozen=True)
class TargetLibs:
    """Unpacked Debian packages for one target, and the folder with only their static archives."""

    root: Path
    triplet: str
    packages: tuple[str, ...]
    lock: dict[str, object]  # the Debian lock: suite, InRelease hash, every .deb's sha256

    @property
    def static_dir(self) -> Path:
        return self.root / "xbuild-static"

    def compile_flags(self) -> list[str]:
        return ["-idirafter", str(self.root / "usr" / "include" / self.triplet), "-idirafter", str(self.root / "usr" / "include")]

    def link_flags(self) -> list[str]:
        # Debian's archives are built for executables (PIE, not PIC): -Bsymbolic binds their
        # symbols inside the module, which is what lets lld put them in a shared object.
        return [f"-L{self.static_dir}", "-Wl,-Bsymbolic"]

    def digest(self) -> str:
        return xcache.sha256_bytes(json.dumps(self.lock, sort_keys=True).encode())


def _triplet(root: Path) -> str:
    for folder in sorted((root / "usr" / "lib").iterdir()):
        if folder.is_dir() and folder.name.count("-") >= 2:
            return folder.name
    raise UsageError(f"{root}: the Debian packages hold no multiarch library folder")


def fetch(target: Target, packages: Sequence[str], *, offline: bool = False) -> TargetLibs | None:
    """The packages for `target`, unpacked (from the cache when this exact set was unpacked before)."""
    if not packages:
        return None
    if target.debian is None:
        raise UsageError(f"sysroot-packages come from Debian, which has no build for {target.triple}: remove them or drop the target")
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
                    triplet = _triplet(work)
                    static = work / "xbuild-static"
                    static.mkdir()
                    for archive in (work / "usr" / "lib" / triplet).glob("*.a"):
                        shutil.copy2(archive, static / archive.name)
                    xcache.publish_dir(work, final)
                finally:
                    shutil.rmtree(work, ignore_errors=True)
    return TargetLibs(final, _triplet(final), names, lock.to_json())
