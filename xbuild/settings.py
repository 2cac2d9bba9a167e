"""The process-wide settings that come from the environment, read once and passed in.

`xbuild.cli.main` builds one `Settings` from `os.environ` and installs it with
`configure()`; library modules ask `current()` instead of reading `os.environ` at
call time, so every step of a run sees the same values and a test or an embedding
program can pass its own. (Build options, `XBUILD_OFFLINE` among them, are resolved
by `xbuild.config.compute_options` from `xbuild/data/defaults.toml`.) Until something
is configured, `current()` reflects the process environment as it is.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CACHE_DIR_VAR = "XBUILD_CACHE_DIR"
ZIG_VAR = "XBUILD_ZIG"
PBS_MIRROR_VAR = "XBUILD_PBS_MIRROR"
PBS_PINS_VAR = "XBUILD_PBS_PINS"
DEBIAN_MIRROR_VAR = "XBUILD_DEBIAN_MIRROR"
SOURCE_DATE_EPOCH_VAR = "SOURCE_DATE_EPOCH"


@dataclass(frozen=True, kw_only=True)
class Settings:
    """What the environment says; None (or "") means "not set"."""

    cache_dir: Path  # XBUILD_CACHE_DIR, else $XDG_CACHE_HOME/xbuild, else ~/.cache/xbuild
    zig: Path | None  # XBUILD_ZIG: another zig binary of the pinned version
    pbs_mirror: str | None  # XBUILD_PBS_MIRROR: replaces the python-build-standalone release URL
    pbs_pins: Path | None  # XBUILD_PBS_PINS: another pbs.toml
    debian_mirror: str | None  # XBUILD_DEBIAN_MIRROR: another Debian mirror or a snapshot
    source_date_epoch: str | None  # SOURCE_DATE_EPOCH: the time stamped into release archives

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        def get(name: str) -> str | None:
            return env.get(name) or None

        override = get(CACHE_DIR_VAR)
        if override:
            cache_dir = Path(override).expanduser().resolve()
        else:
            xdg = get("XDG_CACHE_HOME")
            cache_dir = ((Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "xbuild").resolve()
        zig, pins = get(ZIG_VAR), get(PBS_PINS_VAR)
        return cls(
            cache_dir=cache_dir,
            zig=Path(zig).expanduser() if zig else None,
            pbs_mirror=get(PBS_MIRROR_VAR),
            pbs_pins=Path(pins) if pins else None,
            debian_mirror=get(DEBIAN_MIRROR_VAR),
            source_date_epoch=get(SOURCE_DATE_EPOCH_VAR),
        )


_configured: Settings | None = None


def configure(settings: Settings | None) -> None:
    """Install the settings every later `current()` returns (None: follow the environment again)."""
    global _configured
    _configured = settings


def current() -> Settings:
    """The configured settings, else the process environment's as of now."""
    return _configured if _configured is not None else Settings.from_env(os.environ)
