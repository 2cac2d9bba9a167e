"""`xbuild build` (also plain `xbuild --target ...`) and `xbuild run`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from xbuild import build, config, console, runner, targets
from xbuild.audit import report
from xbuild.cli.common import add_target_option, subparser
from xbuild.errors import CannotRunError, ConfigError, UsageError
from xbuild.runtimes import debian

_BUILD_EPILOG = """\
examples:
  xbuild build                                 every target in [tool.xbuild] targets (default: this host)
  xbuild build -t x86_64-pc-windows-msvc       one target
  xbuild --target win_amd64 --target linux-aarch64
  xbuild build examples/yamldigest -t all --python 3.11
  xbuild build --audit warn --output-dir out

Writes dist/<name>-<version>-<triple>/ (launchers, runtime/, app/) and a .zip (Windows) or
.tar.gz next to it. With --onefile (or onefile = true) also
dist/<name>-<version>-<triple>-onefile/<script>: single executables that need no folder. Configure defaults in pyproject.toml:

  [tool.xbuild]
  targets = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu", "x86_64-pc-windows-msvc"]
  python = "3.11"
  runtime-sources = ["local", "pbs", "pypi", "debian"]
  exclude = ["*/unittest"]           # trimmed from the runtime, besides tests, idlelib, ...
  optimize = 0                       # bytecode level
  audit = "strict"                   # or "warn"
  max-glibc = "2.28"                 # newest glibc a dependency's wheel may need (default: newest manylinux)
  glibc = "2.17"                     # pin the floor instead: resolution and audit stay under it
"""

_RUN_EPILOG = """\
examples:
  xbuild run -t linux-aarch64 -- --info                 (under qemu-aarch64)
  xbuild run -t win_amd64 -- --text "a: 1"              (under wine64)
  xbuild run dist/yamldigest-1.0.0-x86_64-unknown-linux-gnu --entry yamldigest -- --info
  xbuild run --onefile -t linux-aarch64 -- --info      (the one-file executable, under qemu-aarch64)

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
    p.add_argument("--glibc", help="pin the glibc floor (e.g. 2.17): no wheel needing more is chosen, the audit enforces it; overrides [tool.xbuild] glibc")
    p.add_argument("--macos", help="pin the macOS minimum (e.g. 11.0), as --glibc does; overrides [tool.xbuild] macos")
    p.add_argument("--max-glibc", help="the newest glibc a dependency's wheel may need (default: the newest manylinux policy); overrides [tool.xbuild] max-glibc")
    p.add_argument("--max-macos", help="the newest macOS a dependency's wheel may need; overrides [tool.xbuild] max-macos")
    p.add_argument("--offline", action="store_true", default=None, help="use cached runtimes and locked wheels only: no network")
    p.add_argument("--locked", action="store_true", default=None, help="fail unless pylock.toml is there and current (see `xbuild lock`)")
    p.add_argument("--jobs", "-j", type=int, help="how many targets to build at once (default: one per core)")
    p.add_argument("--no-binary", action="append", dest="build_from_source", metavar="PKG", help="build PKG from its sdist for each target (:all: for every dependency); overrides [tool.xbuild] build-from-source")
    p.add_argument(
        "--onefile", action="store_true", default=None,
        help="also write dist/<name>-<version>-<triple>-onefile/<script>: one self-contained executable per entry point (Linux glibc targets)",
    )  # fmt: skip


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
    p.add_argument("--onefile", action="store_true", help="run the one-file executable (dist/NAME-VERSION-TRIPLE-onefile/) instead of the folder's launcher")
    p.set_defaults(handler=cmd_run)


def _options(args: argparse.Namespace, project_dir: Path) -> tuple[config.Project, config.BuildOptions]:
    project, options = config.load(project_dir, env=args.env, flags=vars(args))
    if not options.targets:
        host = targets.host()
        if host is None:
            raise UsageError("no targets: name them with --target or [tool.xbuild] targets")
        options = options.override(targets=(host,))
    return project, options


project_options = _options  # `xbuild lock` reads a project the way `xbuild build` does


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
        if not args.folder.is_dir():
            raise UsageError(f"{args.folder} is not a folder: give a built artifact's folder, e.g. dist/NAME-VERSION-TRIPLE")
        return Path(args.folder)
    ask = "give the artifact's folder (xbuild run dist/NAME-VERSION-TRIPLE) or run inside the project that built it"
    if not (args.project / "pyproject.toml").is_file():
        raise UsageError(f"no artifact given and {args.project.resolve()} is not a project (no pyproject.toml): {ask}")
    try:
        project, options = config.load(args.project)
    except ConfigError as e:
        raise UsageError(f"no artifact given and {args.project.resolve()} is not an xbuild project: {ask} ({e})") from None
    target = targets.get(args.target) if args.target else (options.targets[0] if options.targets else targets.host())
    if target is None:
        raise UsageError("name the artifact: xbuild run FOLDER, or --target T in a project")
    if project.version is None:  # dynamic: the newest artifact built for the target
        built = [p.parent for p in options.output_dir.glob(f"{project.dist_name}-*-{target.triple}/{build.RECORD}")]
        folder = max(built, key=lambda p: p.stat().st_mtime) if built else options.output_dir / f"{project.dist_name}-VERSION-{target.triple}"
    else:
        folder = options.output_dir / build.artifact_name(project, target)
    if getattr(args, "onefile", False):
        folder = folder.with_name(folder.name + "-onefile")
    if not folder.is_dir():
        raise UsageError(f"{folder} does not exist: run `xbuild build -t {target.triple}` first")
    return folder


def _read_record(folder: Path) -> tuple[targets.Target, list[str]]:
    """The target and entry points an artifact's record names; a damaged record is one UsageError."""
    path = folder / build.RECORD
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{folder} is not an xbuild artifact (it has no {build.RECORD}): give a folder `xbuild build` wrote") from None
    except (OSError, ValueError) as e:
        raise UsageError(f"{path} is damaged ({e}): build the artifact again with `xbuild build`") from None
    triple = record.get("target") if isinstance(record, dict) else None
    entries = record.get("entry_points") if isinstance(record, dict) else None
    if not isinstance(triple, str) or not isinstance(entries, dict) or not entries or not all(_plain_name(e) for e in entries):
        raise UsageError(f"{path} is damaged (no target or entry points in it): build the artifact again with `xbuild build`")
    try:
        target = targets.get(triple)
    except UsageError:
        raise UsageError(f"{path} is damaged (unknown target {triple!r}): build the artifact again with `xbuild build`") from None
    return target, list(entries)


def _plain_name(name: object) -> bool:
    """A launcher's file name: no folders, nothing that climbs out of the artifact."""
    return isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name


def cmd_run(args: argparse.Namespace) -> int:
    folder = _find_folder(args)
    target, entries = _read_record(folder)
    entry = args.entry or entries[0]
    if entry not in entries:
        raise UsageError(f"{folder.name} has no entry point {entry!r}: it has {', '.join(entries)}")
    exe = folder / f"{entry}{target.exe_suffix}"
    if not exe.is_file():
        raise UsageError(f"{exe} is missing from the artifact: build it again with `xbuild build -t {target.triple}`")
    lib_root = None
    if target.os == "linux" and target.libc == "glibc" and runner.invocation(target, [str(exe)]).how == "qemu":
        lib_root = debian.libc_root(target)
    inv = runner.invocation(target, [str(exe.resolve()), *args.passthrough], lib_root=lib_root)
    try:
        return runner.run_attached(inv)
    except OSError as e:
        raise CannotRunError(f"cannot start {exe} ({e.strerror or e}): check that it is executable and built for {target.triple}") from None
