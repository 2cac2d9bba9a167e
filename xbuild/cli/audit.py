"""`xbuild audit`: check binaries, folders, wheels and built artifacts against a target's policy."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from xbuild import console, targets
from xbuild.audit import policy, report
from xbuild.audit.inputs import audit_path
from xbuild.cli.common import add_target_option, subparser

_EPILOG = """\
examples:
  xbuild audit dist/myapp-1.0-x86_64-unknown-linux-gnu      a built artifact (target from its record)
  xbuild audit some_wheel-cp311-cp311-win_amd64.whl        a wheel (target and floor from its tags)
  xbuild audit build/libfoo.so --target linux-aarch64 --policy manylinux_2_28
  xbuild audit dist/*/ --report-dir reports --json

Every executable, shared library and extension module is read (ELF, PE, Mach-O); each
dependency must be inside the input or an allowed system library, symbol versions and
minimum OS versions must not exceed the policy's. Exit code: 0 clean, 1 violations,
2 unreadable input.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparser(sub, "audit", "check binaries against a target's glibc/Windows/macOS policy", _EPILOG)
    p.add_argument("paths", nargs="+", type=Path, help="files, folders, .whl/.zip/.tar.gz archives or built artifacts")
    add_target_option(p, many=False, required=False)
    p.add_argument("--policy", help="glibc policy to enforce instead of the target's (manylinux_2_28, manylinux2014)")
    p.add_argument("--macos", help="macOS minimum to enforce instead of the target's (12.0)")
    p.add_argument("--json", action="store_true", help="print report.json documents instead of the summary")
    p.add_argument("--report-dir", type=Path, help="write report.json and report.md per input here")
    p.set_defaults(handler=cmd_audit)


def cmd_audit(args: argparse.Namespace) -> int:
    target = targets.get(args.target) if args.target else None
    glibc = policy.parse_policy_name(args.policy) if args.policy else None
    results = [(path, audit_path(path, target, glibc=glibc, macos=args.macos)) for path in args.paths]
    if args.report_dir:
        for path, result in results:
            prefix = f"{path.name}." if len(results) > 1 else ""
            report.write(result, args.report_dir / f"{prefix}report.json", args.report_dir / f"{prefix}report.md", title=path.name)
    if args.json:
        docs = [{"input": str(path), **report.to_json(result)} for path, result in results]
        print(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2))
    else:
        rows = [(path.name, *report.summary_row(result)) for path, result in results]
        print(console.table(("INPUT", "TARGET", "POLICY", "EFFECTIVE FLOOR", "VIOLATIONS", "VERDICT"), rows))
        for path, result in results:
            for v in result.violations:
                print(f"  {path.name}: {v.sentence()}")
            for f in result.errors:
                print(f"  {path.name}: unreadable {f.path}: {f.error}")
    return max(result.exit_code for _, result in results)
