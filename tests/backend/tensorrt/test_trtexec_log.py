"""trtexec log parsing. No TensorRT run produced these samples (TensorRT cannot run on this machine): they are
written in the shapes of trtexec summaries published with real runs (TensorRT 8.0-10.x: per-run 'Average on N
runs' lines, 'End-to-End Host Latency', 99th percentile only, scientific-notation throughput), with made-up
numbers."""
from __future__ import annotations

import pytest

from edgekit.errors import DataError
from edgekit.backend.tensorrt.trtexec_log import parse_trtexec, trtexec_measurement

TRT10_LOG = """\
&&&& RUNNING TensorRT.trtexec [TensorRT v100300] # /usr/src/tensorrt/bin/trtexec --loadEngine=pfld_fp16.engine --shapes=input:8x3x112x112 --fp16
[08/21/2025-10:00:00] [I] === Model Options ===
[08/21/2025-10:00:01] [I] === Performance summary ===
[08/21/2025-10:00:01] [I] Throughput: 1523.45 qps
[08/21/2025-10:00:01] [I] Latency: min = 0.62 ms, max = 1.53 ms, mean = 0.655 ms, median = 0.64 ms, percentile(90%) = 0.67 ms, percentile(95%) = 0.69 ms, percentile(99%) = 0.81 ms
[08/21/2025-10:00:01] [I] Enqueue Time: min = 0.01 ms, max = 0.05 ms, mean = 0.02 ms, median = 0.02 ms, percentile(90%) = 0.03 ms, percentile(95%) = 0.03 ms, percentile(99%) = 0.04 ms
[08/21/2025-10:00:01] [I] H2D Latency: min = 0.05 ms, max = 0.1 ms, mean = 0.06 ms, median = 0.06 ms, percentile(90%) = 0.07 ms, percentile(95%) = 0.08 ms, percentile(99%) = 0.09 ms
[08/21/2025-10:00:01] [I] GPU Compute Time: min = 0.5 ms, max = 1.4 ms, mean = 0.53 ms, median = 0.52 ms, percentile(90%) = 0.55 ms, percentile(95%) = 0.57 ms, percentile(99%) = 0.7 ms
[08/21/2025-10:00:01] [I] D2H Latency: min = 0.01 ms, max = 0.02 ms, mean = 0.01 ms, median = 0.01 ms, percentile(90%) = 0.01 ms, percentile(95%) = 0.01 ms, percentile(99%) = 0.02 ms
&&&& PASSED TensorRT.trtexec [TensorRT v100300]
"""

TRT8_LOG = """\
&&&& RUNNING TensorRT.trtexec [TensorRT v8502] # trtexec --onnx=fsanet.onnx --int8
[I] Throughput: 2000 qps
[I] Latency: min = 0.4 ms, max = 0.9 ms, mean = 0.5 ms, median = 0.48 ms, percentile(99%) = 0.8 ms
"""


TRT8_0_LOG = """\
[07/25/2022-19:02:50] [I] Average on 10 runs - GPU latency: 7.31 ms - Host latency: 16.5 ms (enqueue 0.012 ms)
[07/25/2022-19:02:56] [I] === Performance summary ===
[07/25/2022-19:02:56] [I] Throughput: 2.5e+06 qps
[07/25/2022-19:02:56] [I] Latency: min = 9.4 ms, max = 51.4 ms, mean = 16.58 ms, median = 11.62 ms, percentile(99%) = 47.6 ms
[07/25/2022-19:02:56] [I] End-to-End Host Latency: min = 9.5 ms, max = 60 ms, mean = 20 ms, median = 15 ms, percentile(99%) = 55 ms
[07/25/2022-19:02:56] [I] GPU Compute Time: min = 5.99 ms, max = 9.45 ms, mean = 7.35 ms, median = 7.18 ms, percentile(99%) = 9.2 ms
"""


def test_older_summaries_keep_the_latency_line_apart_from_host_and_per_run_lines():
    parsed = parse_trtexec(TRT8_0_LOG)
    assert parsed["latency"] == {"min": 9.4, "max": 51.4, "mean": 16.58, "median": 11.62, "p99": 47.6}
    assert parsed["qps"] == 2.5e6 and parsed["gpu_compute"]["median"] == 7.18


def test_trt10_summary_with_batch_8(tmp_path):
    parsed = parse_trtexec(TRT10_LOG)
    assert parsed["trt_version"] == "10.3.0" and parsed["batch"] == 8 and parsed["precision"] == "fp16"
    assert parsed["latency"] == {"min": 0.62, "max": 1.53, "mean": 0.655, "median": 0.64, "p90": 0.67,
                                 "p95": 0.69, "p99": 0.81}
    assert parsed["gpu_compute"]["median"] == 0.52  # not confused with H2D / D2H "Latency" lines
    log = tmp_path / "trtexec.log"
    log.write_text(TRT10_LOG)
    row = trtexec_measurement(log)
    assert (row.name, row.backend, row.where, row.batch, row.threads) == ("pfld_fp16.engine", "tensorrt",
                                                                          "trtexec", 8, None)
    assert (row.p50_ms, row.p90_ms, row.p99_ms, row.mean_ms) == (0.64, 0.67, 0.81, 0.655)
    assert row.images_per_s == pytest.approx(1523.45 * 8)
    assert row.note == "TensorRT 10.3.0, GPU compute median 0.52 ms"


def test_trt8_summary_without_timestamps_or_p90():
    parsed = parse_trtexec(TRT8_LOG)
    assert parsed["trt_version"] == "8.5.2" and parsed["engine"] == "fsanet.onnx" and parsed["precision"] == "int8"
    assert parsed["batch"] == 1 and parsed["qps"] == 2000 and "p90" not in parsed["latency"]


def test_not_a_trtexec_log(tmp_path):
    with pytest.raises(DataError, match="not a trtexec timing log"):
        parse_trtexec("hello\nThroughput: 3 qps\n", "x.log")
    with pytest.raises(DataError, match="cannot read trtexec log"):
        trtexec_measurement(tmp_path / "missing.log")


def test_implicit_batch_from_the_batch_flag():
    log = TRT8_LOG.replace("--int8", "--int8 --batch=4")
    parsed = parse_trtexec(log)
    assert parsed["batch"] == 4 and parsed["precision"] == "int8"
    shapes = TRT8_LOG.replace("--int8", "--shapes=input:2x3x112x112 --batch=4")
    assert parse_trtexec(shapes)["batch"] == 2  # explicit shapes win (trtexec ignores --batch with them)
