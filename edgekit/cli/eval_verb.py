"""``edgekit eval SOURCE --data DIR``: landmark NME/FR/AUC or pose MAE of a model on annotated images."""
from __future__ import annotations

import argparse

from edgekit.cli import args as types

HELP = "Evaluate a model (registered name, .safetensors, .pt, or an exported file) on a folder of annotated faces."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="registered model name, weights/checkpoint file, or exported model")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--data", help="folder of images with annotations")
    where.add_argument("--val-of", metavar="RECIPE", help="the validation set of this recipe (its folder, filter "
                       "and seeded split), e.g. recipes/fsanet.yaml: the numbers training reported")
    parser.add_argument("--json", metavar="FILE", help="write the metrics to this JSON file")
    parser.add_argument("--ced", metavar="FILE.png", help="write the cumulative error distribution plot (PNG) here "
                        "(landmark models)")
    parser.add_argument("--limit", type=types.positive_int, help="evaluate only the first N faces (sorted by image "
                        "path)")
    parser.add_argument("--threads", type=types.threads, help="inference threads")
    parser.add_argument("--batch", type=types.batch_size, default=32, help=f"faces per inference batch (default "
                        f"32, at most {types.MAX_BATCH})")


def run(args: argparse.Namespace) -> int:
    from edgekit.atomic import atomic_write_json
    from edgekit.eval.evaluate import evaluate
    from edgekit.outputs import check_output_file

    if args.json:
        check_output_file(args.json, "--json", inputs=(args.source,))
    if args.ced:
        check_output_file(args.ced, "--ced", suffixes=(".png",), inputs=(args.source,))
    report = evaluate(args.source, args.data, limit=args.limit, threads=args.threads, batch_size=args.batch,
                      ced=args.ced, val_of=args.val_of)
    print(format_report(report))
    if args.json:
        atomic_write_json(args.json, report)
    return 0


def format_report(report: dict) -> str:
    head = f"{report['model']} on {report['data']} ({report['count']} faces):"
    if report["task"] == "landmarks":
        return f"{head} NME {report['nme']:.3f}%  FR@0.1 {report['fr']:.2f}%  AUC@0.1 {report['auc']:.4f}"
    return (f"{head} MAE {report['mae']:.3f} deg (yaw {report['yaw']:.3f}, pitch {report['pitch']:.3f}, "
            f"roll {report['roll']:.3f}; {report['dropped']} dropped, |angle| > 99)")
