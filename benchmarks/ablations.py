"""The training decisions of issue 12 as measured A/B runs: one table row per run, read from each run's own
``log.csv`` and ``recipe.yaml`` (what ``edgekit train`` wrote), grouped by the question it answers.

    python benchmarks/ablations.py [--spec benchmarks/ablations.yaml] [--runs runs] [--out docs]

Writes OUT/benchmarks/ablations.json and OUT/benchmarks/ablations.md. A run folder that is missing or
unfinished is named in the table as such, never skipped silently."""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from edgekit.atomic import atomic_write_text


@dataclass(frozen=True)
class ArmResult:
    question: str
    label: str
    run: str
    model: str
    metric: str  # val_nme (landmarks, %) or val_mae (pose, degrees)
    best: float | None  # best validation value over the epochs; None: no finished epoch
    best_epoch: int | None
    epochs: int  # epochs finished / epochs in the recipe, as "done"
    planned: int
    val: str


def read_arm(question: str, label: str, run: Path) -> ArmResult:
    """The best validation value of one run folder (log.csv) and what its recipe trained (recipe.yaml)."""
    recipe = yaml.safe_load((run / "recipe.yaml").read_text()) if (run / "recipe.yaml").is_file() else {}
    rows = list(csv.DictReader(open(run / "log.csv", newline=""))) if (run / "log.csv").is_file() else []
    metric = next((k for k in (rows[0] if rows else {}) if k.startswith("val_")), "val_metric")
    values = [(float(r[metric]), int(r["epoch"])) for r in rows if r.get(metric) not in (None, "", "nan")]
    best = min(values) if values else (None, None)
    val = recipe.get("data", {}).get("val", {})
    split = val.get("split") or {}
    val_name = f"{val.get('path', '?')}" + (f" ({split['part']} {split['val_fraction']:g} by {split['by']})"
                                             if split else "")  # fmt: skip
    return ArmResult(question, label, run.name, recipe.get("model", "?"), metric, best[0], best[1], len(rows),
                     recipe.get("optim", {}).get("epochs", 0), val_name)


def markdown(results: list[ArmResult]) -> str:
    lines = ["# Training decisions, measured", "",
             "Written by `benchmarks/ablations.py` from the runs' own `log.csv` and `recipe.yaml`; each question's "
             "runs differ only in what it names (same seed, schedule and data otherwise). Best validation epoch; "
             "landmarks: NME % by outer eye corners, pose: MAE degrees.", ""]  # fmt: skip
    for question in dict.fromkeys(r.question for r in results):
        lines += [f"## {question}", "", "| arm | model | validation data | best | epoch | epochs done |",
                  "|---|---|---|---|---|---|"]  # fmt: skip
        for r in (r for r in results if r.question == question):
            best = "not run" if r.best is None else f"{r.metric} {r.best:.3f}"
            lines.append(f"| {r.label} | {r.model} | {r.val} | {best} | {r.best_epoch or '-'} | "
                         f"{r.epochs}/{r.planned} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=Path(__file__).with_name("ablations.yaml"))
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args(argv)
    results = [read_arm(entry["question"], arm["label"], args.runs / arm["run"])
               for entry in yaml.safe_load(args.spec.read_text()) for arm in entry["arms"]]  # fmt: skip
    folder = args.out / "benchmarks"
    atomic_write_text(folder / "ablations.json", json.dumps([dataclasses.asdict(r) for r in results], indent=2))
    atomic_write_text(folder / "ablations.md", markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
