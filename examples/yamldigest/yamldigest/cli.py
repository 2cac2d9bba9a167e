"""Read YAML (a file, or text given with --text), print its canonical JSON digest.

Uses PyYAML's C loader (libyaml, compiled into the PyYAML wheel), so a run proves
that the target's compiled extension loaded.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
from pathlib import Path

import yaml


def digest(document: object) -> str:
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="yamldigest", description=__doc__)
    parser.add_argument("file", nargs="?", help="a YAML file (default: --text)")
    parser.add_argument("--text", help="YAML given inline")
    parser.add_argument("--echo", nargs="*", default=[], help="words to print back (shows argv survives)")
    parser.add_argument("--info", action="store_true", help="print the interpreter and loader in use")
    parser.add_argument("--exit", type=int, default=0, help="exit with this code after printing")
    args = parser.parse_args(argv)

    loader = yaml.CSafeLoader  # AttributeError here means the C extension did not load
    if args.info:
        print(f"python {platform.python_version()} on {sys.platform}/{platform.machine()}, loader {loader.__name__}")
    if args.echo:
        print("echo:", " ".join(args.echo))
    if args.file or args.text is not None:
        text = Path(args.file).read_text(encoding="utf-8") if args.file else args.text
        document = yaml.load(text, Loader=loader)
        print(f"sha256:{digest(document)} keys={len(document) if isinstance(document, dict) else '-'}")
    return args.exit


if __name__ == "__main__":
    raise SystemExit(main())
