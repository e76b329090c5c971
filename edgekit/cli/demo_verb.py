"""``edgekit demo``: the main job on a built-in default, on a fresh clone with no data of its own."""
from __future__ import annotations

import argparse
from pathlib import Path

from edgekit.cli import args as types
from edgekit.cli.output import add_json_flag, emit

HELP = ("Export the shipped PFLD-0.25x and FSA-Net to ONNX + INT8 + TFLite with the accuracy gate, predict on a real "
        "face, profile everything beside MediaPipe, and write a report.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="demo-out", help="output folder (default: demo-out): new, empty or a "
                        "previous demo's; a folder holding other files is refused")
    parser.add_argument("--runs", type=types.runs, default=100, help="timed calls per profiled configuration")
    parser.add_argument("--no-peer", action="store_true", help="do not profile MediaPipe's face-mesh model "
                        "beside edgekit's files (installed by python -m edgekit.fetch)")
    add_json_flag(parser, "the output folder and the report's path")


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from edgekit.demo.run import DemoConfig, run_demo

    config = dataclasses.replace(DemoConfig(), runs=args.runs, peer=None if args.no_peer else "mediapipe")
    report = run_demo(Path(args.out), config)
    print(f"\nreport: {report}")
    emit(args, {"out": args.out, "report": str(report)})
    return 0
