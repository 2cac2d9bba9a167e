#!/usr/bin/env python3
"""Re-lock the Debian-sourced CPython runtime against today's index.

Resolves toolchains/debian.toml's package lists for every architecture it serves and
writes the lock next to it (InRelease -> Packages -> each .deb, all by sha256).
Usage: python toolchains/lock_debian.py [PART ...]   (parts: runtime, libc; default both —
naming one re-locks only it and keeps the other's pins as they are)
"""

from __future__ import annotations

import json
import logging
import sys
import tomllib
from pathlib import Path

from xbuild import debian, targets

HERE = Path(__file__).resolve().parent


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    recipe = tomllib.loads((HERE / "debian.toml").read_text())
    parts = sys.argv[1:] or ["runtime", "libc"]
    lock_file = HERE / recipe["lock"]
    out: dict[str, dict[str, object]] = json.loads(lock_file.read_text()) if lock_file.exists() else {}
    for part in parts:
        out[part] = {}
    for triple in recipe["triples"]:
        arch = targets.get(triple).debian
        assert arch, triple
        for part in parts:
            lock = debian.lock_packages(recipe["mirror"], recipe["suite"], arch, recipe[part]["roots"], recipe[part]["exclude"])
            out[part][arch] = lock.to_json()
            print(f"{part} {arch}: {len(lock.packages)} packages, InRelease {lock.signature}")
    lock_file.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
