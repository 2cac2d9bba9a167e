"""Build one wheel for a target from an sdist (or the project's tree), checked and cached.

The cache key is (sdist sha256, target, runtime, zig version, flags: this module's
recipe version, the override, the Debian libraries' lock, whether a pure fallback is
allowed), so a wheel is built once per combination and reused by every project.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from xbuild import bytecode
from xbuild import cache as xcache
from xbuild.crossbuild import backend, crossenv, libs, overrides, sdist, verify
from xbuild.errors import BuildError
from xbuild.runtimes.model import Runtime
from xbuild.targets import Target
from xbuild.toolchain import Zig

log = logging.getLogger(__name__)
# Raise when the cross environment changes in a way that changes wheels: old cache entries stop matching.
RECIPE_VERSION = 1
META = "xbuild-crossbuild.json"


@dataclass(frozen=True)
class Request:
    """What every cross build for one (target, runtime) shares."""

    target: Target
    runtime: Runtime
    zig: Zig
    sysroot_packages: tuple[str, ...] = ()
    allow_pure: frozenset[str] = frozenset()
    offline: bool = False

    def allows_pure(self, name: str) -> bool:
        """Whether the user lets `name` fall back to pure Python (`allow-pure-fallback`)."""
        return ":all:" in self.allow_pure or str(canonicalize_name(name)) in self.allow_pure


@dataclass(frozen=True)
class BuiltWheel:
    """A checked wheel for the target and how it was made."""

    name: str
    version: str
    path: Path
    sdist_file: str
    sdist_url: str
    sdist_sha256: str
    key: str
    override: str  # the override's reason, "" when none applied
    seconds: float  # build time (0 when it came from the cache)
    cached: bool
    extensions: tuple[str, ...]

    def record(self) -> dict[str, object]:
        """What xbuild-build.json and the SBOM say about it."""
        return {"sdist": self.sdist_file, "sdist_url": self.sdist_url, "sdist_sha256": self.sdist_sha256, "cache_key": self.key, "override": self.override}


def log_path(name: str, version: str, target: Target) -> Path:
    return xcache.root() / "logs" / "crossbuild" / f"{canonicalize_name(name)}-{version}-{target.triple}.log"


def _key(source_sha256: str, name: str, req: Request, override: overrides.Override | None, packages: Sequence[str], target_libs: libs.TargetLibs | None) -> str:
    parts = {
        "recipe": RECIPE_VERSION, "source": source_sha256, "target": req.target.triple,
        "runtime": {"python": req.runtime.python, "source": req.runtime.source, "inputs": req.runtime.inputs},
        "zig": req.zig.version, "override": asdict(override) if override else None, "packages": sorted(packages),
        "libs": target_libs.digest() if target_libs else None, "allow_pure": req.allows_pure(name),
    }  # fmt: skip
    return xcache.sha256_bytes(json.dumps(parts, sort_keys=True).encode())


def _cached(key: str) -> tuple[Path, dict[str, object]] | None:
    folder = xcache.root() / "crossbuild" / "wheels" / key[:32]
    meta = folder / META
    if not meta.is_file():
        return None
    data = json.loads(meta.read_text())
    wheel = folder / str(data["wheel"])
    return (wheel, data) if wheel.is_file() and xcache.sha256_file(wheel) == data["wheel_sha256"] else None


def _build(name: str, version: str, source: Path, source_sha256: str, origin: tuple[str, str], req: Request) -> BuiltWheel:
    target, runtime = req.target, req.runtime
    override = overrides.for_package(name, target.triple)
    packages = tuple(dict.fromkeys([*req.sysroot_packages, *(override.sysroot_packages if override else ())]))
    target_libs = libs.fetch(target, packages, req.zig, offline=req.offline)
    key = _key(source_sha256, name, req, override, packages, target_libs)
    reason = override.reason if override else ""
    if found := _cached(key):
        wheel, data = found
        log.info("  %s %s for %s: cached wheel %s", name, version, target.triple, wheel.name)
        extensions = data.get("extensions", [])
        assert isinstance(extensions, list)
        return BuiltWheel(name, version, wheel, origin[0], origin[1], source_sha256, key, reason, 0.0, True, tuple(map(str, extensions)))
    what = f"{name} {version} for {target.triple}"
    logfile = log_path(name, version, target)
    log.info("  building %s from source (log: %s)", what, logfile)
    started = time.monotonic()
    python = bytecode.host_python(runtime.minor, runtime, target, offline=req.offline)
    with tempfile.TemporaryDirectory(prefix="xbuild-cross.", dir=xcache.scratch_dir()) as tmp:
        work = Path(tmp)
        cross = crossenv.write(req.zig, target, runtime, work / "cross", target_libs)
        env = {**req.zig.environ(), **(override.env if override else {})}
        try:
            wheel = backend.build_wheel(python, source, cross, env, work, logfile)
        except backend.BackendFailed as e:
            raise BuildError(f"building {what} from source failed: {str(e).split(' failed: ', 1)[-1]}; full log: {e.log_path}") from None
        native = verify.has_native_sources(source)
        staging = work / "verified"
        checked = verify.verify(wheel, target, runtime, staging, native_sources=native, allow_pure=req.allows_pure(name), what=what)
        folder = xcache.root() / "crossbuild" / "wheels" / key[:32]
        meta = {"wheel": checked.path.name, "wheel_sha256": xcache.sha256_file(checked.path), "name": name, "version": version,
                "sdist": origin[0], "sdist_sha256": source_sha256, "target": target.triple, "extensions": list(checked.extensions)}  # fmt: skip
        (staging / META).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
        shutil.rmtree(folder, ignore_errors=True)
        xcache.publish_dir(staging, folder)
    seconds = time.monotonic() - started
    log.info("  built %s in %.0f s (%d extension module(s))", what, seconds, len(checked.extensions))
    return BuiltWheel(name, version, folder / checked.path.name, origin[0], origin[1], source_sha256, key, reason, seconds, False, checked.extensions)


def from_sdist(found: sdist.Sdist, req: Request) -> BuiltWheel:
    """Fetch (verified: a tampered sdist stops here) and build an sdist for the request's target."""
    path = sdist.fetch(found, offline=req.offline)
    with tempfile.TemporaryDirectory(prefix="xbuild-sdist.", dir=xcache.scratch_dir()) as tmp:
        source = sdist.unpack(path, found.file, Path(tmp))
        return _build(found.name, found.version, source, found.sha256, (found.file, found.url), req)


def from_tree(name: str, version: str, source: Path, source_digest: str, req: Request) -> BuiltWheel:
    """Build a source tree (the project's own) for the request's target; `source_digest` names its content."""
    return _build(name, version, source, source_digest, ("", ""), req)
