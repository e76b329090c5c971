"""Train several recipes side by side on the lent GPU machine, sized to end by a deadline.

    python3 benchmarks/gpu_trip/run_trip.py RECIPES_DIR --deadline 520 [--out DIR] [-- --threads 2]

The machine is lent for minutes, so epochs are not guessed: every recipe first trains CAL_EPOCHS epochs, all side
by side (as they will run), while this script watches each log.csv grow; the slowest epoch seen (validation
included) sizes that recipe's real run (one cosine cycle over the epochs that fit before the deadline, with 15 %
to spare). Each real run is stopped at the deadline in any case. Per run, OUT/NAME.tar holds best.safetensors,
log.csv, recipe.yaml and the run's output; OUT/trip.txt is this script's log (GPU, torch, plan, results).
Arguments after ``--`` go to every ``edgekit train`` (``--device cpu --max-samples 32`` rehearses it on a CPU)."""
from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from edgekit.atomic import atomic_path

CAL_EPOCHS = 3
START_SECONDS = 30  # decoding the faces and starting CUDA, as the calibration runs showed
SPARE = 1.15


class Trip:
    def __init__(self, out: Path, extra: list[str]):
        self.start, self.out, self.extra = time.time(), out, extra
        self.log = open(out / "trip.txt", "a")

    def say(self, *parts) -> None:
        line = f"[{time.time() - self.start:6.1f}s] " + " ".join(map(str, parts))
        print(line, flush=True)
        self.log.write(line + "\n")
        self.log.flush()

    def launch(self, recipe: Path, run: Path, epochs: int, limit: float) -> subprocess.Popen:
        device = [] if "--device" in self.extra else ["--device", "cuda"]
        command = ["timeout", str(int(limit)), sys.executable, "-m", "edgekit", "train", str(recipe), "--out",
                   str(run), "--epochs", str(epochs), "--no-progress", *device, *self.extra]
        run.parent.mkdir(parents=True, exist_ok=True)
        output = open(f"{run}.out", "a")
        return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=dict(os.environ,
                                                                                         PYTHONUNBUFFERED="1"))

    def elapsed(self) -> float:
        return time.time() - self.start


def log_rows(run: Path) -> list[dict]:
    try:
        with open(run / "log.csv", newline="") as f:
            return list(csv.DictReader(f))
    except OSError:
        return []


def watch(runs: dict[str, tuple[Path, subprocess.Popen]]) -> dict[str, dict[int, float]]:
    """Until every process ends: name -> {epochs logged: when first seen}."""
    seen: dict[str, dict[int, float]] = {name: {} for name in runs}
    while any(proc.poll() is None for _, proc in runs.values()):
        for name, (run, _) in runs.items():
            seen[name].setdefault(len(log_rows(run)), time.time())
        time.sleep(0.1)
    return seen


def slowest_epoch(times: dict[int, float]) -> float | None:
    logged = sorted(k for k in times if k > 0)
    gaps = [times[b] - times[a] for a, b in zip(logged, logged[1:]) if b == a + 1]
    return max(gaps) if gaps else None


def pack(out: Path, name: str, run: Path) -> None:
    with atomic_path(out / f"{name}.tar") as staged, tarfile.open(staged, "w") as tar:
        for path, arcname in [(Path(f"{run}.out"), "stdout.log"), (run / "best.safetensors", "best.safetensors"),
                              (run / "log.csv", "log.csv"), (run / "recipe.yaml", "recipe.yaml")]:
            if path.exists():
                tar.add(path, arcname=f"{name}/{arcname}")


def summary(rows: list[dict]) -> str:
    key = next(k for k in rows[0] if k.startswith("val_"))
    best = min(rows, key=lambda r: float(r[key]))
    seconds = sum(float(r["seconds"]) for r in rows) / len(rows)
    return f"epochs {len(rows)} best {key} {float(best[key]):.4f} at {best['epoch']} last {float(rows[-1][key]):.4f} " \
           f"train s/epoch {seconds:.2f}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipes", type=Path, help="folder of recipe YAML files, one run each")
    parser.add_argument("--deadline", type=float, required=True, help="seconds from now by which every run ends")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "trip-out")),
                        help="new or empty folder for trip.txt and NAME.tar (default: $OUT, else trip-out)")
    parser.add_argument("--work", type=Path, help="new or empty folder for the runs (default: a new temporary one)")
    own, extra = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    args = parser.parse_args(own)
    recipes = {path.stem: path for path in sorted(args.recipes.glob("*.yaml"))}
    if not recipes:
        print(f"run_trip.py: error: {args.recipes}: no recipe (*.yaml) there", file=sys.stderr)
        return 1
    for folder in (args.out, args.work):
        if folder is not None and folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            print(f"run_trip.py: error: {folder}: exists and is not an empty folder", file=sys.stderr)
            return 1
    work = args.work or Path(tempfile.mkdtemp(prefix="edgekit-trip-"))
    args.out.mkdir(parents=True, exist_ok=True)
    trip = Trip(args.out, extra)
    smi = subprocess.run("nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader",
                         shell=True, capture_output=True, text=True).stdout.strip()
    import torch
    trip.say(smi or "no nvidia-smi", "| cpus", os.cpu_count(), "| torch", torch.__version__, torch.version.cuda)
    calibration = {name: (work / "cal" / name, trip.launch(path, work / "cal" / name, CAL_EPOCHS, 240))
                   for name, path in recipes.items()}
    seen = watch(calibration)
    runs = {}
    for name, path in recipes.items():
        epoch_s = slowest_epoch(seen[name])
        if epoch_s is None:
            trip.say(name, "calibration failed: see", f"{calibration[name][0]}.out")
            continue
        left = args.deadline - trip.elapsed() - START_SECONDS
        epochs = max(4, int(left / (epoch_s * SPARE)))
        trip.say(name, f"slowest epoch {epoch_s:.2f} s side by side -> {epochs} epochs")
        run = work / "run" / name
        runs[name] = (run, trip.launch(path, run, epochs, args.deadline - trip.elapsed()))
    watch(runs)
    for name, (run, proc) in runs.items():
        pack(args.out, name, run)
        rows = log_rows(run)
        trip.say(name, "rc", proc.returncode, summary(rows) if rows else "no epochs logged")
    trip.say("done")
    return 0 if runs else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
