#!/usr/bin/env python3
"""Re-lock the sources of from-source CPython runtimes against Debian's archive today.

Reads each recipe's `[source]` table (xbuild/cpython/recipes/*.toml), resolves it in
the Sources index of the suite (InRelease checked with gpgv), fetches each .dsc and
checks it lists the orig tarball, then fetches every orig tarball so its hash is
known to be served. Writes toolchains/cpython-sources.lock.json.
Usage: python toolchains/lock_cpython_sources.py [--mirror URL]
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from xbuild import debian
from xbuild.cpython import sources

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default=sources.MIRROR)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    lock = sources.make_lock(args.mirror)
    for name, pkg in lock.packages.items():
        debian.fetch_source(pkg, lock.mirror)
        print(f"{name:10} {pkg.package} {pkg.version}  {pkg.orig.name}  sha256 {pkg.orig.sha256[:16]}")
    (HERE / sources.LOCK_NAME).write_text(json.dumps(lock.to_json(), indent=1, sort_keys=True) + "\n")
    print(f"InRelease: {', '.join(f'{p.suite} {p.signature}' for p in lock.indexes.values())}; wrote {sources.LOCK_NAME}")


if __name__ == "__main__":
    main()
