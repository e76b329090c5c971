"""``edgekit eval SOURCE --data DIR``: landmark NME/FR/AUC or pose MAE of a model on annotated images."""
from __future__ import annotations

import argparse

from edgekit.cli import args as types
from edgekit.cli.output import add_json_flag, check_json_file, emit, json_to_stdout

HELP = "Evaluate a model (registered name, .safetensors, .pt, or an exported file) on a folder of annotated faces."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="registered model name, weights/checkpoint file, or exported model")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--data", help="folder of images with annotations")
    where.add_argument("--val-of", metavar="RECIPE", help="the validation set of this recipe (its folder, filter "
                       "and seeded split), e.g. recipes/fsanet.yaml: the numbers training reported")
    add_json_flag(parser, "the metrics")
    parser.add_argument("--derive-pose", action="store_true", help="pose models on faces without pose labels: "
                        "score against angles solvePnP derives from their 68 landmarks (refused otherwise)")
    parser.add_argument("--ced", metavar="FILE.png", help="write the cumulative error distribution plot (PNG) here "
                        "(landmark models)")
    parser.add_argument("--limit", type=types.positive_int, help="evaluate only the first N faces (sorted by image "
                        "path)")
    parser.add_argument("--threads", type=types.threads, help="inference threads")
    parser.add_argument("--batch", type=types.batch_size, default=32, help=f"faces per inference batch (default "
                        f"32, at most {types.MAX_BATCH})")


def run(args: argparse.Namespace) -> int:
    from edgekit.api import evaluate
    from edgekit.outputs import check_output_file

    check_json_file(args, inputs=(args.source,))
    if args.ced:
        check_output_file(args.ced, "--ced", suffixes=(".png",), inputs=(args.source,))
    report = evaluate(args.source, args.data, limit=args.limit, threads=args.threads, batch_size=args.batch,
                      ced=args.ced, val_of=args.val_of, derive_pose=args.derive_pose).report  # as the CLI prints it
    if not json_to_stdout(args):
        print(format_report(report))
    emit(args, report)
    return 0


def format_report(report: dict) -> str:
    """The model, data, the file that ran, where pose labels came from, then the metrics as a table."""
    from edgekit.report_table import format_table

    file = report["file"]
    lines = [f"{report['model']} on {report['data']} ({report['count']} faces)",
             f"ran {file['path']} ({file['format']} {file['precision']})"]
    if report["task"] == "landmarks":
        rows = [("NME %", f"{report['nme']:.3f}"), ("FR@0.1 %", f"{report['fr']:.3f}"),
                ("AUC@0.1", f"{report['auc']:.3f}")]
        return "\n".join(lines + [format_table(("metric", "value"), rows)])
    lines.append(f"pose labels: {report['pose_labels']}; {report['dropped']} faces dropped (|angle| > 99)")
    rows = [(name, f"{report[key]:.3f}") for name, key in
            (("yaw", "yaw"), ("pitch", "pitch"), ("roll", "roll"), ("MAE (mean)", "mae"))]
    return "\n".join(lines + [format_table(("angle", "error deg"), rows)])
