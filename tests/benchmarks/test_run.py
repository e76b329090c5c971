"""benchmarks/run.py: rows joined from hand-made profile rows and metrics, the PFLD vs MediaPipe check, the
markdown page and plots; the whole command end to end (slow: exports on 2 cores take minutes, opt-in)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgekit.paths import PROJECT_DIR, WEIGHTS_DIR
from edgekit.profile.peak import PeakRate
from edgekit.profile.report import Measurement
from edgekit.registry import list_models

sys.path.insert(0, str(PROJECT_DIR / "benchmarks"))
from bench_doc import write_outputs  # noqa: E402
from bench_report import bench_rows, markdown_table, metric_text, target_verdict  # noqa: E402
from run import BenchConfig, main, parse_args  # noqa: E402

PEER = "mediapipe_face_landmark"
PFLD_INT8 = "pfld_0.25x/cpu-x86-int8/model.int8.onnx"
PFLD_TFLITE = "pfld_0.25x/android-arm64-int8/model.int8.tflite"
LANDMARKS = {"task": "landmarks", "nme": 4.5, "fr": 1.25, "auc": 0.55, "count": 770, "data": "ytf68/val"}


def _row(name: str, backend: str, precision: str, threads: int, p50: float, ratio: float, mmacs: float):
    return Measurement(name=name, backend=backend, precision=precision, threads=threads, batch=1, p50_ms=p50,
                       ratio=ratio, mmacs=mmacs)


@pytest.fixture()
def rows():
    measurements = [_row(PEER, "tflite", "fp16", 1, 1.0, 1.0, 35.0), _row(PEER, "tflite", "fp16", 2, 0.6, 1.0, 35.0),
                    _row(PFLD_INT8, "onnxruntime", "int8", 1, 0.3, 0.3, 21.0),
                    _row(PFLD_INT8, "onnxruntime", "int8", 2, 0.2, 1 / 3, 21.0),
                    _row(PFLD_TFLITE, "tflite", "int8", 1, 0.24, 0.24, 21.0)]
    owners = {PFLD_INT8: ("pfld_0.25x", "model.int8.onnx"), PFLD_TFLITE: ("pfld_0.25x", "model.int8.tflite")}
    return bench_rows(measurements, owners, {PFLD_INT8: LANDMARKS, PFLD_TFLITE: LANDMARKS})


def test_rows_join_threads_and_metrics(rows):
    peer, onnx, tflite = rows
    assert (peer.model, peer.metric, peer.p50_ms) == (PEER, None, {1: 1.0, 2: 0.6})
    assert (onnx.model, onnx.file, onnx.task, onnx.p50_ms, onnx.ratio) == (
        "pfld_0.25x", "model.int8.onnx", "landmarks", {1: 0.3, 2: 0.2}, {1: 0.3, 2: 1 / 3})
    # 21 MMACs at 42 GMAC/s: floor 0.5 ms; 0.3 ms measured -> 0.6x the float32 floor
    assert onnx.floor_ratio(42.0) == pytest.approx(0.6)
    assert peer.floor_ratio(35.0) == pytest.approx(1.0)  # 35 MMACs at 35 GMAC/s = 1 ms


def test_target_takes_the_fastest_int8_file_and_is_honest(rows):
    verdict = target_verdict(rows, PEER)
    assert (verdict.file, verdict.ratio, verdict.passed) == ("model.int8.tflite", pytest.approx(0.24), True)
    assert "0.240x (target <= 0.25x): PASS" in verdict.text()
    slower = target_verdict(rows[:2], PEER)  # only the ORT file: 0.3 / 1.0
    assert (slower.ratio, slower.passed) == (pytest.approx(0.3), False) and "FAIL" in slower.text()
    assert target_verdict(rows[1:], PEER) is None  # no peer row
    gated = target_verdict(rows, PEER, {("pfld_0.25x", "model.int8.onnx")})  # the TFLite file failed its gate
    assert (gated.file, gated.ratio) == ("model.int8.onnx", pytest.approx(0.3))
    assert target_verdict(rows, PEER, set()) is None  # no INT8 file within the accuracy budget


def test_text_of_metrics_and_the_table(rows):
    assert metric_text(LANDMARKS) == "NME 4.50%, FR 1.2%, AUC 0.550"
    pose = {"task": "pose", "yaw": 4.0, "pitch": 6.0, "roll": 5.0, "mae": 5.0}
    assert metric_text(pose) == "MAE 5.00° (yaw 4.00, pitch 6.00, roll 5.00)" and metric_text(None) == "n/a"
    head, rule, peer, onnx, _ = markdown_table(rows, 42.0)
    assert head.count("|") == rule.count("|") == peer.count("|") == 12
    assert "| pfld_0.25x | `model.int8.onnx` | onnxruntime | int8 | NME 4.50%" in onnx
    assert onnx.endswith("| 0.300 | 0.200 | 0.30 | 0.33 | 21.0 | 0.6 |")


def test_outputs_are_written(tmp_path, rows):
    peak = PeakRate(42.0, 512, 3, 1, 30.0, (0.2, 0.2, 0.2), 0.9)
    config = BenchConfig(threads=(1, 2))
    page = write_outputs(tmp_path, config, rows, [], peak, target_verdict(rows, PEER), ["pfld_1x"], 60.0)
    text = page.read_text()
    assert "**42.0 GMAC/s**" in text and "(median 30.0 GMAC/s; the process got 90% of a core" in text
    assert "0.240x (target <= 0.25x): PASS" in text
    assert "Not trained yet (no shipped weights), not benchmarked: pfld_1x." in text
    assert ("**pfld_0.25x**: 770 faces of `../shared/data/300w-train` (the val part of `split_samples` (by photo, "
            "stratified, seed 0, val_fraction 0.1)") in text
    for name in ("latency.png", "accuracy_latency.png"):
        assert (tmp_path / "benchmarks" / name).read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((tmp_path / "benchmarks" / "results.json").read_text())
    assert saved["peak"]["gmacs"] == 42.0 and len(saved["rows"]) == 3 and saved["target"]["passed"] is True


def test_quick_flag_and_model_list():
    config, out, work = parse_args(["--quick", "--models", "pfld_0.25x, fsanet", "--out", "x"])
    assert (config.models, config.threads, config.eval_limit, config.quick) == (("pfld_0.25x", "fsanet"), (1,), 64,
                                                                                True)
    assert (out, work) == (Path("x"), None)
    full, _, _ = parse_args([])
    assert (full.models, full.threads, full.runs, full.eval_limit) == (None, (1, 2), 200, None)


def test_bad_model_lists_are_one_line_errors(tmp_path, capsys):
    assert main(["--models", "no_such_model", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("benchmarks/run.py: error: unknown model(s) no_such_model (registered:")
    untrained = [name for name in list_models() if not (WEIGHTS_DIR / f"{name}.safetensors").is_file()]
    if untrained:  # a model without shipped weights is skipped with a line, and then nothing is left
        assert main(["--models", untrained[0], "--out", str(tmp_path)]) == 2
        out, err = capsys.readouterr()
        assert f"{untrained[0]}: not trained yet" in out and "no model to benchmark" in err
    assert not (tmp_path / "BENCHMARKS.md").exists()


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("EDGEKIT_BENCH_TEST"),
                    reason="exports fsanet for 2 targets (1-3 min on 2 busy cores): set EDGEKIT_BENCH_TEST=1 to run")
def test_quick_benchmark_end_to_end(tmp_path, shared_data):
    command = [sys.executable, str(PROJECT_DIR / "benchmarks" / "run.py"), "--quick", "--models", "fsanet",
               "--out", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=PROJECT_DIR, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    saved = json.loads((tmp_path / "benchmarks" / "results.json").read_text())
    files = {row["file"] for row in saved["rows"]}
    assert {"model.onnx", "model.int8.onnx", "model.fp32.tflite", "model.int8.tflite"} <= files
    assert all(row["metric"]["count"] == 64 for row in saved["rows"] if row["model"] == "fsanet")


def test_reuse_keeps_only_artifacts_newer_than_the_shipped_weights(tmp_path):
    from edgekit.artifact import MANIFEST
    from run import _fresh

    weights = (WEIGHTS_DIR / "ssrnet_md.safetensors").stat().st_mtime
    folder = tmp_path / "artifacts" / "ssrnet_md-cpu-x86-int8"
    assert not _fresh(folder, "ssrnet_md")  # nothing there
    folder.mkdir(parents=True)
    (folder / MANIFEST).write_text("{}")
    os.utime(folder / MANIFEST, (weights - 10, weights - 10))
    assert not _fresh(folder, "ssrnet_md")  # older than the weights: export again
    os.utime(folder / MANIFEST, (weights + 10, weights + 10))
    assert _fresh(folder, "ssrnet_md")
    assert parse_args(["--work", str(tmp_path), "--reuse"])[0].reuse
    with pytest.raises(SystemExit):
        parse_args(["--reuse"])  # needs --work
