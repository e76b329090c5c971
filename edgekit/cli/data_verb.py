"""``edgekit data check DIR``: scan a folder of annotated faces and report formats, counts and problems."""
from __future__ import annotations

import argparse

from edgekit.cli.output import add_json_flag, emit, json_to_stdout

HELP = "Inspect face datasets (data check DIR: formats, counts, problems)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_verb", metavar="SUBVERB", required=True)
    check = sub.add_parser("check", help="Scan DIR: formats, schemes, pose labels, count and every bad file. "
                                         "Exit 0 if clean, 1 if problems were found.",
                           description="Scan DIR for annotated faces and list every bad file. "
                                       "Exit 0 if clean, 1 if problems were found, 2 if DIR cannot be read.")
    check.add_argument("folder", metavar="DIR", help="folder to scan (recursively)")
    add_json_flag(check, "the report")
    check.add_argument("--decode", action="store_true", help="fully decode every image (slower, catches more)")
    check.add_argument("--no-recursive", dest="recursive", action="store_false", help="only DIR itself")


def run(args: argparse.Namespace) -> int:
    from edgekit.data.check import check_folder, report_dict, report_lines

    result = check_folder(args.folder, decode=args.decode, recursive=args.recursive)
    if not json_to_stdout(args):
        print("\n".join(report_lines(result)))
    emit(args, report_dict(result))
    return 1 if result.errors else 0  # warnings (sample kept) do not fail the check
