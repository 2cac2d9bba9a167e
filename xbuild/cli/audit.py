"""`xbuild audit`: check binaries, folders, wheels and built artifacts against a target's policy."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from xbuild import console, targets
from xbuild.audit import policy, report
from xbuild.audit.check import AuditResult
from xbuild.audit.inputs import audit_path
from xbuild.audit.vocab import EXIT_ERRORS, EXIT_OK, EXIT_VIOLATIONS
from xbuild.cli.common import add_target_option, subparser
from xbuild.errors import UsageError

_EPILOG = f"""\
examples:
  xbuild audit dist/myapp-1.0-x86_64-unknown-linux-gnu      a built artifact (target from its record)
  xbuild audit some_wheel-cp311-cp311-win_amd64.whl        a wheel (target from its platform tag)
  xbuild audit some.whl -t linux-x86_64 --glibc 2.28      a wheel for a target, with a pinned glibc floor
  xbuild audit build/libfoo.so --target linux-aarch64 --policy manylinux_2_28
  xbuild audit dist/*/ --report-dir reports --json

Every executable, shared library and extension module is read (ELF, PE, Mach-O); each
dependency must be inside the input or an allowed system library (Windows: also in a
folder the package's own code adds with os.add_dll_directory, such as delvewheel's
<pkg>.libs), symbol versions, auditwheel's blacklisted symbols, the C library (glibc or
musl) and the macOS minimum of the slice the target loads must fit the policy.

The verdict is always against the TARGET's policy: its floor (x86_64-unknown-linux-gnu:
glibc 2.17, aarch64-apple-darwin: macOS 11.0), or what you pin with --glibc/--policy/
--macos. Without --target, a wheel's platform tag only picks the target (universal2:
the arm64 one); its floor still comes from the target, so a manylinux_2_28 wheel FAILS
against the default 2.17 floor unless you pass --glibc 2.28. Whether a wheel's files
honour its own tag is a separate line ("claims manylinux_2_28, needs glibc 2.28:
consistent") that does not change the exit code. For Windows the effective minimum is
derived from the files' headers and imports and the runtime's documented support.

Exit code: {EXIT_OK} clean, {EXIT_VIOLATIONS} violations, {EXIT_ERRORS} unreadable input or bad usage.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparser(sub, "audit", "check binaries against a target's glibc/Windows/macOS policy", _EPILOG)
    p.add_argument("paths", nargs="+", type=Path, help="files, folders, .whl/.zip/.tar.gz archives or built artifacts")
    add_target_option(p, many=False, required=False)
    p.add_argument("--glibc", help="glibc floor to enforce instead of the target's (2.28)")
    p.add_argument("--policy", help="the glibc floor as a manylinux policy name (manylinux_2_28, manylinux2014)")
    p.add_argument("--macos", help="macOS minimum to enforce instead of the target's (12.0)")
    p.add_argument("--json", action="store_true", help="print report.json documents instead of the summary")
    p.add_argument("--report-dir", type=Path, help="write report.json and report.md per input into this folder")
    p.set_defaults(handler=cmd_audit)


def _report_names(paths: list[Path]) -> list[str]:
    """One report file prefix per input; inputs with the same file name get -2, -3, ..."""
    if len(paths) == 1:
        return [""]
    seen: dict[str, int] = {}
    names = []
    for path in paths:
        seen[path.name] = seen.get(path.name, 0) + 1
        names.append(f"{path.name}." if seen[path.name] == 1 else f"{path.name}-{seen[path.name]}.")
    return names


def _check_report_dir(folder: Path | None) -> None:
    if folder is not None and folder.exists() and not folder.is_dir():
        raise UsageError(f"--report-dir {folder} is a file, not a folder: name a folder (it is created if missing)")


def cmd_audit(args: argparse.Namespace) -> int:
    target = targets.get(args.target) if args.target else None
    if args.glibc and args.policy:
        raise UsageError("give --glibc or --policy, not both: they pin the same glibc floor")
    glibc = policy.parse_glibc(args.glibc) if args.glibc else policy.parse_policy_name(args.policy) if args.policy else None
    _check_report_dir(args.report_dir)
    results: list[tuple[Path, AuditResult]] = [(path, audit_path(path, target, glibc=glibc, macos=args.macos)) for path in args.paths]
    labels = [str(p) if [q.name for q in args.paths].count(p.name) > 1 else p.name for p in args.paths]
    if args.report_dir:
        for (_path, result), prefix, label in zip(results, _report_names(args.paths), labels, strict=True):
            report.write(result, args.report_dir / f"{prefix}report.json", args.report_dir / f"{prefix}report.md", title=label)
    if args.json:
        docs = [{"input": str(path), **report.to_json(result)} for path, result in results]
        print(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2))
    else:
        rows = [(label, *report.summary_row(result)) for label, (_, result) in zip(labels, results, strict=True)]
        print(console.table(("INPUT", "TARGET", "POLICY", "EFFECTIVE FLOOR", "VIOLATIONS", "VERDICT"), rows))
        for label, (_, result) in zip(labels, results, strict=True):
            if (line := report.floor_line(result)) is not None and result.context.target.os == "windows":
                print(f"  {label}: {line}")
            if result.claim is not None:
                print(f"  {label}: {result.claim.sentence()}")
            for v in result.violations:
                print(f"  {label}: {v.sentence()}")
            for f in result.errors:
                print(f"  {label}: unreadable {f.path}: {f.error}")
            for note in result.notes:
                print(f"  {label}: note: {note}")
    return max(result.exit_code for _, result in results)
