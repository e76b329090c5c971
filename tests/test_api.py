"""The Python API (edgekit/api.py): load -> predict on real faces, export -> Artifact, evaluate -> EvalResult,
profile -> ProfileResult records; ``import edgekit`` stays light."""
from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

import edgekit
from edgekit.errors import EdgekitError
from edgekit.profile.worker import sample_image_path

HOPPER = sample_image_path()  # Grace Hopper's photo, shipped with matplotlib
CORNERS = (150.0, 100.0, 380.0, 330.0)


def test_import_is_light():
    code = ("import sys, edgekit\n"
            "heavy = lambda: {'torch', 'cv2', 'onnxruntime', 'ai_edge_litert'} & set(sys.modules)\n"
            "assert not heavy(), heavy()\n"
            "edgekit.load, edgekit.Face, edgekit.Frame  # the API itself needs OpenCV, never torch\n"
            "assert heavy() == {'cv2'}, heavy()")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_load_and_predict_a_given_box(tiny_onnx):
    with edgekit.load(tiny_onnx, threads=1) as model:
        assert model.spec.name == "tiny_landmarks" and model.file == str(tiny_onnx)
        faces = model.predict(HOPPER, box=CORNERS)
        again = model.predict(cv2.imread(str(HOPPER)), box=list(CORNERS))  # an array, OpenCV's BGR order
    assert len(faces) == 1 and isinstance(faces[0], edgekit.Face)
    face = faces[0]
    assert face.box == CORNERS and face.score == 1.0 and face.pose is None  # a given box scores 1
    assert face.landmarks.shape == (5, 2) and np.array_equal(face.landmarks, again[0].landmarks)
    x0, y0, x1, y1 = CORNERS
    assert ((face.landmarks >= (x0 - 60, y0 - 60)) & (face.landmarks <= (x1 + 60, y1 + 60))).all()  # on the crop


def test_every_face_up_to_max_faces(tiny_onnx):
    photo = cv2.imread(str(HOPPER))
    face = photo[60:380, 110:430]  # 320 x 320 around her face; beside it her mirror image, 240 x 240
    small = np.pad(cv2.resize(cv2.flip(face, 1), (240, 240)), ((40, 40), (0, 0), (0, 0)), constant_values=80)
    pair = np.hstack([face, small])
    with edgekit.load(tiny_onnx) as model:
        two, one = model.predict(pair, max_faces=5), model.predict(pair)
        none = model.predict(np.full((200, 200, 3), 90, np.uint8), max_faces=5)
    assert len(two) == 2 and none == []
    sides = [f.box[2] - f.box[0] for f in two]
    assert sides[0] > sides[1] and one[0].box == two[0].box  # biggest first
    assert two[0].box[2] <= 330 < two[1].box[0]  # the big face on the left, the small one on the right


def test_evaluate_returns_a_record(synthetic_faces, tmp_path):
    from edgekit.models.weights import build_model, save_weights

    weights = save_weights(build_model("pfld_0.25x"), tmp_path / "pfld.safetensors")
    result = edgekit.evaluate(weights, synthetic_faces, limit=4, threads=1)
    assert isinstance(result, edgekit.EvalResult)
    assert (result.model, result.task, result.count) == ("pfld_0.25x", "landmarks", 4)
    assert result.nme > 0 and 0 <= result.auc <= 1 and result.mae is None
    assert result.nme == result.report["nme"]  # the record and what ``eval --json`` writes agree


def test_profile_returns_records(tiny_onnx):
    rows = edgekit.profile(tiny_onnx, runs=5, warmup=1)
    assert len(rows) == 1 and isinstance(rows[0], edgekit.ProfileResult)
    row = rows[0]
    assert row.backend == "onnxruntime" and row.threads == 1 and row.batch == 1 and row.runs == 5
    assert 0 < row.p50_ms <= row.p99_ms and row.mmacs > 0


def test_export_returns_the_artifact_and_load_runs_its_selected_file(pfld, small_int8, faces_dir, tmp_path):
    from edgekit.specs import OnnxSection, Target

    target = Target(name="test-cpu", runtime="onnxruntime", onnx=OnnxSection(parity_images=8), int8=small_int8)
    lines = []
    artifact = edgekit.export(pfld, target=target, out=tmp_path / "art", calib=str(faces_dir), log=lines.append)
    assert isinstance(artifact, edgekit.Artifact) and artifact.folder == tmp_path / "art"
    assert {p.name for p in artifact.files} >= {"model.onnx", "model.int8.onnx"}
    assert artifact.gate["model.onnx"].delta == 0.0 and artifact.gate["model.int8.onnx"].metric == "nme"
    assert artifact.selected in artifact.files and artifact.gate[artifact.selected.name].passed
    assert any(line.startswith("gate: model.int8.onnx") for line in lines)
    with edgekit.load(artifact.folder) as model:
        assert model.file == str(artifact.selected)
        assert model.predict(HOPPER, box=CORNERS)[0].landmarks.shape == (68, 2)
    with pytest.raises(EdgekitError, match="file, not a folder"):
        edgekit.export(pfld, target=target, out=HOPPER)  # a regular file is never replaced
