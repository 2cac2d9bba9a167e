"""Locked dependencies: one PEP 751 `pylock.toml` for every target of a project.

`xbuild lock` resolves the project's dependencies for each target with the same
resolver a build uses (xbuild/resolve.py), and writes what it chose as a standard
PEP 751 lock (`document.py`): per package its version, every wheel chosen for any
target with URL, size and sha256, and an environment marker when only some
targets need it. What the lock was made from (the project's requirements, its
build backend, the targets and their wheel ceilings) sits in the lock's
`[tool.xbuild]` table (`inputs.py`), so a build can tell a current lock from a
stale one. The project's build backend is locked too (`backend.py`), so with a
warm cache a build needs no network at all.

Modules, one job each:
- `document.py`: read and write the file, validated by `packaging.pylock` both ways;
- `inputs.py`: what a lock depends on, and how a project differs from it;
- `create.py`: resolve every target and compose the lock;
- `backend.py`: the project's build backend, locked, installed once into the cache;
- `plan.py`: what a build uses: the lock when it is current, else the resolver.
"""

from __future__ import annotations

LOCK_FILE = "pylock.toml"
