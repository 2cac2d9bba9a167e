"""`xbuild build` (also plain `xbuild --target ...`) and `xbuild run`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from xbuild import build, config, console, runner, targets
from xbuild.audit import report
from xbuild.cli.common import add_target_option, subparser
from xbuild.errors import UsageError
from xbuild.runtimes import debian

_BUILD_EPILOG = """\
examples:
  xbuild build                                 every target in [tool.xbuild] targets (default: this host)
  xbuild build -t x86_64-pc-windows-msvc       one target
  xbuild --target win_amd64 --target linux-aarch64
  xbuild build examples/yamldigest -t all --python 3.11
  xbuild build --audit warn --output-dir out

Writes dist/<name>-<version>-<triple>/ (launchers, runtime/, app/) and a .zip (Windows) or
.tar.gz next to it. Configure defaults in pyproject.toml:

  [tool.xbuild]
  targets = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu", "x86_64-pc-windows-msvc"]
  python = "3.11"
  runtime-sources = ["local", "pbs", "pypi", "debian"]
  exclude = ["*/unittest"]           # trimmed from the runtime, besides tests, idlelib, ...
  optimize = 0                       # bytecode level
  audit = "strict"                   # or "warn"
"""

_RUN_EPILOG = """\
examples:
  xbuild run -t linux-aarch64 -- --info                 (under qemu-aarch64)
  xbuild run -t win_amd64 -- --text "a: 1"              (under wine64)
  xbuild run dist/yamldigest-1.0.0-x86_64-unknown-linux-gnu --entry yamldigest -- --info

Runs an artifact natively, under qemu-user (with the target's own glibc from Debian as its
library root) or under wine64 (in a prefix under xbuild's cache), and exits with its exit code.
"""


def add_build_options(p: argparse.ArgumentParser) -> None:
    add_target_option(p, many=True, required=False)
    p.add_argument("--python", help='Python version for the runtime ("3.11"); overrides [tool.xbuild] python')
    p.add_argument("--source", action="append", dest="runtime_sources", metavar="SOURCES", help="runtime sources to try, in order (local, pbs, pypi, debian)")
    p.add_argument("--output-dir", type=Path, help="where artifacts go (default: dist/ in the project)")
    p.add_argument("--optimize", type=int, choices=[0, 1, 2], help="bytecode optimization level")
    p.add_argument("--audit", choices=["strict", "warn"], help="fail the build on audit violations, or only warn")
    p.add_argument("--glibc", help="glibc floor the audit enforces and never raises (e.g. 2.17); overrides [tool.xbuild] glibc")
    p.add_argument("--offline", action="store_true", default=None, help="use cached runtimes only")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparser(sub, "build", "build standalone executables of a project for one or more targets", _BUILD_EPILOG)
    p.add_argument("project", nargs="?", type=Path, default=Path("."), help="the project folder (default: here)")
    add_build_options(p)
    p.set_defaults(handler=cmd_build)

    p = subparser(sub, "run", "run a built artifact here: natively, under qemu-user or wine64", _RUN_EPILOG)
    p.add_argument("folder", nargs="?", type=Path, help="an artifact folder (default: the project's for --target)")
    add_target_option(p, many=False, required=False)
    p.add_argument("--entry", help="which launcher, when the app has several")
    p.add_argument("--project", type=Path, default=Path("."), help="the project folder, to find its dist/ (default: here)")
    p.set_defaults(handler=cmd_run)


def _options(args: argparse.Namespace, project_dir: Path) -> tuple[config.Project, config.BuildOptions]:
    project, options = config.load(project_dir, env=args.env, flags=vars(args))
    if not options.targets:
        host = targets.host()
        if host is None:
            raise UsageError("no targets: name them with --target or [tool.xbuild] targets")
        options = options.override(targets=(host,))
    return project, options


def cmd_build(args: argparse.Namespace) -> int:
    project, options = _options(args, args.project)
    artifacts = build.build(project, options)
    rows = []
    for a in artifacts:
        size = sum(p.stat().st_size for p in a.folder.rglob("*") if p.is_file() and not p.is_symlink())
        _, policy, floor, violations, verdict = report.summary_row(a.audit)
        runtime = f"CPython {a.runtime.python} ({a.runtime.source})"
        rows.append((a.target.triple, runtime, policy, floor, violations, verdict, f"{size / 2**20:.1f} MiB", a.archive.name))
    print(console.table(("TARGET", "RUNTIME", "POLICY", "EFFECTIVE FLOOR", "VIOLATIONS", "AUDIT", "FOLDER", "ARCHIVE"), rows))
    return 0


def _find_folder(args: argparse.Namespace) -> Path:
    if args.folder:
        folder: Path = args.folder
        return folder
    project, options = config.load(args.project)
    target = targets.get(args.target) if args.target else (options.targets[0] if options.targets else targets.host())
    if target is None:
        raise UsageError("name the artifact: xbuild run FOLDER, or --target T in a project")
    folder = options.output_dir / build.artifact_name(project, target)
    if not folder.is_dir():
        raise UsageError(f"{folder} does not exist: run `xbuild build -t {target.triple}` first")
    return folder


def cmd_run(args: argparse.Namespace) -> int:
    folder = _find_folder(args)
    try:
        record = json.loads((folder / build.RECORD).read_text())
    except (OSError, ValueError):
        raise UsageError(f"{folder} is not an xbuild artifact (no readable {build.RECORD})") from None
    target = targets.get(record["target"])
    entries = list(record["entry_points"])
    entry = args.entry or entries[0]
    if entry not in entries:
        raise UsageError(f"{folder.name} has no entry point {entry!r}: it has {', '.join(entries)}")
    exe = folder / f"{entry}{target.exe_suffix}"
    lib_root = None
    if target.os == "linux" and target.libc == "glibc" and runner.invocation(target, [str(exe)]).how == "qemu":
        lib_root = debian.libc_root(target)
    inv = runner.invocation(target, [str(exe.resolve()), *args.passthrough], lib_root=lib_root)
    return runner.run_attached(inv)
