"""``edgekit profile`` end to end: an artifact and a lone file side by side, a trtexec log in the same table,
outputs written, results recorded in the artifact's manifest, one-line errors."""
from __future__ import annotations

import csv
import json

import pytest

TRTEXEC = """&&&& RUNNING TensorRT.trtexec [TensorRT v100300] # trtexec --loadEngine=tiny.engine --fp16
[I] Throughput: 5000 qps
[I] Latency: min = 0.1 ms, max = 0.3 ms, mean = 0.2 ms, median = 0.19 ms, percentile(90%) = 0.25 ms, \
percentile(99%) = 0.29 ms
"""  # hand-written in trtexec's documented summary format (one Latency line: the backslash joins them)


@pytest.fixture()
def artifact(tiny_artifact):
    return tiny_artifact()


def test_profile_side_by_side_with_outputs(run_cli, artifact, tiny_onnx, tmp_path):
    log = tmp_path / "trtexec.log"
    log.write_text(TRTEXEC)
    code, out, err = run_cli("profile", artifact, tiny_onnx, "--threads", "1", "--batch", "1,3", "--runs", "20",
                             "--warmup", "2", "--trtexec-log", log, "--baseline", "tiny.onnx",
                             "--json", tmp_path / "p.json", "--csv", tmp_path / "p.csv", "--plot", tmp_path / "p.png",
                             "--record")
    assert code == 0, err
    results = json.loads((tmp_path / "p.json").read_text())["results"]
    assert [(r["name"], r["batch"], r["where"]) for r in results] == [
        ("art/model.onnx", 1, "host"), ("art/model.onnx", 3, "host"), ("tiny.onnx", 1, "host"),
        ("tiny.onnx", 3, "host"), ("tiny.engine", 1, "trtexec")]
    assert results[2]["ratio"] == 1.0 and results[0]["ratio"] > 0 and results[4]["p50_ms"] == 0.19
    assert len(list(csv.DictReader((tmp_path / "p.csv").open()))) == 5
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    assert out.splitlines()[0].startswith("file") and "recorded in" in out
    from edgekit.artifact import read_manifest

    recorded = read_manifest(artifact).checks.profile
    assert [r["batch"] for r in recorded.results] == [1, 3] and recorded.context["runs"] == 20


def test_profiling_an_artifact_leaves_its_manifest_alone_without_record(run_cli, artifact):
    before = (artifact / "edgekit.json").read_bytes()
    code, out, err = run_cli("profile", artifact, "--runs", "5", "--warmup", "1")
    assert code == 0, err
    assert "recorded in" not in out and (artifact / "edgekit.json").read_bytes() == before


def test_tflite_rows_at_batch_above_one_say_why(run_cli):
    from edgekit.errors import EdgekitError
    from edgekit.profile.peers import mediapipe_face_landmark

    try:
        mediapipe_face_landmark()
    except EdgekitError as exc:
        pytest.skip(f"mediapipe wheel not fetchable: {exc}")
    code, out, _ = run_cli("profile", "--peer", "mediapipe", "--batch", "1,4", "--runs", "10", "--warmup", "1")
    lines = [line for line in out.splitlines() if line.startswith("mediapipe_face_landmark")]
    assert code == 0 and len(lines) == 2 and lines[1].endswith("TFLite files run at batch 1 only")


def test_user_errors(run_cli, tmp_path):
    code, _, err = run_cli("profile")
    assert code == 2 and "nothing to profile" in err
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07garbage")
    code, _, err = run_cli("profile", broken, "--runs", "5")
    assert code == 2 and err.startswith(f"edgekit: error: {broken}") and err.count("\n") == 1
    code, _, err = run_cli("profile", "--trtexec-log", tmp_path / "none.log")
    assert code == 2 and "cannot read trtexec log" in err
    with pytest.raises(SystemExit) as info:
        run_cli("profile", broken, "--threads", "1,x")
    assert info.value.code == 2
