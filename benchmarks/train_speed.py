"""Training speed of every registered model: the real training loop's images/s next to the model's bare step
rate on random tensors of the same batch (the bound), at 1 and 2 torch threads, all in one process.

    python benchmarks/train_speed.py [--models a,b] [--budget 20] [--threads 1,2] [--out docs] [--json NAME]

The loop is ``edgekit train``'s code path: the recipe's FaceDataset with its augmentation, ``make_loader`` (its
batch size and ``num_workers``), ``make_optimizer`` and ``train_one_epoch``. Faces: ``../shared/data/300w-train``
for landmark models, ``../shared/data/aflw2000/dev`` for pose models, else generated ones
(``edgekit.data.synthetic``; the table says which). A loop step is timed from one batch's arrival to the next's,
so it holds the wait for data, the step and the loop's bookkeeping. The bound is forward + loss + backward +
AdamW step on a batch already in memory (its image random, its labels real, so every loss term runs).
After one warm-up step, each model and thread count runs rounds of (bound pass, loop pass), as many rounds and
steps per pass as fit ``--budget`` seconds (up to ``--rounds`` and ``--steps``). The first batch of a loop pass
(worker start-up) is never timed. Rates are medians over all timed steps; the ratio is the median over rounds of
the ratio within a round: short alternating passes see the same load from other jobs on a shared machine.
Writes OUT/benchmarks/NAME (default train_speed.json) and the table between the train-speed markers of
OUT/TRAINING.md, with a before/after table when OUT/benchmarks/train_speed_before.json exists."""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import default_collate

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export_table  # noqa: E402

from edgekit.atomic import atomic_write_text  # noqa: E402
from edgekit.paths import PROJECT_DIR  # noqa: E402
from edgekit.registry import list_models  # noqa: E402
from edgekit.models.weights import build_model  # noqa: E402
from edgekit.train.dataset import FaceDataset, build_datasets  # noqa: E402
from edgekit.train.distributed import DistEnv  # noqa: E402
from edgekit.train.loop import TrainStep, build_for_training, make_loader, make_optimizer, to_device, \
    train_one_epoch, training_autocast  # noqa: E402
from edgekit.recipe import DatasetConfig, Recipe, load_recipe, recipe_from_dict  # noqa: E402

MARKERS = ("<!-- train-speed:start -->", "<!-- train-speed:end -->")
SHARED = PROJECT_DIR.parent / "shared" / "data"
REAL_FACES = {"landmarks": SHARED / "300w-train", "pose": SHARED / "aflw2000" / "dev"}
BEFORE_JSON = "train_speed_before.json"


@dataclass(frozen=True)
class SpeedRow:
    model: str
    threads: int
    batch_size: int
    num_workers: int
    data: str  # the folder's name, or "generated"
    loop_images_per_s: float  # median over the timed loop steps
    bound_images_per_s: float  # median over the timed bare steps
    ratio: float  # loop / bound: the median over rounds of (median bound step / median loop step) in the round
    data_wait: float  # share of a loop step spent waiting for its batch (medians)
    timed_steps: int  # of each kind


class StepClock:
    """The first ``limit`` batches of a loader, with ``marks``: perf_counter() when each batch has arrived, and
    ``waits``: the seconds the loop waited for it. After the last step one more batch is fetched (a real epoch
    goes on), so step i lasts marks[i + 1] - marks[i] and its data wait is waits[i + 1]."""

    def __init__(self, loader, limit: int):
        self.loader, self.limit, self.marks, self.waits = loader, limit, [], []

    def __len__(self) -> int:
        return self.limit

    def __iter__(self):
        batches = iter(self.loader)
        batch = self._fetch(batches)
        for _ in range(self.limit):
            yield batch
            batch = self._fetch(batches)

    def _fetch(self, batches):
        asked = time.perf_counter()
        batch = next(batches, None)
        self.marks.append(time.perf_counter())
        self.waits.append(self.marks[-1] - asked)
        return batch


def face_folder(task: str, scratch: Path, count: int) -> tuple[Path, str]:
    """(folder, label) of the faces a model of ``task`` trains on here: the real set, else ``count`` drawn faces."""
    real = REAL_FACES[task]
    if real.is_dir():
        return real, real.relative_to(SHARED).as_posix()
    generated = scratch / "generated"
    if not generated.is_dir():
        from edgekit.data.synthetic import write_synthetic_folder

        write_synthetic_folder(generated, count, np.random.default_rng(0), size=256)
    return generated, "generated"


