"""Checks a build makes before its slow steps, so a wrong setting fails in one line at once.

A Python version no runtime source has, a project that excludes the runtime's version,
the floor the resolver may not pass, an entry point whose module no wheel holds.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

from packaging.specifiers import SpecifierSet

from xbuild import resolve, runtimes, targets
from xbuild.config import BuildOptions, Project
from xbuild.errors import BuildError, ConfigError, RuntimeSourceError
from xbuild.runtimes.model import Runtime
from xbuild.runtimes.offer import Offer
from xbuild.targets import Target
from xbuild.versions import release


def check_runtimes(project: Project, options: BuildOptions) -> None:
    """Refuse a Python version no runtime source has, or one the project excludes, before building anything."""
    for target in (part for t in options.targets for part in targets.parts(t)):
        offers = runtimes.offers(target, options.python, options.runtime_sources)
        if not offers:
            have = sorted({o.python.rsplit(".", 1)[0] for o in runtimes.offers(target, None, options.runtime_sources)}, key=release)
            raise RuntimeSourceError(
                f"no runtime source has CPython {options.python} for {target.triple}"
                f" (they have {', '.join(have) or 'none'}): set --python or [tool.xbuild] python"
            )
        if project.requires_python and not any(SpecifierSet(project.requires_python).contains(o.python, prereleases=True) for o in offers):
            raise ConfigError(
                f"{project.name} requires Python {project.requires_python}, but the runtime for {target.triple} would be "
                f"CPython {offers[0].python}: set --python or [tool.xbuild] python"
            )


def ceiling(options: BuildOptions, target: Target) -> resolve.Ceiling:
    """The newest floor a dependency's wheel may claim on `target`: the pinned floor, else the configured limit."""
    if target.os == "macos":
        return resolve.ceiling(target, options.macos, options.max_macos, f"macos {options.macos}, from [tool.xbuild] macos")
    return resolve.ceiling(target, options.glibc, options.max_glibc, f"glibc {options.glibc}, from [tool.xbuild] glibc or --glibc")


def check_entry_modules(project: Project, wheel_paths: list[Path], wheels: list[resolve.ResolvedWheel]) -> None:
    """Every entry point's module must be in the app (the project's wheel or a dependency's) or the stdlib."""
    modules: set[str] = set()
    for path in wheel_paths:
        modules |= resolve.wheel_modules(path)
    for entry in project.entry_points:
        if entry.module not in modules and entry.module.split(".")[0] not in sys.stdlib_module_names:
            raise BuildError(
                f"entry point {entry.name} = '{entry.module}:{entry.attr}': no module {entry.module} in the project's wheel "
                f"({wheels[0].file}) or its dependencies; fix [project.scripts] or the package layout"
            )


def check_static_runtime(runtime: Runtime, wheels: list[resolve.ResolvedWheel], wheel_paths: list[Path]) -> None:
    """A fully static interpreter (no libpython.so, no loader) cannot dlopen extension modules:
    an app whose wheels carry any stops here, naming them and the way out."""
    if runtime.libpython is None:
        _refuse_extension_modules(f"the {runtime.triple} runtime is a static interpreter (CPython {runtime.python} from {runtime.source})", wheels, wheel_paths)


def check_static_offer(offer: Offer, wheels: list[resolve.ResolvedWheel], wheel_paths: list[Path]) -> None:
    """The same refusal before a static interpreter is built (minutes of work it would not need)."""
    if offer.static:
        _refuse_extension_modules(f"the {offer.triple} runtime would be a static interpreter ({offer.what})", wheels, wheel_paths)


def _refuse_extension_modules(runtime: str, wheels: list[resolve.ResolvedWheel], wheel_paths: list[Path]) -> None:
    with_extensions = sorted(wheel.file for wheel, path in zip(wheels, wheel_paths, strict=True) if _has_extension_modules(path))
    if with_extensions:
        raise BuildError(
            f"{runtime}, which cannot load extension modules, and {len(with_extensions)} wheel(s) carry some: "
            f"{', '.join(with_extensions)}; build for the glibc target instead, or use pure-Python versions of these dependencies"
        )


def _has_extension_modules(wheel: Path) -> bool:
    with zipfile.ZipFile(wheel) as zf:
        return any(name.endswith(".so") or ".so." in name.rsplit("/", 1)[-1] for name in zf.namelist())
