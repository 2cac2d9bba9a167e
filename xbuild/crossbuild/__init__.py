"""Cross builds of sdists (and of the project's own extension modules) for a target, with zig.

One module per job: `sdist` finds and fetches a verified sdist, `libs` brings the C
libraries a package needs from the target's Debian archive, `crossenv` writes the
cross environment (target sysconfig data, an interpreter patch, zig wrappers, CMake
toolchain and Meson cross files), `backend` runs the PEP 517 build in it with a host
Python of the runtime's minor version, `verify` checks the wheel it made, and
`builder` ties them together with the cache. `overrides.toml` holds per-package
settings, each with its reason.
"""

from __future__ import annotations

from packaging.utils import canonicalize_name

from xbuild.config import BuildOptions
from xbuild.crossbuild.builder import BuiltWheel, Request
from xbuild.runtimes.model import Runtime
from xbuild.targets import Target
from xbuild.toolchain import Zig

__all__ = ["BuiltWheel", "Request", "record", "request"]


def request(options: BuildOptions, target: Target, runtime: Runtime, zig: Zig) -> Request:
    """What every cross build for this target shares, from the build options."""
    allow = frozenset(n if n == ":all:" else str(canonicalize_name(n)) for n in options.allow_pure_fallback)
    return Request(target, runtime, zig, tuple(options.sysroot_packages), allow, options.offline)


def record(built: dict[str, BuiltWheel], own: BuiltWheel | None) -> dict[str, dict[str, object]]:
    """`built_from_source` of xbuild-build.json: each wheel built here, with its sdist's hash."""
    entries = {b.path.name: b.record() for b in built.values()}
    if own is not None:
        entries[own.path.name] = {**own.record(), "sdist": "(the project's own source tree)"}
    return entries
