"""CPython runtimes for targets: pinned sources tried in order, one verified copy in the cache.

`fetch()` is the entry point: it asks each configured source (see
`toolchains/runtimes.toml`) for a pinned build of the requested Python for the
target, falls through to the next source only when one is unreachable or lacks the
file, and never when bytes fail their hash.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from packaging.version import InvalidVersion

from xbuild import versions
from xbuild.errors import (
    ExitCode,
    HostUnreachableError,
    OfflineError,
    RuntimeSourceError,
    SourceUnavailableError,
    UsageError,
)
from xbuild.resources import load_toml, shipped
from xbuild.runtimes import debian, local, pbs, pypi, source, store
from xbuild.runtimes.model import Runtime
from xbuild.runtimes.offer import Offer, RuntimeSource
from xbuild.runtimes.store import published
from xbuild.targets import Target

log = logging.getLogger(__name__)

# Every runtime source by name: a new source is one module implementing RuntimeSource, added here.
SOURCES: dict[str, RuntimeSource] = {"local": local, "pbs": pbs, "pypi": pypi, "source": source, "debian": debian}
# Sources whose host could not be reached in this process: not retried for every target.
_UNREACHABLE: dict[str, str] = {}


def default_order() -> list[str]:
    return list(load_toml(shipped("toolchains") / "runtimes.toml")["order"])


def check_sources(names: Sequence[str]) -> list[str]:
    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        raise UsageError(f"unknown runtime source {', '.join(map(repr, unknown))}: choose from {', '.join(SOURCES)}")
    return list(names)


def check_python(python: str | None) -> None:
    """A --python value must be a version (3.11, 3.11.9, 3.15.0b1) before it is compared with pins."""
    if python is None:
        return
    try:
        versions.python(python)
    except InvalidVersion:
        raise UsageError(f"{python!r} is not a Python version: give one such as 3.11 or 3.11.9") from None


def offers(target: Target | None = None, python: str | None = None, sources: Sequence[str] | None = None) -> list[Offer]:
    """Every pinned runtime the sources have for the target and Python version."""
    check_python(python)
    return [o for name in check_sources(sources or default_order()) for o in SOURCES[name].offers(target, python)]


def fetch(
    target: Target,
    python: str,
    *,
    sources: Sequence[str] | None = None,
    offline: bool = False,
    before_install: Callable[[Offer], None] | None = None,
) -> Runtime:
    """A published runtime for `target`, from the first source that can provide it.

    `before_install` sees each offer about to be downloaded or built (not one already in
    the cache), so a caller can refuse it before minutes of work; what it raises stops the search.
    """
    order = check_sources(sources or default_order())
    check_python(python)
    failures: list[str] = []
    network = False  # whether a source failed for want of the network (then that is the exit code)
    pending_warning = None  # a source that failed, reported once the next one is tried
    for name in order:
        candidates = SOURCES[name].offers(target, python)
        if not candidates:
            failures.append(f"{name} has no pin")
            continue
        offer = candidates[0]
        if name in _UNREACHABLE and not published(target, offer.key):
            failures.append(f"{name}: {_UNREACHABLE[name]}")
            continue
        if pending_warning:
            log.warning("%s; trying %s", pending_warning, name)
            pending_warning = None
        if (found := published(target, offer.key)) and store.discard_if_damaged(found):
            return found
        if before_install is not None:
            before_install(offer)
        try:
            return SOURCES[name].install(offer, target, offline=offline)
        except (SourceUnavailableError, OfflineError) as e:
            failures.append(f"{name}: {e}")
            network = True
            pending_warning = f"runtime source {name} failed: {e}"
            if isinstance(e, HostUnreachableError):
                _UNREACHABLE[name] = str(e)
    error = RuntimeSourceError(f"no runtime source could provide CPython {python} for {target.triple}: {'; '.join(failures)}")
    if network:
        error.exit_code = ExitCode.NETWORK
    raise error
