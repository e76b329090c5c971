"""Ship trained weights and document the model zoo.

    python benchmarks/models.py ship NAME [--run runs/NAME] [--command "..."] [--force]
    python benchmarks/models.py remeasure NAME --why "..."
    python benchmarks/models.py doc

``ship`` copies ``runs/NAME/best.safetensors`` to ``edgekit/weights/NAME.safetensors`` (fp16 storage) only when its
validation metric (``edgekit eval NAME --val-of NAME``: the recipe's own validation faces) beats the shipped one,
and records how it was trained in ``edgekit/weights/NAME.json`` (runs/ is not committed). ``doc`` regenerates
``docs/MODELS.md`` from those records. ``remeasure`` re-evaluates the shipped weights with today's code (e.g. a new
decode of the same outputs), rewrites them with today's spec and records the old number as ``before``.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from pathlib import Path

from edgekit.atomic import atomic_write_json, atomic_write_text
from edgekit.errors import EdgekitError
from edgekit.paths import PROJECT_DIR, WEIGHTS_DIR
from edgekit.profile.peak import cpu_model

LOWER_IS_BETTER = {"landmarks": "nme", "pose": "mae"}


def training_summary(run: Path) -> dict:
    """Epochs, wall seconds and mean images/s from the run's log.csv."""
    with open(run / "log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    seconds = sum(float(r["seconds"]) for r in rows)
    speed = sum(float(r["images_per_s"]) for r in rows) / max(1, len(rows))
    return {"epochs": len(rows), "seconds": round(seconds), "images_per_s": round(speed, 1)}


def model_facts(name: str) -> dict:
    """Parameters of the exported graph, MACs counted on its ONNX, input size."""
    from edgekit.export.onnx import export_onnx
    from edgekit.profile.flops import count_macs
    from edgekit.registry import create_model
    from edgekit.specs import OnnxSection

    model = create_model(name).eval()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        export_onnx(model, path, OnnxSection(simplify="none"))
        macs = count_macs(path)
    params = sum(p.numel() for n, p in model.state_dict().items() if not _training_only(n))
    w, h = model.spec.preprocess.input_size
    return {"params_m": round(params / 1e6, 3), "mmacs": round(macs / 1e6, 1), "input": f"{w}x{h}",
            "task": model.spec.task, "decode": model.spec.head.kind}


def _training_only(key: str) -> bool:
    return key.startswith(("aux.", "adapters.", "teacher.")) or key.endswith("num_batches_tracked")


def ship(name: str, run: Path, command: str, force: bool, hardware: str | None = None) -> int:
    from edgekit.eval.evaluate import evaluate
    from edgekit.models.load import load_model
    from edgekit.models.weights import save_weights

    candidate = run / "best.safetensors"
    report = evaluate(str(candidate), val_of=name, threads=2)
    record_path = WEIGHTS_DIR / f"{name}.json"
    key = LOWER_IS_BETTER[report["task"]]
    previous = None
    if (WEIGHTS_DIR / f"{name}.safetensors").is_file():  # the shipped file on the same faces (the recipe may be new)
        previous = evaluate(name, val_of=name, threads=2)[key]
        if report[key] >= previous and not force:
            print(f"{name}: {key} {report[key]:.3f} does not beat the shipped {previous:.3f}; not shipped")
            return 1
    save_weights(load_model(str(candidate)), WEIGHTS_DIR / f"{name}.safetensors", half=True)
    shipped_report = evaluate(name, val_of=name, threads=2)  # what users get: the fp16-stored file
    record = {"model": name, "val": val_record(shipped_report),
              "previous": None if previous is None else {key: previous, "data": report["data"]},
              "train": {**training_summary(run), "command": command, "data": training_data(name),
                        "hardware": hardware or f"{cpu_model()}, {torch_threads(command)} (no GPU)"},
              "facts": model_facts(name)}
    atomic_write_json(record_path, record)
    print(f"{name}: shipped, {key} {shipped_report[key]:.3f} on {shipped_report['data']}")
    return 0


def val_record(report: dict) -> dict:
    """An eval report without what names this machine's files."""
    return {k: v for k, v in report.items() if k not in ("source", "model", "file")}


def remeasure(name: str, why: str) -> int:
    """The shipped weights of NAME re-evaluated and re-saved (same tensors, today's spec); the old metric -> before."""
    from edgekit.eval.evaluate import evaluate
    from edgekit.models.load import load_model
    from edgekit.models.weights import save_weights

    record_path = WEIGHTS_DIR / f"{name}.json"
    record = json.loads(record_path.read_text())
    key = LOWER_IS_BETTER[record["facts"]["task"]]
    report = evaluate(name, val_of=name, threads=2)  # first: a run that fails here leaves the shipped file as it was
    save_weights(load_model(name), WEIGHTS_DIR / f"{name}.safetensors", half=True)  # fp16 -> fp32 -> fp16: exact
    record.update(val=val_record(report),
                  previous={key: record["val"][key], "data": record["val"]["data"], "why": why},
                  facts=model_facts(name))
    atomic_write_json(record_path, record)
    print(f"{name}: {key} {record['previous'][key]:.3f} -> {report[key]:.3f} ({why})")
    return 0


def training_data(name: str) -> str:
    """The recipe's training folders (with the split part), e.g. ``300w-train (train part of a by-photo split)``."""
    from edgekit.recipe import load_recipe

    data = load_recipe(name)
    parts = []
    for config in (data.data.train, *data.data.extra_train):
        split = config.split
        parts.append(config.path.replace("../shared/data/", "") + (
            "" if split is None else f" ({split.part} part of a by-{split.by} split)"))
    init = f", started from the weights {data.init}" if data.init else ""
    return " + ".join(parts) + init


def torch_threads(command: str) -> str:
    return "1 thread" if "--threads 1" in command else "2 threads"


def doc() -> Path:
    records = [json.loads(p.read_text()) for p in sorted(WEIGHTS_DIR.glob("*.json"))]
    lines = ["# Model zoo", "",
             "Every number here is on the recipe's own validation faces (`edgekit eval NAME --val-of NAME`), measured "
             "with the shipped fp16-stored weights; each row names its validation and training data. Landmarks: NME % "
             "by outer eye corners (36, 45), FR % = NME > 0.1, AUC@0.1; the 300W validation faces are 10 % of the "
             "photos of `../shared/data/300w-train` (by photo, stratified over afw / helen / lfpw, seed 0: 198 faces), "
             "never trained on. Pose: the 20 % validation split (seed 0, by image) of `../shared/data/aflw2000/dev` "
             "after dropping |angle| > 99°; the other 80 % trained the model. `before` is the previously shipped file "
             "on the same faces. MACs are counted on the exported ONNX graph (FLOPs = 2 x MACs).", "",
             "Where the hardware column names no GPU, the model was trained on the 2-core CPU machine, "
             "1 thread per run, often 3 to 6 runs side by side (train time is wall time, inflated by that sharing). "
             "One session was lent an NVIDIA H200 for 15 minutes (docs/TRAINING.md, \"The GPU trips\"): the rows "
             "that name it got their last long cycles there, 5 to 7 runs side by side on the one GPU. "
             "The heavy landmark models got the epochs that fit a session (their recipes say so), far fewer than "
             "their papers use (PIPNet 60, MobileFAN 60+): their numbers are what that budget gives, not the "
             "architectures' ceilings.",
             "", "| model | task | input | params (M) | MMACs | MFLOPs | file MB | val data | val metric | before | "
             "train data | epochs | train time | hardware | command |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        facts, val, train = r["facts"], r["val"], r["train"]
        metric = (f"NME {val['nme']:.2f} / FR {val['fr']:.1f} / AUC {val['auc']:.3f}" if facts["task"] == "landmarks"
                  else f"MAE {val['mae']:.2f}° (yaw {val['yaw']:.2f}, pitch {val['pitch']:.2f}, roll {val['roll']:.2f})")
        size = (WEIGHTS_DIR / f"{r['model']}.safetensors").stat().st_size / 2**20
        previous = r.get("previous") or {}
        before = next((f"{v:.2f}" for k, v in previous.items() if k not in ("data", "why")), "-")
        before += f" ({previous['why']})" if previous.get("why") else ""
        lines.append(f"| `{r['model']}` | {facts['task']} | {facts['input']} | {facts['params_m']} | {facts['mmacs']} "
                     f"| {2 * facts['mmacs']:.1f} | {size:.2f} | {_short_data(val['data'])} ({val['count']}) | {metric} "
                     f"| {before} | {train.get('data', '-')} | {train['epochs']} | {train['seconds'] / 60:.0f} min | "
                     f"{train['hardware']} | `{train['command']}` |")
    missing = sorted(set(_registered()) - {r["model"] for r in records})
    if missing:
        lines += ["", f"Not trained yet (no shipped weights): {', '.join(f'`{m}`' for m in missing)}."]
    total = sum(p.stat().st_size for p in WEIGHTS_DIR.glob("*.safetensors")) / 2**20
    lines += ["", f"All shipped weights together: {total:.1f} MB (budget 60 MB).", *measured_decisions()]
    return atomic_write_text(PROJECT_DIR / "docs" / "MODELS.md", "\n".join(lines) + "\n")


def measured_decisions() -> list[str]:
    """The A/B tables behind the recipes (loss_compare.py, ablations.py, decode_compare.py), one heading level down."""
    lines = []
    for name in ("ablations.md", "loss_compare.md", "decode.md"):
        path = PROJECT_DIR / "docs" / "benchmarks" / name
        if path.is_file():
            lines += [""] + [f"#{line}" if line.startswith("#") else line for line in path.read_text().splitlines()]
    return lines


def _short_data(text: str) -> str:
    return text.split(" (val of")[0].replace("../shared/data/", "")


def _registered() -> list[str]:
    from edgekit.registry import list_models

    return list_models()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    one = sub.add_parser("ship")
    one.add_argument("name")
    one.add_argument("--run", help="run folder (default runs/NAME)")
    one.add_argument("--command", help="the exact training command (default: edgekit train recipes/NAME.yaml)")
    one.add_argument("--force", action="store_true", help="ship even if it does not improve")
    one.add_argument("--hardware", help="where the last training ran (default: this CPU, no GPU)")
    again = sub.add_parser("remeasure")
    again.add_argument("name")
    again.add_argument("--why", required=True, help="what changed in the code, shown beside the old number")
    sub.add_parser("doc")
    args = parser.parse_args(argv)
    if args.what == "doc":
        print(doc())
        return 0
    if args.what == "remeasure":
        code = remeasure(args.name, args.why)
        doc()
        return code
    command = args.command or f"edgekit train recipes/{args.name}.yaml"
    code = ship(args.name, Path(args.run or PROJECT_DIR / "runs" / args.name), command, args.force, args.hardware)
    doc()
    return code


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except EdgekitError as error:  # a missing run folder or weights file: one line, nothing shipped
        sys.exit(f"models.py: error: {error}")
