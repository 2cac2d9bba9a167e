"""Pieces every CLI command module shares: the target option and sub-command parsers."""

from __future__ import annotations

import argparse


def add_target_option(parser: argparse.ArgumentParser, *, many: bool, required: bool) -> None:
    parser.add_argument(
        "-t",
        "--target",
        dest="targets" if many else "target",
        action="append" if many else "store",
        required=required,
        metavar="TARGET",
        help="a triple or alias (see `xbuild targets`)" + ("; repeat it, or say `all`" if many else ""),
    )


def subparser(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str, epilog: str) -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        help=summary,
        description=summary,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
