"""Find the data files that ship with xbuild, from a wheel or from a source checkout.

Pins (toolchains/), sysroot recipes (sysroots/), launcher sources (runtime/) and the
wine stand-ins' sources (winestubs/) live at the top of the repository so people find them; wheels carry them inside the
package under `_shipped/` (see pyproject.toml). Package-internal tables live in
`xbuild/data/`.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from xbuild.errors import XbuildError

_PACKAGE = Path(__file__).resolve().parent


def package_data(name: str) -> Path:
    """A file in `xbuild/data/`."""
    return _PACKAGE / "data" / name


def shipped(top: str) -> Path:
    """One of the top-level data folders (`toolchains`, `sysroots`, `runtime`, `winestubs`)."""
    in_wheel = _PACKAGE / "_shipped" / top
    return in_wheel if in_wheel.is_dir() else _PACKAGE.parent / top


@cache
def load_toml(path: Path) -> dict[str, Any]:
    """Parse a data file once per process; a broken one is a one-line error naming it."""
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise XbuildError(f"cannot read {path}: {e}") from e
