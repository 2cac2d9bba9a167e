"""`xbuild lock`: one PEP 751 pylock.toml for every target of the project."""

from __future__ import annotations

import argparse
from pathlib import Path

from xbuild import console
from xbuild.cli.build import add_build_options, project_options
from xbuild.cli.common import subparser
from xbuild.lock import create

_LOCK_EPILOG = """\
examples:
  xbuild lock                                  lock every target in [tool.xbuild] targets
  xbuild lock examples/yamldigest              another project's folder
  xbuild lock --upgrade                        move every package to its newest fitting version
  xbuild lock examples/yamldigest --upgrade pyyaml
                                               move one package, keep the others
  xbuild build --locked                        then: fail unless the lock is there and current
  xbuild build --offline                       build from the lock and the cache, no network

Writes pylock.toml (PEP 751) next to pyproject.toml: per package its version and every
wheel chosen for any target, with URL, size and sha256, and a marker where only some
targets need it; the project's build backend is locked in [tool.xbuild]. `xbuild build`
then resolves nothing while the lock is current, and says why when it is stale.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparser(sub, "lock", "resolve the project's dependencies for every target into pylock.toml (PEP 751)", _LOCK_EPILOG)
    p.add_argument("project", nargs="?", type=Path, default=Path("."), help="the project folder (default: here)")
    p.add_argument("--upgrade", nargs="*", metavar="PACKAGE", help="move these packages (all, if none named) instead of keeping the locked versions")
    add_build_options(p)
    p.set_defaults(handler=cmd_lock)


def cmd_lock(args: argparse.Namespace) -> int:
    project, options = project_options(args, args.project)
    result = create.create(project, options, upgrade=args.upgrade)
    rows = [(name, version, targets, str(wheels)) for name, version, targets, wheels in result.rows]
    print(console.table(("PACKAGE", "VERSION", "TARGETS", "WHEELS"), rows))
    state = "wrote" if result.changed else "unchanged:"
    print(f"{state} {result.path} (sha256 {result.sha256}); build backend: {', '.join(result.backend) or 'none'}")
    return 0
