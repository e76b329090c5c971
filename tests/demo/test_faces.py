"""The demo's calibration faces: the shared data's annotated faces when present (as ``edgekit export`` calibrates and
gates), else augmentations of matplotlib's Grace Hopper photo with a label-free gate the report explains."""
from __future__ import annotations

import cv2

from edgekit.demo.faces import REAL_CALIBRATION, choose_calibration, shipped_faces


def test_real_annotated_faces_when_the_shared_data_is_here(shared_data, tmp_path):
    choice = choose_calibration(tmp_path / "calibration", shipped_faces(), 8)
    assert choice.real and choice.calib == REAL_CALIBRATION and "own validation set" in choice.text
    assert not (tmp_path / "calibration").exists()  # nothing written: export reads the YAML's folders


def test_augmented_shipped_photo_without_it(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEKIT_SHARED_DATA", str(tmp_path / "no-data"))
    choice = choose_calibration(tmp_path / "calibration", shipped_faces(), 4)
    assert not choice.real and choice.calib == str(tmp_path / "calibration.yaml")
    photos = sorted((tmp_path / "calibration").glob("face_*.jpg"))
    assert [p.name for p in photos] == ["face_000.jpg", "face_001.jpg", "face_002.jpg", "face_003.jpg"]
    assert cv2.imread(str(photos[0])).shape[2] == 3
    assert "label-free" in choice.text and "upper bound" in choice.text  # why an INT8 file may fail here
    assert "boxes: detector" in (tmp_path / "calibration.yaml").read_text()
