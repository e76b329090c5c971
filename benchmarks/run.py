"""Accuracy and latency of every shipped model x backend x precision in one run -> docs/BENCHMARKS.md.

    python benchmarks/run.py [--models a,b] [--quick] [--out DIR] [--work DIR [--reuse]]      (also: make bench)

For each registered model with shipped weights: export for cpu-x86-int8 (ONNX FP32 + ORT INT8 QDQ) and
android-arm64-int8 (TFLite FP32 + INT8) with the default calibration, evaluate every produced file on the
validation set of the model's recipe through the runtime, time every file (and MediaPipe's face mesh) at batch 1
and 1 / 2 threads, each configuration in its own process, and measure this CPU's 1-thread matmul peak for the
compute floor. Writes OUT/BENCHMARKS.md and OUT/benchmarks/{results.json, latency.png, accuracy_latency.png}.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_report.py and bench_doc.py beside this file

from bench_doc import write_outputs  # noqa: E402
from bench_report import TARGET_MODEL, bench_rows, metric_text, target_verdict  # noqa: E402

from edgekit.errors import EdgekitError  # noqa: E402

if TYPE_CHECKING:
    from edgekit.profile.measure import ModelFile

Log = Callable[[str], None]
TARGETS = {"cpu-x86-int8": "onnxruntime", "android-arm64-int8": "tflite"}  # target -> backend of its files
PEER = "mediapipe"


@dataclass(frozen=True)
class BenchConfig:
    models: tuple[str, ...] | None = None  # None: every registered model with shipped weights
    threads: tuple[int, ...] = (1, 2)
    runs: int = 200  # timed batch-1 calls per configuration, after ``warmup``
    warmup: int = 20
    eval_limit: int | None = None  # first N validation faces (None: all of them)
    peak_size: int = 512  # the matmul of the compute floor: (size, size) @ (size, size) float32 (see peak.py)
    peak_repeats: int = 200
    quick: bool = False
    reuse: bool = False  # keep an artifact of --work that is newer than the model's shipped weights


QUICK = {"threads": (1,), "runs": 30, "warmup": 5, "eval_limit": 64, "peak_repeats": 50, "quick": True}


@dataclass(frozen=True)
class BenchFile:
    model: str
    target: str
    file: ModelFile  # labelled model/target/file name


def shipped_models(wanted: tuple[str, ...] | None, log: Log) -> tuple[list[str], list[str]]:
    """(models with edgekit/weights/NAME.safetensors, the others): each other one is logged and skipped."""
    from edgekit.registry import list_models
    from edgekit.models.weights import shipped_weights

    known = list_models()
    unknown = [name for name in wanted or () if name not in known]
    if unknown:
        raise EdgekitError(f"unknown model(s) {', '.join(unknown)} (registered: {', '.join(known)})")
    models, skipped = [], []
    for name in wanted or known:
        if shipped_weights(name).is_file():
            models.append(name)
        else:
            skipped.append(name)
            log(f"{name}: not trained yet (no edgekit/weights/{name}.safetensors), skipped")
    return models, skipped


def export_files(models: list[str], work: Path, log: Log, reuse: bool = False) -> list[BenchFile]:
    """Both targets per model (the demo's ``export_one``, default calibration, the gate on the recipe's validation
    set: ``edgekit export NAME --target T --eval recipes/NAME.yaml``); only each target's own format."""
    from edgekit.demo.run import export_one
    from edgekit.paths import PROJECT_DIR
    from edgekit.profile.measure import model_files
    from edgekit.specs import load_target

    files = []
    for model in models:
        for target, backend in TARGETS.items():
            folder = work / "artifacts" / f"{model}-{target}"
            if not (reuse and _fresh(folder, model)):
                calibration = PROJECT_DIR / load_target(target).int8.calibration
                folder = export_one(model, target, work, calibration, log,
                                    PROJECT_DIR / "recipes" / f"{model}.yaml").folder
            else:
                log(f"{folder.name}: reusing the artifact (newer than the shipped weights)")
            files += [BenchFile(model, target, dataclasses.replace(f, label=f"{model}/{target}/{f.path.name}"))
                      for f in model_files(str(folder)) if f.backend == backend]
    return files


def gate_passing(files: list[BenchFile]) -> set[tuple[str, str]]:
    """(model, file name) of every file that passed its artifact's accuracy gate."""
    from edgekit.artifact import read_manifest

    passing = set()
    for f in files:
        result = read_manifest(f.file.artifact).checks.gate.files.get(f.file.path.name)
        if result is not None and result.passed:
            passing.add((f.model, f.file.path.name))
    return passing


def _fresh(folder: Path, model: str) -> bool:
    """An artifact written after the model's shipped weights (``--reuse``)."""
    from edgekit.artifact import MANIFEST
    from edgekit.models.weights import shipped_weights

    manifest = folder / MANIFEST
    return manifest.is_file() and manifest.stat().st_mtime > shipped_weights(model).stat().st_mtime


