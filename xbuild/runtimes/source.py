"""CPython built here from pinned Debian source tarballs by the pinned zig (xbuild/cpython/).

The one source that reaches every Linux target's own floor (glibc 2.17, static
musl) without GitHub: nothing is downloaded but source tarballs, and the build is
keyed by (source lock, recipes, zig, target), so it happens once per machine and
cache. Offered for every target xbuild/cpython/targets.toml lists.
"""

from __future__ import annotations

from xbuild import targets
from xbuild.resources import load_toml
from xbuild.runtimes.model import Runtime
from xbuild.runtimes.offer import Offer, matches
from xbuild.targets import Target

NAME = "source"


def _zig_version() -> str:
    """The pinned zig version (the key needs no zig binary: offers are listed without one)."""
    from xbuild.toolchain import pin

    return str(pin()["version"])


def offers(target: Target | None = None, python: str | None = None) -> list[Offer]:
    from xbuild.cpython import recipes, sources
    from xbuild.cpython import runtime as built

    lock = sources.load_lock()
    version = built.python_version(lock)
    if not matches(version, python):
        return []
    found = []
    for triple in load_toml(recipes.HERE / "targets.toml"):
        t = targets.get(triple)
        if target is not None and t != target:
            continue
        digest = built.runtime_digest(t, lock, _zig_version())
        what = f"CPython {version} for {triple} (built from source by zig {_zig_version()})"
        origin = f"{sources.LOCK_NAME} {sources.lock_digest(lock)[:12]}"
        # musl: recipes/cpython.toml links one static interpreter ([build.env.musl]).
        found.append(Offer(NAME, triple, version, what, origin, digest, static=t.libc == "musl"))
    return found


def install(offer: Offer, target: Target, *, offline: bool = False) -> Runtime:
    from xbuild.cpython import runtime as built

    return built.build_runtime(target, offline=offline, key=offer.key)
