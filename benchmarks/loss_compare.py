"""Validation NME of each landmark loss a model takes (regression: l2 / wing; heatmaps: mse / adaptive_wing), every
run through `edgekit train` as a user runs it: the model's recipe with only ``loss`` (and the flags) changed.

    python benchmarks/loss_compare.py [--models pfld_0.25x mobilefan_nokd] [--epochs 30] [--max-samples N]
                                      [--threads 1] [--runs runs/loss_compare] [--out docs] [--overwrite]

Writes the derived recipes and run folders under RUNS (MODEL-LOSS.yaml, MODEL-LOSS/), then
``OUT/benchmarks/loss_compare.json`` and ``OUT/benchmarks/loss_compare.md`` (one row per model and loss, the
validation data named in every row). ``--max-samples`` also cuts the validation set: smoke runs only."""
from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from edgekit import serial
from edgekit.atomic import atomic_write_text
from edgekit.registry import create_model
from edgekit.models.load import load_checkpoint
from edgekit.recipe import LossConfig, Recipe, load_recipe


@dataclass(frozen=True)
class LossRun:
    """One training run's result."""

    model: str
    loss: str
    epochs: int
    val: str  # the validation data, as the recipe and --max-samples select it
    nme: float  # best validation NME %, inter-ocular
    best_epoch: int
    seconds: float


def losses_for(model: str) -> tuple[str, ...]:
    """The loss kinds ``model`` takes, its default first."""
    return create_model(model).loss_kinds


def val_name(recipe: Recipe, max_samples: int | None) -> str:
    val = recipe.data.val
    split = f" ({val.split.part} {val.split.val_fraction:g} by {val.split.by})" if val.split else ""
    return f"{val.path}{split}" + (f", first {max_samples}" if max_samples else "")


def run_one(model: str, kind: str, args: argparse.Namespace) -> LossRun:
    """Write MODEL-KIND.yaml (the model's recipe with ``loss: {kind: KIND}``) and train it with the CLI."""
    recipe = load_recipe(model)
    derived = args.runs / f"{model}-{kind}.yaml"
    out = args.runs / f"{model}-{kind}"
    atomic_write_text(derived, serial.dump_yaml(dataclasses.replace(recipe, loss=LossConfig(kind=kind))))
    command = [sys.executable, "-m", "edgekit", "train", str(derived), "--out", str(out), "--epochs",
               str(args.epochs), "--threads", str(args.threads), "--no-progress"]  # fmt: skip
    command += ["--max-samples", str(args.max_samples)] if args.max_samples else []
    command += ["--overwrite"] if args.overwrite else []
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"loss_compare.py: error: {model} with {kind}: {done.stderr.strip() or done.stdout}")
    state = load_checkpoint(out / "last.pt")
    return LossRun(model, kind, args.epochs, val_name(recipe, args.max_samples), round(state["best_metric"], 3),
                   state["best_epoch"], round(seconds, 1))  # fmt: skip


def markdown(runs: list[LossRun], args: argparse.Namespace) -> str:
    lines = [f"# Loss comparison ({args.epochs} epochs, {args.threads} thread(s), "
             f"{time.strftime('%Y-%m-%d', time.gmtime())})", "",
             "Written by `benchmarks/loss_compare.py`; each row is `edgekit train recipes/MODEL.yaml` with only its "
             "`loss` changed. NME: best validation epoch, inter-ocular %.", "",
             "| model | loss | epochs | validation data | NME % | best epoch | seconds |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    lines += [f"| {r.model} | {r.loss} | {r.epochs} | {r.val} | {r.nme:.3f} | {r.best_epoch} | {r.seconds:.0f} |"
              for r in runs]  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["pfld_0.25x", "mobilefan_nokd"])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--max-samples", type=int)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=Path, default=Path("runs/loss_compare"))
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--overwrite", action="store_true", help="start the run folders of a previous comparison over")
    args = parser.parse_args(argv)
    runs = []
    for model in args.models:
        for kind in losses_for(model):
            runs.append(run_one(model, kind, args))
            print(f"{model} {kind}: val NME {runs[-1].nme:.3f} % (epoch {runs[-1].best_epoch}), "
                  f"{runs[-1].seconds:.0f} s", flush=True)
    folder = args.out / "benchmarks"
    atomic_write_text(folder / "loss_compare.json", json.dumps([dataclasses.asdict(r) for r in runs], indent=2) + "\n")
    atomic_write_text(folder / "loss_compare.md", markdown(runs, args))
    print(f"wrote {folder / 'loss_compare.json'} and {folder / 'loss_compare.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