def bench_recipe(name: str, folder: Path, samples: int) -> Recipe:
    """The model's recipe (batch, augmentation, workers, teacher) over the first ``samples`` faces of ``folder``.
    A teacher file that is not here (a run folder's best.safetensors) is replaced by the shipped weights of the
    model it names (``runs/mobilefan_teacher/...`` -> mobilefan_teacher): speed needs the architecture only."""
    path = PROJECT_DIR / "recipes" / f"{name}.yaml"
    recipe = load_recipe(path) if path.is_file() else recipe_from_dict({"model": name, "data": {
        "train": {"path": str(folder)}, "val": {"path": str(folder)}}})
    faces = DatasetConfig(path=str(folder), max_samples=samples)
    data = dataclasses.replace(recipe.data, train=faces, val=dataclasses.replace(faces, max_samples=1),
                               extra_train=())
    distill = recipe.distill
    if distill is not None and Path(distill.teacher).suffix and not (PROJECT_DIR / distill.teacher).is_file():
        distill = dataclasses.replace(distill, teacher=Path(distill.teacher).parent.name)
    return dataclasses.replace(recipe, data=data, distill=distill)


def random_batch(dataset: FaceDataset, size: int, recipe: Recipe) -> dict[str, torch.Tensor]:
    """A collated batch of the first ``size`` items with the image replaced by N(0, 1) noise, laid out as the
    loop lays out its batches (``to_device``)."""
    batch = default_collate([dataset[index] for index in range(size)])
    batch["image"] = torch.randn(batch["image"].shape, generator=torch.Generator().manual_seed(0))
    return to_device(batch, recipe, DistEnv())


