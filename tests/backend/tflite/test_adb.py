"""benchmark_model output parsing and the adb fallback. No Android device is attached here: the samples are
written in the shapes of benchmark_model logs published with real runs (the warm-up 'count=' line with
percentiles of newer builds, scientific-notation averages and 'Peak memory footprint' of older ones, logcat
prefixes), with made-up numbers."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from edgekit.errors import DataError
from edgekit.backend.tflite.adb import adb_measurements, benchmark_commands, benchmark_measurement, parse_benchmark_model

WITH_PERCENTILES = """\
INFO: STARTING!
INFO: Num threads: [2]
INFO: Graph: [/data/local/tmp/pfld_int8.tflite]
INFO: The input model file size (MB): 1.59
INFO: Running benchmark for at least 20 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
INFO: count=20 first=4456 curr=4232 min=4176 max=4567 avg=4274.2 std=68 p5=4180 median=4250 p95=4450
INFO: Inference timings in us: Init: 31425, First inference: 8796, Warmup (avg): 4753.28, Inference (avg): 4274.2
INFO: Memory footprint delta from the start of the tool (MB): init=4.11 overall=9.97
INFO: Overall peak memory footprint (MB) via periodic monitoring: 12.5
"""

MEAN_ONLY = """\
count=50 first=10123 curr=9534 min=9421 max=10234 avg=9650.12 std=187
Inference timings in us: Init: 3564, First inference: 12003, Warmup (avg): 9876.5, Inference (avg): 9650.12
Memory footprint delta from the start of the tool (MB): init=3.4 overall=10.2
"""


NEWER_BUILD = """\
INFO: Initialized session in 6.2ms.
INFO: Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
INFO: count=7 first=91000 curr=52000 min=52000 max=91000 avg=60000.5 std=12000 p5=52000 median=53000 p95=91000

INFO: Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
INFO: count=50 first=1.2e+06 curr=1.1e+06 min=1000000 max=1300000 avg=1.15e+06 std=2500 p5=1000500 median=1100000 p95=1250000

INFO: Inference timings in us: Init: 6200, First inference: 91000, Warmup (avg): 60000.5, Inference (avg): 1.15e+06
INFO: Memory footprint delta from the start of the tool (MB): init=6.3 overall=110.5
"""

OLDER_BUILD = """\
I tflite  : count=1 curr=3500000
I tflite  : count=50 first=2990000 curr=2910000 min=2720000 max=3190000 avg=2.95e+06 std=109000
I tflite  : Inference timings in us: Init: 17000, First inference: 3500000, Warmup (avg): 3.5e+06, Inference (avg): 2.95e+06
I tflite  : Peak memory footprint (MB): init=4.9 overall=138.8
"""


def test_the_timed_run_is_the_last_one_before_the_summary():
    parsed = parse_benchmark_model(NEWER_BUILD)
    assert parsed["stats"]["count"] == 50 and parsed["stats"]["p50"] == 1100.0  # not the warm-up's 53 ms
    assert parsed["mean_ms"] == pytest.approx(1150.0) and parsed["peak_memory_mb"] == 110.5


def test_older_builds_logcat_prefix_and_peak_memory_with_init_and_overall():
    parsed = parse_benchmark_model(OLDER_BUILD)
    assert parsed["stats"]["count"] == 50 and parsed["stats"]["avg"] == pytest.approx(2950.0)
    assert parsed["mean_ms"] == pytest.approx(2950.0) and parsed["peak_memory_mb"] == 138.8


def test_parse_with_percentiles_and_peak_memory():
    parsed = parse_benchmark_model(WITH_PERCENTILES)
    assert parsed["init_ms"] == 31.425 and parsed["first_ms"] == 8.796
    assert parsed["warmup_avg_ms"] == pytest.approx(4.75328) and parsed["mean_ms"] == pytest.approx(4.2742)
    stats = parsed["stats"]
    assert stats == pytest.approx({"count": 20, "first": 4.456, "curr": 4.232, "min": 4.176, "max": 4.567,
                                   "avg": 4.2742, "std": 0.068, "p5": 4.18, "p50": 4.25, "p95": 4.45})
    assert parsed["peak_memory_mb"] == 12.5
    row = benchmark_measurement(parsed, "art/pfld_int8.tflite", "int8", 2, "adb:emulator-5554")
    assert (row.p50_ms, row.p90_ms, row.p99_ms, row.runs, row.batch) == (4.25, None, None, 20, 1)
    assert row.images_per_s == pytest.approx(1000 / 4.2742)
    assert row.note == "benchmark_model percentiles: p5 4.18 ms, p95 4.45 ms"


def test_parse_mean_only_output():
    parsed = parse_benchmark_model(MEAN_ONLY)
    assert parsed["mean_ms"] == pytest.approx(9.65012) and parsed["peak_memory_mb"] == 10.2
    assert "p50" not in parsed["stats"] and parsed["stats"]["min"] == 9.421
    row = benchmark_measurement(parsed, "m.tflite", "fp32", 1, "adb:x")
    assert row.p50_ms is None and "mean only" in row.note


def test_not_benchmark_output():
    with pytest.raises(DataError, match="not benchmark_model output"):
        parse_benchmark_model("adb: device offline\n", "phone:m.tflite")


def test_commands_and_the_no_device_fallback(tmp_path):
    commands = benchmark_commands(Path("/art/m.tflite"), 4, 50, 5)
    assert commands == [["adb", "push", "/art/m.tflite", "/data/local/tmp/m.tflite"],
                        ["adb", "shell", "/data/local/tmp/benchmark_model", "--graph=/data/local/tmp/m.tflite",
                         "--num_threads=4", "--num_runs=50", "--warmup_runs=5"]]
    if shutil.which("adb"):
        pytest.skip("adb is installed here: the no-device fallback cannot be checked")
    lines = []
    rows = adb_measurements([(Path("/art/m.tflite"), "m", "fp32", {})], [1, 2], 50, 5, log=lines.append)
    assert rows == [] and "no Android device found (adb is not installed)" in lines[0]
    assert "--num_threads=2" in lines[2] and lines[1].startswith("  adb push /art/m.tflite")
