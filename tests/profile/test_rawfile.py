"""Profiling model files edgekit did not export: shapes and dtypes from the file, random or given input, the same
workers and the same table as edgekit's own files."""
from __future__ import annotations

import json

import numpy as np
import pytest

from edgekit.errors import EdgekitError
from edgekit.profile.rawfile import TensorInfo, carries_spec, file_inputs, input_batch


@pytest.fixture()
def foreign_onnx(tmp_path, make_tiny_onnx):
    """A real ONNX model built with onnx.helper, with no edgekit metadata (as another tool would write it)."""
    return make_tiny_onnx(tmp_path / "foreign" / "model.onnx", size=24, embed=False)


@pytest.fixture(scope="module")
def mediapipe_tflite():
    from edgekit.profile.peers import mediapipe_face_landmark

    try:
        return mediapipe_face_landmark()
    except EdgekitError as exc:
        pytest.skip(f"MediaPipe's face_landmark.tflite is not cached and cannot be fetched: {exc}")


def test_inputs_come_from_the_file(foreign_onnx, tiny_onnx, mediapipe_tflite):
    assert not carries_spec(foreign_onnx) and carries_spec(tiny_onnx)
    assert file_inputs(foreign_onnx) == [TensorInfo("input", (None, 3, 24, 24), "float32")]
    assert not carries_spec(mediapipe_tflite)
    assert file_inputs(mediapipe_tflite) == [TensorInfo("input_1", (1, 192, 192, 3), "float32")]


def test_input_batch_random_and_given():
    info = [TensorInfo("x", (None, 2, 3), "float32"), TensorInfo("ids", (None, 4), "int64")]
    feeds = input_batch(info, 5)
    assert feeds["x"].shape == (5, 2, 3) and feeds["x"].dtype == np.float32 and (feeds["x"] < 1).all()
    assert feeds["ids"].shape == (5, 4) and set(np.unique(feeds["ids"])) <= set(range(256))
    given = input_batch(info[:1], 3, np.arange(6, dtype=np.float32).reshape(1, 2, 3))["x"]
    assert given.shape == (3, 2, 3) and (given[2] == np.arange(6).reshape(2, 3)).all()
    with pytest.raises(EdgekitError, match=r"--input holds shape \[4\]"):
        input_batch(info[:1], 1, np.zeros(4, np.float32))
    with pytest.raises(EdgekitError, match="free dimensions"):
        input_batch([TensorInfo("x", (None, None), "float32")], 1)


def test_profile_foreign_files_beside_an_edgekit_file(run_cli, foreign_onnx, tiny_onnx, mediapipe_tflite, tmp_path):
    code, out, err = run_cli("profile", tiny_onnx, foreign_onnx, mediapipe_tflite, "--batch", "1,2", "--runs", "5",
                             "--warmup", "1", "--json")
    assert code == 0, err
    rows = {(r["name"], r["batch"]): r for r in json.loads(out)["results"]}
    assert len(rows) == 6
    foreign, mediapipe = rows[("model.onnx", 2)], rows[(mediapipe_tflite.name, 1)]
    assert foreign["runs"] == 5 and foreign["p50_ms"] > 0 and foreign["preprocess_ms"] is None
    assert foreign["note"] == "no edgekit spec: model call on random input" and foreign["mmacs"] > 0
    assert mediapipe["runs"] == 5 and mediapipe["precision"] == "fp16" and mediapipe["file_mb"] > 1
    assert rows[("tiny.onnx", 1)]["preprocess_ms"] > 0  # edgekit's own file: the full path, as before
    assert rows[(mediapipe_tflite.name, 2)]["note"] == "TFLite files run at batch 1 only"


def test_given_input_and_its_one_line_refusals(run_cli, foreign_onnx, tmp_path):
    good, bad, pickled = tmp_path / "x.npy", tmp_path / "bad.npy", tmp_path / "obj.npy"
    np.save(good, np.zeros((3, 24, 24), np.float32))
    np.save(bad, np.zeros((3, 8, 8), np.float32))
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    code, out, err = run_cli("profile", foreign_onnx, "--input", good, "--runs", "3", "--warmup", "0")
    assert code == 0 and "no edgekit spec: model call on x.npy" in out, err
    for path, problem in ((bad, "--input holds shape [3, 8, 8]"), (pickled, "not a readable .npy array")):
        code, out, err = run_cli("profile", foreign_onnx, "--input", path, "--runs", "3")
        assert code == 2 and err.startswith(f"edgekit: error: {path}: {problem}") and err.count("\n") == 1


def test_a_batch_too_big_for_memory_is_refused_from_the_files_own_shape(run_cli, make_tiny_onnx, tmp_path):
    model = make_tiny_onnx(tmp_path / "big.onnx", size=2048, embed=False)
    code, out, err = run_cli("profile", model, "--batch", "4096", "--runs", "1")
    assert code == 2 and out == "" and "--batch 4096 (2048x2048x3 float32 inputs per face" in err
