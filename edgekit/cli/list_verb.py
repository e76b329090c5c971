"""``edgekit list``: registered models and known targets, as aligned tables (or one JSON object)."""
from __future__ import annotations

import argparse

from edgekit.cli.output import add_json_flag, emit, json_to_stdout

HELP = "List the registered models and the known targets."
MODEL_COLUMNS = ("name", "task", "input", "decode", "description")
TARGET_COLUMNS = ("name", "runtime", "description")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", nargs="?", choices=["models", "targets", "all"], default="all")
    add_json_flag(parser, "the models and targets")


def run(args: argparse.Namespace) -> int:
    from edgekit.report_table import format_table

    record = {}
    if args.what in ("models", "all"):
        record["models"] = model_rows()
    if args.what in ("targets", "all"):
        record["targets"] = target_rows()
    if not json_to_stdout(args):
        for kind, columns in (("models", MODEL_COLUMNS), ("targets", TARGET_COLUMNS)):
            if kind in record:
                rows = [[row[c] for c in columns] for row in record[kind]]
                print(f"{kind}:\n{format_table(columns, rows, indent='  ')}" if rows else f"{kind}: none")
    emit(args, record)
    return 0


def model_rows() -> list[dict]:
    """One dict per registered model; none, with one stderr line saying why, when torch (which builds them) is
    not installed."""
    import sys

    from edgekit.errors import EdgekitError
    from edgekit.registry import create_model, list_models

    try:
        names = list_models()
    except EdgekitError as exc:
        print(f"models: unavailable ({exc})", file=sys.stderr)
        return []
    rows = []
    for name in names:
        spec = create_model(name).spec
        width, height = spec.preprocess.input_size
        rows.append({"name": name, "task": spec.task, "input": f"{width}x{height}", "decode": spec.head.kind,
                     "description": spec.description})
    return rows


def target_rows() -> list[dict]:
    from edgekit.paths import list_names
    from edgekit.specs import load_target

    return [{"name": name, "runtime": target.runtime, "description": target.description}
            for name in list_names("targets") for target in [load_target(name)]]
