"""``edgekit export SOURCE --target NAME_OR_YAML --out DIR``: ONNX (+ INT8, gate, TFLite, TensorRT prep) into one
artifact folder, replaced atomically; a short table of the files at the end."""
from __future__ import annotations

import argparse
from pathlib import Path

from edgekit.cli import args as types
from edgekit.cli.output import add_json_flag, emit, json_to_stdout

HELD_OUT = "held-out"  # --eval keyword: gate on the calibration faces held back
HELP = "Export a model for a target: ONNX with parity, INT8 with an accuracy gate, TFLite, TensorRT/Jetson prep."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="registered model name, .safetensors weights or .pt checkpoint")
    parser.add_argument("--target", required=True, help="target name (targets/NAME.yaml) or a target YAML path")
    parser.add_argument("--out", required=True, type=Path, help="artifact folder to write: a new or empty folder, "
                        "or an existing artifact (replaced atomically); any other folder or file is refused")
    parser.add_argument("--calib", help="calibration images: folder, glob or calibration YAML "
                                        "(default: the target's int8.calibration)")
    parser.add_argument("--eval", dest="eval_dir", help="annotated folder for the gate (its first 200 faces), a "
                        "recipe YAML (all of its validation set), or 'held-out' (the calibration faces held back: "
                        "label-free against FP32 when they carry no annotations); default: a registered model's own "
                        "validation set (recipes/NAME.yaml) when its data is here, else 'held-out'")
    parser.add_argument("--threads", type=types.threads, default=None, help="threads for parity and gate runs")
    add_json_flag(parser, "the artifact's files with their parity, gate and latency")


def run(args: argparse.Namespace) -> int:
    from edgekit.backend.tflite.loader import silence_logs
    from edgekit.export.pipeline import export, own_validation_set
    from edgekit.outputs import check_artifact_out
    from edgekit.specs import load_target

    check_artifact_out(args.out)  # before anything is loaded: a refused --out costs nothing
    silence_logs()
    target = load_target(args.target)
    eval_dir = args.eval_dir
    if eval_dir is None and target.int8 is not None:
        eval_dir = own_validation_set(args.source, _print)
    out = export(args.source, target, args.out, calib=args.calib, eval_dir=None if eval_dir == HELD_OUT else eval_dir,
                 log=_print, threads=args.threads)
    if not json_to_stdout(args):
        print(summary_table(out))
    emit(args, export_record(out))
    return 0


def export_record(folder: Path) -> dict:
    """The artifact as ``--json`` prints it: its folder, default file and every model file's checks."""
    import dataclasses

    from edgekit.artifact import read_manifest
    from edgekit.checks import summarize

    manifest = read_manifest(folder)
    return {"artifact": str(folder), "selected": manifest.checks.selected or None,
            "label_free": manifest.checks.gate.label_free,
            "files": [dataclasses.asdict(item) for item in summarize(manifest)]}


def _print(line: str) -> None:
    print(line, flush=True)


def summary_table(folder: Path) -> str:
    """file, precision, size, parity, metric, delta, latency: one row per model file of the artifact
    (``checks.summarize``, the view every report shares)."""
    from edgekit.artifact import read_manifest
    from edgekit.checks import summarize
    from edgekit.report_table import format_table

    manifest = read_manifest(folder)
    rows = [(item.path, item.precision, f"{item.size / 1024:.0f} kB", item.parity.text() if item.parity else None,
             _metric_cell(item.gate), f"{item.gate.delta:+.3f}" if item.gate else None,
             f"{item.latency_ms:.2f} ms" if item.latency_ms is not None else None) for item in summarize(manifest)]
    lines = [format_table(("file", "precision", "size", "parity", "metric", "delta", "latency"), rows)]
    if manifest.checks.gate.label_free:
        lines.append("* label-free: compared with the FP32 file's predictions on held-out real faces (no labels)")
    selected = manifest.checks.selected
    return "\n".join(lines + ([f"default file: {selected}"] if selected else []))


def _metric_cell(result) -> str:
    if result is None:
        return "-"
    label = f"{result.metric}{'*' if result.label_free else ''}"
    return f"{label} {result.value:.3f}{result.unit}{'' if result.passed else ' FAIL'}"
