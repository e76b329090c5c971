"""On-device TFLite latency through adb and TensorFlow Lite's ``benchmark_model`` (pushed once to
/data/local/tmp by the user), parsed into the same table as the host measurements.

Parsed lines of benchmark_model's log (each may carry an ``INFO:`` prefix; times in microseconds):
    Inference timings in us: Init: 3564, First inference: 12003, Warmup (avg): 9876.5, Inference (avg): 9650.12
    count=50 first=10123 curr=9534 min=9421 max=10234 avg=9650.12 std=187 [p5=9440 median=9600 p95=10100]
    Memory footprint delta from the start of the tool (MB): init=3.4 overall=10.2   (older: Peak memory footprint)
    Overall peak memory footprint (MB) via periodic monitoring: 12.3
Newer builds print a 'count=' line with avg and percentiles for the warm-up run too: the stats are the last one
before the summary line. Checked against logs of the shapes published with benchmark_model runs (2019-2025).
"""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Callable, Sequence

from edgekit.errors import DataError
from edgekit.profile.report import Measurement

DEVICE_DIR = "/data/local/tmp"
BENCHMARK = f"{DEVICE_DIR}/benchmark_model"
_TIMINGS = re.compile(r"(Init|First inference|Warmup \(avg\)|Inference \(avg\)):\s*([\d.eE+-]+)")
_TOKEN = re.compile(r"\b(count|first|curr|min|max|avg|std|median|p5|p95)=([\d.eE+-]+)")  # what the tool prints
_TIMING_KEYS = {"Init": "init_ms", "First inference": "first_ms", "Warmup (avg)": "warmup_avg_ms",
                "Inference (avg)": "mean_ms"}


def parse_benchmark_model(text: str, source: str = "benchmark_model output") -> dict:
    """{'init_ms', 'first_ms', 'warmup_avg_ms', 'mean_ms', 'stats': {count, min, max, avg, std, and p5, p50
    (its 'median'), p95 when printed} (ms except count), 'peak_memory_mb'}; DataError when there is no
    'Inference timings' line."""
    result: dict = {"stats": {}, "peak_memory_mb": None}
    runs: list[dict] = []  # every 'count=' line: the warm-up run's, then the timed run's
    for line in text.splitlines():
        if "Inference timings in us" in line:
            result.update({_TIMING_KEYS[k]: float(v) / 1e3 for k, v in _TIMINGS.findall(line)})
            result["stats"] = runs[-1] if runs else {}  # the run printed last before the summary
        elif re.search(r"\bcount=\d+", line) and "avg=" in line:
            runs.append(_stat_tokens(line))
        elif "memory footprint" in line.lower():
            _memory(line, result)
    if "mean_ms" not in result:
        raise DataError("no 'Inference timings in us: ... Inference (avg): X' line: not benchmark_model output",
                        source)
    return result


def _memory(line: str, result: dict) -> None:
    """'Overall peak memory footprint (MB) via periodic monitoring: 12.3' wins over the older
    '(Peak) memory footprint [delta from the start of the tool] (MB): init=3.4 overall=10.2'."""
    overall = re.search(r"overall=([\d.eE+-]+)", line)
    if overall:
        if result["peak_memory_mb"] is None:
            result["peak_memory_mb"] = float(overall.group(1))
    elif "via periodic monitoring" in line:
        result["peak_memory_mb"] = float(line.rsplit(":", 1)[1].split()[0])


def _stat_tokens(line: str) -> dict[str, float]:
    stats = {}
    for key, value in _TOKEN.findall(line):
        name = "p50" if key == "median" else key
        stats[name] = float(value) if name == "count" else float(value) / 1e3  # us -> ms
    return stats


def benchmark_measurement(parsed: dict, name: str, precision: str, threads: int, where: str,
                          file_mb: float | None = None, mmacs: float | None = None) -> Measurement:
    """A table row: benchmark_model gives the median (p50) and p5 / p95, never p90 / p99 (left empty)."""
    stats = parsed["stats"]
    if "p50" not in stats:
        note = "benchmark_model printed no percentiles: mean only"
    else:
        note = "benchmark_model percentiles: " + ", ".join(f"{k} {stats[k]:.3g} ms" for k in ("p5", "p95") if k in stats)
    return Measurement(name=name, backend="tflite", precision=precision, threads=threads, batch=1, where=where,
                       file_mb=file_mb, mmacs=mmacs, p50_ms=stats.get("p50"), mean_ms=parsed["mean_ms"],
                       images_per_s=1000.0 / parsed["mean_ms"], peak_rss_mb=parsed["peak_memory_mb"],
                       runs=int(stats.get("count", 0)), note=note)


def benchmark_commands(path: Path, threads: int, runs: int, warmup: int) -> list[list[str]]:
    """The adb commands that push ``path`` and time it on the device."""
    remote = f"{DEVICE_DIR}/{path.name}"
    return [["adb", "push", str(path), remote],
            ["adb", "shell", BENCHMARK, f"--graph={remote}", f"--num_threads={threads}", f"--num_runs={runs}",
             f"--warmup_runs={warmup}"]]


def adb_devices() -> list[str]:
    """Serials of attached devices in the 'device' state; [] without adb."""
    if shutil.which("adb") is None:
        return []
    try:
        done = subprocess.run(["adb", "devices"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    rows = [line.split() for line in done.stdout.splitlines()[1:]]
    return [row[0] for row in rows if len(row) >= 2 and row[1] == "device"]


def adb_measurements(files: Sequence[tuple[Path, str, str, dict]], threads: Sequence[int], runs: int, warmup: int,
                     log: Callable[[str], None] = print) -> list[Measurement]:
    """Time each (.tflite path, label, precision, static facts) on the first adb device at each thread count.
    Without adb or a device: print the exact commands and return no rows."""
    devices = adb_devices()
    plans = [(f, t, benchmark_commands(f[0], t, runs, warmup)) for f in files for t in threads]
    if not devices:
        why = "adb is not installed" if shutil.which("adb") is None else "no device is attached"
        log(f"adb: no Android device found ({why}); run these commands on a machine with one "
            f"(benchmark_model from TensorFlow Lite's tools, pushed to {BENCHMARK}):")
        for _, _, commands in plans:
            log("\n".join("  " + shlex.join(c) for c in commands))
        return []
    serial = devices[0]
    rows = []
    for (path, label, precision, facts), count, commands in plans:
        output = ""
        for command in commands:
            done = subprocess.run(command[:1] + ["-s", serial] + command[1:], capture_output=True, text=True,
                                  timeout=600, check=False)
            output = done.stdout + done.stderr
        parsed = parse_benchmark_model(output, f"{serial}:{path.name}")
        rows.append(benchmark_measurement(parsed, label, precision, count, f"adb:{serial}", **facts))
    return rows
