"""Validation NME of every heatmap model of the zoo under each heatmap decode of the decoder table: the same shipped
weights, the same runner and faces (``edgekit eval NAME --val-of NAME``'s), only the head's decode kind swapped.

    python benchmarks/decode_compare.py [--models mobilefan,hourglass2] [--limit N] [--out docs]

Writes ``OUT/benchmarks/decode.json`` and ``OUT/benchmarks/decode.md`` (``benchmarks/models.py doc`` embeds the
table in docs/MODELS.md). ``--limit`` evaluates only the first N validation faces (smoke runs)."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from edgekit.atomic import atomic_write_text
from edgekit.heads import HeatmapParams
from edgekit.paths import PROJECT_DIR, WEIGHTS_DIR

DECODES = ("heatmap_argmax", "heatmap_dark", "local_soft_argmax")
WHAT = {"heatmap_argmax": "argmax + quarter step toward the higher neighbour",
        "heatmap_dark": "DARK (blur with the training sigma, log, Newton step)",
        "local_soft_argmax": "soft-argmax in the 5x5 window around the peak"}


def heatmap_models() -> list[str]:
    """Registered models with shipped weights whose head reads heatmaps."""
    from edgekit.registry import create_model, list_models

    return [name for name in list_models() if (WEIGHTS_DIR / f"{name}.safetensors").is_file()
            and isinstance(create_model(name).spec.head.params, HeatmapParams)]


def compare(name: str, limit: int | None) -> list[dict]:
    """One row per decode kind: NME / FR / AUC of the shipped weights of NAME on its recipe's validation faces."""
    from edgekit.eval.evaluate import open_runner, predict_samples, validation_samples
    from edgekit.metrics import summarize
    from edgekit.runtime.predictor import Predictor

    runner, spec = open_runner(name, threads=1)
    rows = []
    with runner:
        samples, data = validation_samples(name, spec, limit)
        for kind in DECODES:
            swapped = dataclasses.replace(spec, head=dataclasses.replace(spec.head, kind=kind))
            predictions, truths = predict_samples(Predictor(runner, swapped), samples)
            metrics = summarize(swapped, predictions, truths)
            rows.append({"model": name, "decode": kind, "shipped": kind == spec.head.kind, "data": data,
                         "count": len(samples), **{k: metrics[k] for k in ("nme", "fr", "auc")}})
            print(f"{name:18s} {kind:18s} NME {metrics['nme']:.3f}", flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["# Heatmap decodes, measured", "",
             "Written by `benchmarks/decode_compare.py`: each heatmap model's shipped weights on its recipe's "
             "validation faces, only the decode changed (the outputs are the same tensors). `shipped` marks the "
             "decode the model's spec names. NME % by outer eye corners, FR % = NME > 0.1.", "",
             "| model | decode | what it does | validation data | NME % | FR % | AUC@0.1 | shipped |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        data = r["data"].split(" (val of")[0]
        lines.append(f"| {r['model']} | `{r['decode']}` | {WHAT[r['decode']]} | {data} ({r['count']}) "
                     f"| {r['nme']:.3f} | {r['fr']:.1f} | {r['auc']:.3f} | {'yes' if r['shipped'] else ''} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", help="comma-separated (default: every heatmap model with shipped weights)")
    parser.add_argument("--limit", type=int, help="first N validation faces only (smoke runs)")
    parser.add_argument("--out", type=Path, default=PROJECT_DIR / "docs")
    args = parser.parse_args(argv)
    available = heatmap_models()
    names = args.models.split(",") if args.models else available
    unknown = [name for name in names if name not in available]
    if unknown:
        parser.error(f"not a heatmap model with shipped weights: {', '.join(unknown)} (these are: "
                     f"{', '.join(available)})")
    rows = [row for name in names for row in compare(name, args.limit)]
    folder = args.out / "benchmarks"
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "decode.json", json.dumps(rows, indent=2) + "\n")
    print(atomic_write_text(folder / "decode.md", markdown(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
