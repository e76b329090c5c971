"""The default face detector (BlazeFace, Haar where its files are not installed) and Haar on real faces: matplotlib's
bundled Grace Hopper photo (always here) and 50 ytf68 validation images (shared data). Detector plumbing: registry,
callables, import paths, errors, the default's fallback."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgekit.errors import DataError, ModelFileError, SpecError
from edgekit.profile.worker import sample_image_path
from edgekit.runtime.detect import (CallableDetector, HaarDetector, biggest_first, detect_face, get_detector,
                                    register_detector)

# Grace Hopper's eyes (pupils near (225, 200) and (310, 195) in the 512 x 600 photo, read off the image)
EYES_REGION = (205, 180, 330, 215)  # x0, y0, x1, y1


@pytest.fixture(scope="module")
def hopper() -> np.ndarray:
    return cv2.imread(str(sample_image_path()))


def _contains(box, region) -> bool:
    return box[0] <= region[0] and box[1] <= region[1] and box[2] >= region[2] and box[3] >= region[3]


@pytest.mark.parametrize("name", ["haar", None], ids=["haar", "default"])
def test_exactly_grace_hoppers_face(hopper, name):
    faces = get_detector(name).detect(hopper)
    assert len(faces) == 1
    x0, y0, x1, y1, score = faces[0]
    assert _contains((x0, y0, x1, y1), EYES_REGION)
    assert 150 < x1 - x0 < 350 and 0 <= x0 and x1 <= hopper.shape[1]  # a face, not the whole picture
    assert isinstance(score, float)


def test_mirrored_and_downscaled_photo_still_one_face(hopper):
    mirrored = cv2.flip(hopper, 1)
    (face,) = get_detector("haar").detect(mirrored)
    width = hopper.shape[1]
    assert _contains(face[:4], (width - EYES_REGION[2], EYES_REGION[1], width - EYES_REGION[0], EYES_REGION[3]))
    big = cv2.resize(hopper, None, fx=2, fy=2)  # 1024 x 1200: detected on a shrunk copy, boxes scaled back
    (face,) = HaarDetector().detect(big)
    assert _contains(face[:4], tuple(2 * v for v in EYES_REGION))


def test_no_face_in_a_flat_image():
    flat = np.full((240, 320, 3), 128, np.uint8)
    assert get_detector().detect(flat) == []
    with pytest.raises(DataError, match="found no face"):
        detect_face(flat)


def test_biggest_face_first_and_default_scores():
    boxes = biggest_first([(0, 0, 10, 10), (5, 5, 50, 40, 0.3), (0, 0, 20, 20, 0.9)])
    assert boxes == [(5.0, 5.0, 50.0, 40.0, 0.3), (0.0, 0.0, 20.0, 20.0, 0.9), (0.0, 0.0, 10.0, 10.0, 1.0)]


def test_callables_registry_and_import_paths(hopper):
    fixed = lambda image: [(1, 2, 3, 4), (0, 0, 100, 100, 0.5)]  # noqa: E731
    detector = get_detector(fixed)
    assert isinstance(detector, CallableDetector)
    assert detector.detect(hopper)[0] == (0.0, 0.0, 100.0, 100.0, 0.5)
    assert detect_face(hopper, fixed) == (0.0, 0.0, 100.0, 100.0)
    register_detector("fixed_for_test", lambda arg: CallableDetector(lambda image: [(0, 0, float(arg), 5)]))
    assert get_detector("fixed_for_test:7").detect(hopper) == [(0.0, 0.0, 7.0, 5.0, 1.0)]
    assert isinstance(get_detector("edgekit.runtime.detect:HaarDetector"), HaarDetector)


def test_detector_errors_are_one_line(tmp_path):
    with pytest.raises(SpecError, match="unknown face detector 'nope'"):
        get_detector("nope")
    with pytest.raises(SpecError, match="needs a model file"):
        get_detector("yunet")
    with pytest.raises(ModelFileError, match="not found"):
        get_detector(f"yunet:{tmp_path / 'missing.onnx'}")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a network")
    with pytest.raises(ModelFileError, match="YuNet") as info:
        get_detector(f"yunet:{junk}")
    assert "\n" not in str(info.value) and str(junk) in str(info.value)
    with pytest.raises(SpecError, match="cannot import"):
        get_detector("edgekit.no_such_module:thing")


def test_detection_rate_on_ytf68_val(shared_data):
    from edgekit.data.readers import read_pts_points

    images = sorted((shared_data / "ytf68" / "val").glob("*.jpg"))[:50]
    assert len(images) == 50
    detector = get_detector()
    hits = 0
    for path in images:
        faces = detector.detect(cv2.imread(str(path)))
        centre = np.nanmean(read_pts_points(path.with_suffix(".pts")), axis=0)  # the labelled face's centre
        hits += bool(faces) and _contains(faces[0][:4], (*centre, *centre))
    print(f"default detector's rate on 50 ytf68/val images (biggest box contains the landmark centre): {hits}/50")
    assert hits / len(images) > 0.8


def test_default_falls_back_to_haar_with_one_note_when_blazeface_is_not_installed(monkeypatch, tmp_path, capsys):
    from edgekit.fetch import MODELS_ENV, WHEEL_ENV
    from edgekit.runtime import detect

    monkeypatch.setenv(MODELS_ENV, str(tmp_path / "none"))
    monkeypatch.delenv(WHEEL_ENV, raising=False)
    detect._blazeface.cache_clear()
    detect.default_detector.cache_clear()
    try:
        assert isinstance(get_detector(), HaarDetector) and detect.default_detector_name() == "haar"
        get_detector()
        (note,) = capsys.readouterr().err.splitlines()  # once, however often the default is asked for
        assert note.startswith("edgekit: note: ") and "python -m edgekit.fetch" in note
        assert note.endswith("using the haar face detector")
    finally:
        detect._blazeface.cache_clear()
        detect.default_detector.cache_clear()
