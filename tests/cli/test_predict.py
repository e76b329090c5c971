"""``edgekit predict`` on Grace Hopper's photo with constant-output ONNX models whose right answers are known:
a landmark model that always outputs a head at yaw 25 deg (pose comes from solvePnP) and a pose-head model."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgekit.heads import RegressionParams
from edgekit.profile.worker import sample_image_path
from edgekit.runtime.detect import detect_face
from edgekit.runtime.facemodel import MEAN_FACE_68_3D
from edgekit.runtime.pose import project_points
from edgekit.runtime.preprocess import apply_affine, box_from_detection, crop_matrix
from edgekit.specs import HeadSpec, ModelSpec, PreprocessSpec

HOPPER = sample_image_path()
CORNERS = (150.0, 100.0, 380.0, 330.0)
PRE = PreprocessSpec(input_size=(64, 64))
LANDMARK_SPEC = ModelSpec(name="const68", task="landmarks", scheme="ibug68", preprocess=PRE,
                          head=HeadSpec("regression", ("landmarks",), RegressionParams(68)))
POSE_SPEC = ModelSpec(name="const_pose", task="pose", preprocess=PRE,
                      head=HeadSpec("pose_regression", ("pose",)))


def constant_onnx(path, spec: ModelSpec, values: np.ndarray):
    """A real ONNX model whose output is ``values`` (1, K) for every image: mean(input) * 0 + values."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from edgekit.backend.onnxruntime.loader import embed_spec

    name = spec.head.outputs[0]
    nodes = [helper.make_node("ReduceMean", ["input"], ["m"], axes=[1, 2, 3], keepdims=1),
             helper.make_node("Flatten", ["m"], ["f"]), helper.make_node("Mul", ["f", "zero"], ["z"]),
             helper.make_node("Add", ["z", "values"], [name])]
    inits = [numpy_helper.from_array(np.zeros((1, 1), np.float32), "zero"),
             numpy_helper.from_array(values.reshape(1, -1).astype(np.float32), "values")]
    graph = helper.make_graph(nodes, "const", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                             ["batch", 3, 64, 64])],
                              [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", values.size])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    embed_spec(model, spec)
    onnx.save(model, str(path))
    return path


@pytest.fixture()
def yaw25(tmp_path):
    """(model path, the 68 image points it predicts for CORNERS on Grace Hopper's photo)."""
    height, width = cv2.imread(str(HOPPER)).shape[:2]
    points = project_points(MEAN_FACE_68_3D, 25.0, 0.0, 0.0, (width, height), centre=(265.0, 230.0))
    matrix = crop_matrix(box_from_detection(*CORNERS, PRE), PRE)
    values = apply_affine(points, matrix) / np.array(PRE.input_size)  # crop units in [0, 1]
    return constant_onnx(tmp_path / "yaw25.onnx", LANDMARK_SPEC, values), points


def test_landmarks_in_image_pixels_and_pose_by_solvepnp(run_cli, yaw25):
    model, points = yaw25
    code, out, err = run_cli("predict", model, HOPPER, "--box", ",".join(map(str, CORNERS)), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["model"] == "const68" and result["pose_source"] == "solvePnP on landmarks"
    np.testing.assert_allclose(result["landmarks"], points, atol=0.01)  # JSON keeps 2 decimals
    pose = result["pose"]
    assert abs(pose["yaw"] - 25) < 0.5 and abs(pose["pitch"]) < 0.5 and abs(pose["roll"]) < 0.5


def test_pose_head_model(run_cli, tmp_path):
    model = constant_onnx(tmp_path / "pose.onnx", POSE_SPEC, np.array([10.0, -5.0, 3.0]))
    code, out, _ = run_cli("predict", model, HOPPER, "--json")
    result = json.loads(out)
    assert code == 0 and result["landmarks"] is None and result["pose_source"] == "pose head"
    assert result["pose"] == {"yaw": 10.0, "pitch": -5.0, "roll": 3.0}
    code, out, _ = run_cli("predict", model, HOPPER)
    assert "yaw +10.0 pitch -5.0 roll +3.0 deg (pose head)" in out


def test_without_box_the_detector_finds_the_face(run_cli, yaw25):
    code, out, _ = run_cli("predict", yaw25[0], HOPPER, "--json")
    expected = detect_face(cv2.imread(str(HOPPER)))  # the detector's corners x0, y0, x1, y1, as --box takes them
    assert code == 0
    np.testing.assert_allclose(json.loads(out)["box"], expected, atol=0.01)
    code, again, _ = run_cli("predict", yaw25[0], HOPPER, "--json", "--box", ",".join(map(str, expected)))
    assert json.loads(again)["landmarks"] == json.loads(out)["landmarks"]  # the printed box gives the same crop


def test_draw_writes_one_overlay_per_image(run_cli, yaw25, tmp_path):
    second = tmp_path / "second.jpg"
    second.write_bytes(HOPPER.read_bytes())
    code, out, _ = run_cli("predict", yaw25[0], HOPPER, second, "--box", "150,100,380,330",
                           "--draw", tmp_path / "out.png")
    assert code == 0 and out.count("68 landmarks") == 2
    for stem in ("grace_hopper", "second"):
        overlay = cv2.imread(str(tmp_path / f"out-{stem}.png"))
        original = cv2.imread(str(HOPPER))
        assert overlay.shape == original.shape
        x, y = np.round(yaw25[1][30]).astype(int)  # nose tip: a green landmark dot
        assert tuple(overlay[y, x]) == (0, 255, 0)
    assert not list(tmp_path.glob(".*tmp"))  # atomic writes leave no temporary files


def test_user_errors_are_one_line(run_cli, yaw25, tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    code, _, err = run_cli("predict", yaw25[0], text)
    assert code == 2 and str(text) in err and err.count("\n") == 1
    flat = tmp_path / "flat.png"
    cv2.imwrite(str(flat), np.full((200, 200, 3), 90, np.uint8))
    code, _, err = run_cli("predict", yaw25[0], flat)
    assert code == 2 and f"{flat}: no face box given and the face detector found no face" in err
    code, _, err = run_cli("predict", tmp_path / "missing.onnx", HOPPER)
    assert code == 2 and "file not found" in err
    with pytest.raises(SystemExit) as info:
        run_cli("predict", yaw25[0], HOPPER, "--box", "1,2,3")
    assert info.value.code == 2


def test_every_face_of_each_image_in_a_folder(run_cli, yaw25, tmp_path):
    """Two faces (her photo's face and its smaller mirror image side by side) and the photo itself, as a folder."""
    photo = cv2.imread(str(HOPPER))
    face = photo[60:380, 110:430]
    small = np.pad(cv2.resize(cv2.flip(face, 1), (240, 240)), ((40, 40), (0, 0), (0, 0)), constant_values=80)
    folder = tmp_path / "faces"
    folder.mkdir()
    cv2.imwrite(str(folder / "pair.png"), np.hstack([face, small]))
    cv2.imwrite(str(folder / "single.png"), photo)
    lines = tmp_path / "faces.jsonl"
    code, out, err = run_cli("predict", yaw25[0], folder, "--max-faces", "3", "--jsonl", lines)
    assert code == 0, err
    records = [json.loads(line) for line in lines.read_text().splitlines()]
    assert [(Path(r["image"]).name, r["face"]) for r in records] == [("pair.png", 0), ("pair.png", 1),
                                                                      ("single.png", 0)]
    left, right = records[0]["box"], records[1]["box"]
    assert left[2] - left[0] > right[2] - right[0] and left[2] <= 330 < right[0]  # biggest first, side by side
    assert records[0]["file"] == str(yaw25[0]) and f"const68: running {yaw25[0]} (onnx fp32)" in out
    assert "pair.png face 1/2:" in out and "pair.png face 2/2:" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["faces", "faces.jsonl", "yaw25.onnx"]  # no temp left
    code, out, _ = run_cli("predict", yaw25[0], str(folder / "*.png"), "--json")
    assert code == 0 and [json.loads(line)["face"] for line in out.splitlines()] == [0, 0]  # --max-faces 1


def test_a_broken_video_is_one_line_with_ffmpeg_kept_quiet(yaw25, tmp_path):
    """FFmpeg prints its own complaint ("moov atom not found") on fd 2 below Python: a real process shows it."""
    import subprocess
    import sys

    video = tmp_path / "bad.mp4"
    video.write_bytes(b"not a video at all")
    done = subprocess.run([sys.executable, "-m", "edgekit", "predict", str(yaw25[0]), str(video)],
                          capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"edgekit: error: {video}: OpenCV cannot read this video "
                                                "(unknown container or codec)"]  # fmt: skip


def test_an_output_flag_with_nothing_to_write_is_refused(run_cli, yaw25, tmp_path):
    out = tmp_path / "drawn.mp4"
    code, _, err = run_cli("predict", yaw25[0], HOPPER, "--save", out)
    assert code == 2 and err.strip() == f"edgekit: error: {out}: --save applies to videos and cameras, and no " \
                                        "INPUT is one"
    assert not out.exists()
