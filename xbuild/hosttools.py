"""Programs on this host that run foreign binaries: qemu-user and wine64.

Found on PATH first, then where Debian installs them (wine64 lives in
/usr/lib/wine and is not always linked onto PATH).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from xbuild.targets import Target

_WINE_CANDIDATES = ("wine64", "/usr/lib/wine/wine64", "wine")


def find_wine() -> Path | None:
    """A wine that runs 64-bit Windows programs, or None."""
    for name in _WINE_CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def find_qemu(target: Target) -> Path | None:
    """The qemu-user binary for the target's CPU, or None (or if the target has none)."""
    if target.qemu is None:
        return None
    found = shutil.which(target.qemu)
    return Path(found) if found else None
