"""The `xbuild` command line: argv in, one-line errors and exit codes out.

This package is the only place that knows about argv and printing. Each module
registers its sub-commands; the work happens in library modules that raise
`XbuildError`s, which become `xbuild: error: ...` here, and log through `logging`,
which is printed as `xbuild: ...` on stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from xbuild import __version__, settings, workers
from xbuild.cli import audit, build, host, lock, runtime, sysroot
from xbuild.errors import ExitCode, XbuildError, exit_codes_help

_MAIN_EPILOG = """\
examples:
  xbuild build -t x86_64-pc-windows-msvc -t linux-aarch64
                                         build the project here for two targets (also: xbuild --target ...)
  xbuild lock                            pin every target's wheels in pylock.toml (PEP 751)
  xbuild run -t linux-aarch64 -- --help  run a built artifact (natively, qemu-user or wine64)
  xbuild audit dist/*/ some.whl          glibc symbol versions, DLL imports, macOS minimum per file
  xbuild targets                         every target, its zig target and libc floor
  xbuild doctor                          what this host has (zig, wine64, qemu-user) and lacks
  xbuild runtime fetch -t win_amd64 --python 3.11
                                         a pinned, verified CPython for a target
  xbuild toolchain prewarm -t win_amd64  build zig's libc for a target ahead of time
  xbuild cc -t linux-aarch64 -- -O2 -o hello hello.c
                                         cross-compile C with the pinned zig

Targets are python-build-standalone triples (x86_64-pc-windows-msvc, aarch64-unknown-linux-gnu,
aarch64-apple-darwin, ...) or aliases (win_amd64, linux-aarch64, macos-arm64, ...).
Environment: XBUILD_CACHE_DIR (cache location), XBUILD_ZIG (another zig of the pinned version),
XBUILD_PBS_MIRROR, XBUILD_DEBIAN_MIRROR (mirrors, file:// too), XBUILD_OFFLINE=1 (cache only).
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xbuild",
        description="Build standalone Python application executables for Linux, Windows and macOS from one Linux host.",
        epilog=_MAIN_EPILOG + "\n" + exit_codes_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"xbuild {__version__}")
    parser.add_argument("--debug", action="store_true", help="show a traceback when something fails")
    parser.add_argument("-q", "--quiet", action="store_true", help="print warnings and errors only")
    build.add_build_options(parser)  # `xbuild --target T` is `xbuild build --target T`
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    build.register(sub)
    lock.register(sub)
    audit.register(sub)
    host.register(sub)
    runtime.register(sub)
    sysroot.register(sub)
    return parser


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prefix = "xbuild: warning: " if record.levelno >= logging.WARNING else "xbuild: "
        return prefix + record.getMessage()


def _configure_logging(quiet: bool, debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    handler.addFilter(workers.TargetPrefix())  # targets built side by side: each line says whose it is
    root = logging.getLogger("xbuild")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO)
    root.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after the first `--` belongs to the program xbuild runs (zig, the app).
    head, passthrough = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    args = parser.parse_args(head)
    args.passthrough = passthrough
    # The environment is read here, once, and passed in: settings for every module, env for the options cascade.
    args.env = dict(os.environ)
    settings.configure(settings.Settings.from_env(args.env))
    if args.command is None:
        if not args.targets:
            parser.print_help()
            return ExitCode.USAGE
        args.handler, args.project = build.cmd_build, Path(".")
    _configure_logging(args.quiet, args.debug)
    try:
        return int(args.handler(args))
    except XbuildError as e:
        if args.debug:
            traceback.print_exc()
        message = " ".join(str(e).split())  # one line, whatever the cause's text was
        print(f"xbuild: error: {message}", file=sys.stderr)
        return int(e.exit_code)
    except KeyboardInterrupt:
        print("xbuild: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
