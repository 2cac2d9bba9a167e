"""Hosts that could not be reached lately, remembered across xbuild processes.

A host whose name does not resolve (GitHub from a sandboxed CI runner, say) fails
the same way on the next build a minute later; every build paying for the attempt
and printing it is noise. The time of the failure is kept in the cache for
`XBUILD_UNREACHABLE_TTL` seconds (default 600; 0 forgets at once), and downloads
from that host fail at once with a message saying so.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from xbuild import cache

TTL_VAR = "XBUILD_UNREACHABLE_TTL"
DEFAULT_TTL = 600.0


def _file() -> Path:
    return cache.root() / "state" / "unreachable-hosts.json"


def ttl() -> float:
    """Seconds a failure is remembered; a bad value falls back to the default."""
    try:
        return max(0.0, float(os.environ.get(TTL_VAR, DEFAULT_TTL)))
    except ValueError:
        return DEFAULT_TTL


def _load() -> dict[str, float]:
    try:
        data = json.loads(_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, (int, float))} if isinstance(data, dict) else {}


def seconds_since_failure(host: str) -> float | None:
    """How long ago `host` was found unreachable, if that is still remembered."""
    when = _load().get(host)
    if when is None:
        return None
    age = time.time() - when
    return age if 0 <= age < ttl() else None


def remember(host: str) -> None:
    """Record that `host` could not be reached now (best effort: a read-only cache just forgets)."""
    now = time.time()
    kept = {h: t for h, t in _load().items() if 0 <= now - t < max(ttl(), DEFAULT_TTL)}
    kept[host] = now
    try:
        cache.write_atomic(_file(), json.dumps(kept, indent=1, sort_keys=True))
    except OSError:
        pass

