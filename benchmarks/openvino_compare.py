"""OpenVINO next to ONNX Runtime and LiteRT on this x86 host (issue 14, the proof that a backend is one folder).

For each model, ``edgekit export`` with the three INT8 targets through the CLI, as a user runs it: each target's
default calibration (calibration/default.yaml) and the gate's default eval set (the model's recipe validation set);
then every model file of every artifact is timed with ``edgekit profile --threads 1`` (batch 1, each file in its own
process, the median of ``--runs`` calls after 20 warm-up calls). The three artifacts of a model are profiled in one
``edgekit profile`` call, so that their files share the host's conditions (a shared machine drifts).

    python benchmarks/openvino_compare.py [--models pfld_0.25x,fsanet] [--work DIR] [--reuse] [--runs 300]

Writes OUT/benchmarks/openvino.json (OUT defaults to docs/): per model, per runtime, every file's precision, gate
result against FP32 (metric, delta, budget, passed), MMACs and p50 latency, and which file the export selected;
with the package versions and the host."""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

from edgekit.atomic import atomic_write_json

TARGETS = {"openvino": "cpu-x86-openvino-int8", "onnxruntime": "cpu-x86-int8", "litert": "android-arm64-int8"}
PACKAGES = ("openvino", "nncf", "onnxruntime", "ai-edge-litert", "ai-edge-quantizer", "numpy")


@dataclass(frozen=True)
class FileResult:
    """One model file of one artifact: what the export's gate found and what ``edgekit profile`` timed."""

    file: str
    format: str
    precision: str
    selected: bool
    metric: str | None  # nme (%) | mae (deg); None for a file the gate did not score
    value: float | None
    delta: float | None  # vs the FP32 file of the same artifact (the ONNX file, the gate's baseline)
    budget: float | None
    passed: bool | None
    p50_ms: float | None  # 1 thread, batch 1
    mmacs: float | None


def export(model: str, target: str, out: Path) -> None:
    """One CLI export; raises SystemExit with its error line when it fails."""
    command = [sys.executable, "-m", "edgekit", "export", model, "--target", target, "--out", str(out)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{model} {target}: export failed: {done.stderr.strip() or done.stdout.strip()}")
    print(f"{model} {target}: exported in {time.perf_counter() - start:.0f} s: {done.stdout.strip().splitlines()[-1]}",
          flush=True)


def profile(folders: list[Path], runs: int) -> dict[str, dict]:
    """{"<folder>/<file>": the profile row} of every model file of ``folders``, 1 thread, batch 1."""
    command = [sys.executable, "-m", "edgekit", "profile", *map(str, folders), "--threads", "1", "--runs", str(runs),
               "--warmup", "20", "--json", "--no-progress"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"profile failed: {done.stderr.strip()}")
    return {row["name"]: row for row in json.loads(done.stdout)["results"]}


def artifact_rows(folder: Path, timings: dict[str, dict]) -> list[FileResult]:
    from edgekit.artifact import read_manifest

    manifest = read_manifest(folder)
    gate = manifest.checks.gate.files
    rows = []
    for entry in manifest.models():
        result, timing = gate.get(entry.path), timings.get(f"{folder.name}/{entry.path}", {})
        rows.append(FileResult(entry.path, entry.format, entry.precision, entry.path == manifest.checks.selected,
                               result and result.metric, result and result.value, result and result.delta,
                               result and result.budget, result and result.passed, timing.get("p50_ms"),
                               timing.get("mmacs")))
    return rows


def compare(model: str, work: Path, reuse: bool, runs: int) -> dict:
    folders = {runtime: work / f"{model}-{runtime}" for runtime in TARGETS}
    for runtime, target in TARGETS.items():
        if not (reuse and (folders[runtime] / "edgekit.json").is_file()):
            export(model, target, folders[runtime])
    timings = profile(list(folders.values()), runs)
    return {runtime: {"target": TARGETS[runtime], "files": [asdict(r) for r in artifact_rows(folder, timings)]}
            for runtime, folder in folders.items()}


def summary(model: str, runtimes: dict) -> list[str]:
    lines = []
    for runtime, result in runtimes.items():
        for row in result["files"]:
            delta = "" if row["delta"] is None else f"delta {row['delta']:+.3f} {row['metric']}"
            mark = " (selected)" if row["selected"] else ""
            lines.append(f"{model:12s} {runtime:12s} {row['file']:28s} {row['precision']:6s} "
                         f"{row['p50_ms'] or float('nan'):7.3f} ms  {delta}{mark}")
    return lines


def versions() -> dict[str, str | None]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except Exception:  # PackageNotFoundError: recorded as absent
            found[name] = None
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="pfld_0.25x,fsanet")
    parser.add_argument("--work", type=Path, help="keep the artifacts here (default: a temporary folder)")
    parser.add_argument("--reuse", action="store_true", help="profile the artifacts already in --work")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="edgekit-openvino-compare-") as scratch:
        work = args.work or Path(scratch)
        results = {model: compare(model, work, args.reuse, args.runs) for model in args.models.split(",")}
    for model, runtimes in results.items():
        print("\n".join(summary(model, runtimes)))
    info = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": os.cpu_count(),
            "machine": platform.processor() or platform.machine(), "load_average": os.getloadavg(),
            "versions": versions(), "latency": f"edgekit profile --threads 1, batch 1, median of {args.runs} calls",
            "targets": TARGETS, "results": results}
    path = atomic_write_json(args.out / "benchmarks" / "openvino.json", info)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