def evaluate_files(files: list[BenchFile], limit: int | None, log: Log) -> dict[str, dict]:
    """label -> metrics of each file on its model's recipe validation set (same split as training)."""
    from edgekit.eval.evaluate import evaluate

    metrics = {}
    for item in files:
        started = time.perf_counter()
        report = evaluate(str(item.file.path), limit=limit, threads=2, val_of=item.model)
        metrics[item.file.label] = report
        log(f"eval {item.file.label}: {metric_text(report)} on {report['count']} faces of {report['data']} "
            f"({time.perf_counter() - started:.0f} s)")
    return metrics


def profile(files: list[BenchFile], config: BenchConfig, log: Log) -> tuple[list, ModelFile | None]:
    """(Measurement rows with ratios to the peer, the peer's file): every file x threads, batch 1, own process
    each."""
    from edgekit.profile import measure
    from edgekit.profile.report import format_table, with_ratios

    targets = [f.file for f in files]
    try:
        peer = measure.peer_file(PEER)
        targets.insert(0, peer)
    except EdgekitError as exc:
        peer = None
        log(f"peer {PEER} unavailable: {exc}")
    log(f"\n== latency: {len(targets)} files x threads {config.threads}, batch 1, {config.runs} runs each")
    settings = measure.Settings(threads=config.threads, batches=(1,), runs=config.runs, warmup=config.warmup)
    rows = with_ratios(measure.profile_files(targets, settings, progress=False), peer.label if peer else None)
    log(format_table(rows))
    return rows, peer


def write_export_results(files: list[BenchFile], metrics: dict[str, dict], config: BenchConfig, out: Path,
                         log: Log) -> None:
    """The model x format x precision table of docs/EXPORT.md (only for a full run written into docs/)."""
    import export_table

    doc = out / "EXPORT.md"
    if config.eval_limit is not None or not doc.is_file():
        return
    context = ("Generated by `python benchmarks/run.py` (shipped weights, `calibration/default.yaml`, every file "
               "evaluated on its recipe's validation faces through the runtime; Δ = metric − the FP32 ONNX "
               "file's; gate = the exporter's own verdict, on the same validation faces: `--eval recipes/NAME.yaml`). "
               f"{time.strftime('%Y-%m-%d')}.")
    log(f"export results: {export_table.write(doc, export_table.table(files, metrics), context)}")


def run(config: BenchConfig, out: Path, work: Path, log: Log = print) -> Path:
    """The whole benchmark; returns the markdown path."""
    from edgekit.profile.peak import measure_peak

    started = time.perf_counter()
    models, skipped = shipped_models(config.models, log)
    if not models:
        raise EdgekitError("no model to benchmark: none of them has shipped weights")
    files = export_files(models, work, log, config.reuse)
    metrics = evaluate_files(files, config.eval_limit, log)
    write_export_results(files, metrics, config, out, log)
    measurements, peer = profile(files, config, log)
    peak = measure_peak(config.peak_size, config.peak_repeats, threads=1)
    log(f"\ncompute floor: {peak.gmacs:.1f} GMAC/s (float32 {peak.size}^3 matmul, 1 thread, fastest tenth of "
        f"{peak.repeats}; median {peak.median_gmacs:.1f})")
    owners = {f.file.label: (f.model, f.file.path.name) for f in files}
    if peer:
        owners[peer.label] = (peer.label, peer.path.name)
    rows = bench_rows(measurements, owners, metrics)
    verdict = target_verdict(rows, peer.label, gate_passing(files)) if peer else None
    log(verdict.text() if verdict else f"target check: not possible (needs {PEER} and {TARGET_MODEL} INT8)")
    return write_outputs(out, config, rows, measurements, peak, verdict, skipped,
                         time.perf_counter() - started)


def parse_args(argv: list[str] | None) -> tuple[BenchConfig, Path, Path | None]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", help="comma-separated registered names (default: every shipped model)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 30 timed runs, 64 validation faces, 1 thread only")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs",
                        help="folder for BENCHMARKS.md and benchmarks/ (default: the checkout's docs/)")
    parser.add_argument("--work", type=Path, help="keep the exported artifacts here (default: a temporary folder)")
    parser.add_argument("--reuse", action="store_true", help="with --work: keep artifacts newer than the shipped "
                        "weights instead of exporting again (export early, time later on an idle machine)")
    args = parser.parse_args(argv)
    models = tuple(m.strip() for m in args.models.split(",") if m.strip()) if args.models else None
    if args.reuse and args.work is None:
        parser.error("--reuse needs --work")
    config = BenchConfig(models=models, reuse=args.reuse, **(QUICK if args.quick else {}))
    return config, args.out, args.work


def main(argv: list[str] | None = None) -> int:
    config, out, work = parse_args(argv)
    try:
        if work is not None:
            print(f"\nwrote {run(config, out, work)}")
            return 0
        with tempfile.TemporaryDirectory(prefix="edgekit-bench-") as tmp:
            print(f"\nwrote {run(config, out, Path(tmp))}")
        return 0
    except EdgekitError as exc:
        print(f"benchmarks/run.py: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