def bound_seconds(step_module: TrainStep, batch: dict, optimizer, scaler, recipe: Recipe, steps: int) -> list[float]:
    """Seconds of each bare step: forward + loss (in the loop's autocast, if any), backward, optimizer step."""
    seconds = []
    for _ in range(steps):
        start = time.perf_counter()
        with training_autocast(recipe, DistEnv(), scaler):
            loss, _ = step_module(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        seconds.append(time.perf_counter() - start)
    return seconds


def loop_seconds(step_module: TrainStep, loader, optimizer, scheduler, scaler, recipe: Recipe,
                 steps: int) -> tuple[list[float], list[float]]:
    """(seconds of each step of one ``train_one_epoch`` pass over the first ``steps`` batches, batch arrival to
    batch arrival; seconds of it spent waiting for the batch)."""
    clock = StepClock(loader, steps)
    train_one_epoch(step_module, clock, optimizer, scheduler, scaler, recipe, DistEnv(), "bench", progress=False)
    return np.diff(clock.marks).tolist(), clock.waits[1:]


def plan(step_seconds: float, args: argparse.Namespace) -> tuple[int, int]:
    """(rounds, timed steps per pass) so that the rounds of (bound pass, loop pass) take about ``--budget`` seconds:
    as many rounds as fit, up to ``--rounds`` and at least 2 (short alternating passes see the same load from
    other jobs), then as many steps per pass as fit, up to ``--steps`` and at least 1 (PFLD 1x: seconds a step)."""
    per_kind = args.budget / max(step_seconds, 1e-3) / 2  # timed steps of each kind that fit
    rounds = int(min(args.rounds, max(2, per_kind)))
    return rounds, int(min(args.steps, max(1, per_kind // rounds)))


def measure_model(name: str, args: argparse.Namespace, scratch: Path) -> list[SpeedRow]:
    """One row per thread count for model ``name``."""
    batch_size = bench_recipe(name, scratch, 1).optim.batch_size
    steps = args.warmup + args.steps + 1  # the loader's length: the most a pass can time, and one to fetch
    folder, label = face_folder(build_model(name).spec.task, scratch, batch_size * steps)
    recipe = bench_recipe(name, folder, batch_size * steps)
    if args.workers is not None:
        recipe = dataclasses.replace(recipe, num_workers=args.workers)
    env = DistEnv()
    from edgekit.train.rng import seed_everything

    seed_everything(recipe.seed)  # as edgekit train does (deterministic kernels included)
    model = build_for_training(recipe, env)
    train_set, _ = build_datasets(recipe, model.spec)
    _, loader = make_loader(train_set, recipe, env)
    optimizer, scheduler, scaler = make_optimizer(model, recipe, env, len(loader))
    step_module, batch = TrainStep(model).train(), random_batch(train_set, batch_size, recipe)
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        rounds, timed = plan(bound_seconds(step_module, batch, optimizer, scaler, recipe, 1)[0], args)  # warm-up
        bound, loop, waits, ratios = [], [], [], []
        for _ in range(rounds):
            bound_times = bound_seconds(step_module, batch, optimizer, scaler, recipe, timed)
            loop_times, wait_times = (times[args.warmup:] for times in loop_seconds(
                step_module, loader, optimizer, scheduler, scaler, recipe, args.warmup + timed))
            bound, loop, waits = bound + bound_times, loop + loop_times, waits + wait_times
            ratios.append(statistics.median(bound_times) / statistics.median(loop_times))
        loop_rate, bound_rate = batch_size / statistics.median(loop), batch_size / statistics.median(bound)
        rows.append(SpeedRow(name, threads, batch_size, recipe.num_workers, label, round(loop_rate, 1),
                             round(bound_rate, 1), round(statistics.median(ratios), 3),
                             round(statistics.median(waits) / statistics.median(loop), 3), rounds * timed))
        print(f"{name:18s} {threads} thr  loop {loop_rate:7.1f} img/s  bound {bound_rate:7.1f} img/s  "
              f"ratio {rows[-1].ratio:.2f}  data wait {rows[-1].data_wait:.0%}  ({label}, batch {batch_size}, "
              f"workers {recipe.num_workers}, {rounds} x {timed} steps)", flush=True)
    return rows


def machine() -> dict:
    """CPU model, its bf16 / AMX flags, cores, torch version, load average (other jobs share the cores)."""
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    fields = dict(line.split(":", 1) for line in lscpu.splitlines() if ":" in line)
    flags = fields.get("Flags", "").split()
    return {"cpu": fields.get("Model name", platform.processor()).strip(), "cpus": os.cpu_count(),
            "bf16_flags": [f for f in flags if "bf16" in f or f.startswith("amx")],
            "torch": torch.__version__, "load_average": [round(v, 2) for v in os.getloadavg()],
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def table(rows: list[SpeedRow]) -> list[str]:
    lines = ["| model | data | batch | workers | threads | loop img/s | bound img/s | loop / bound | data wait |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.model} | {r.data} | {r.batch_size} | {r.num_workers} | {r.threads} | "
                     f"{r.loop_images_per_s:.1f} | {r.bound_images_per_s:.1f} | {r.ratio:.2f} | "
                     f"{r.data_wait:.0%} |")
    return lines


def comparison(before: list[dict], after: list[SpeedRow]) -> list[str]:
    """Before -> after per (model, threads) present in both runs."""
    old = {(r["model"], r["threads"]): r for r in before}
    lines = ["| model | threads | loop img/s before → after | bound img/s before → after | "
             "loop / bound before → after |", "|---|---|---|---|---|"]
    for r in after:
        b = old.get((r.model, r.threads))
        if b is not None:
            lines.append(f"| {r.model} | {r.threads} | {b['loop_images_per_s']:.1f} → {r.loop_images_per_s:.1f} | "
                         f"{b['bound_images_per_s']:.1f} → {r.bound_images_per_s:.1f} | "
                         f"{b['ratio']:.2f} → {r.ratio:.2f} |")
    return lines


def write_results(out: Path, json_name: str, rows: list[SpeedRow], info: dict, command: str) -> None:
    """OUT/benchmarks/JSON_NAME and the generated section of OUT/TRAINING.md."""
    atomic_write_text(out / "benchmarks" / json_name,
                      json.dumps({**info, "rows": [dataclasses.asdict(r) for r in rows]}, indent=1) + "\n")
    lines = table(rows)
    before = out / "benchmarks" / BEFORE_JSON
    if json_name != BEFORE_JSON and before.is_file():
        previous = json.loads(before.read_text())
        lines += ["", f"Before the changes below (`benchmarks/{BEFORE_JSON}`, {previous['date']}, load average "
                  f"{previous['load_average'][0]}) and after:", "", *comparison(previous["rows"], rows)]
    context = (f"Generated by `{command}` on {info['date']}: {info['cpu']}, {info['cpus']} CPUs, torch "
               f"{info['torch']}, load average {info['load_average'][0]} at the start (other jobs on the cores: "
               f"absolute rates are low and noisy, the ratio is measured in one process). Every row in "
               f"`docs/benchmarks/{json_name}`.")
    export_table.write(out / "TRAINING.md", lines, context, MARKERS)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated registered names (default: all)")
    parser.add_argument("--threads", default="1,2", help="torch thread counts, comma-separated")
    parser.add_argument("--steps", type=int, default=3, help="most timed steps per pass")
    parser.add_argument("--rounds", type=int, default=6, help="most rounds of (bound, loop) per thread count")
    parser.add_argument("--warmup", type=int, default=0, help="untimed loop steps first in each loop pass")
    parser.add_argument("--budget", type=float, default=20.0,
                        help="seconds per model and thread count that set rounds and steps (see plan)")
    parser.add_argument("--workers", type=int, help="DataLoader workers for every model (default: each recipe's)")
    parser.add_argument("--out", type=Path, default=PROJECT_DIR / "docs", help="folder of TRAINING.md")
    parser.add_argument("--json", default="train_speed.json", help="file name under OUT/benchmarks")
    parser.add_argument("--dry-run", action="store_true", help="print the table, write nothing")
    args = parser.parse_args(argv)
    args.models = args.models.split(",") if args.models else list_models()
    args.threads = [int(t) for t in args.threads.split(",")]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    info = machine()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="edgekit-train-speed-") as scratch:
        rows = [row for name in args.models for row in measure_model(name, args, Path(scratch))]
    info["seconds"] = round(time.perf_counter() - started)
    print("\n".join(table(rows)))
    if not args.dry_run:
        command = "python benchmarks/train_speed.py " + " ".join(sys.argv[1:] if argv is None else argv)
        write_results(args.out, args.json, rows, info, command.strip())
    print(f"{info['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
