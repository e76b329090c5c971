"""Calibration sets: refusals that name the problem, the split, the whole-image box, the content-keyed cache."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from edgekit.errors import DataError, SpecError
from edgekit.export.calibset import load_calibration, split_counts
from edgekit.runtime.preprocess import Box
from edgekit.specs import Int8Section


@pytest.fixture()
def synthetic_dir(tmp_path):
    from edgekit.data.synthetic import write_synthetic_folder

    folder = tmp_path / "faces"
    write_synthetic_folder(folder, 12, np.random.default_rng(3), size=96)
    return folder


def test_split_counts():
    int8 = Int8Section(min_images=8, max_images=16, holdout_images=8)
    assert split_counts(40, int8, "x") == (16, 8)  # capped by max_images
    assert split_counts(12, int8, "x") == (8, 4)  # hold back only what min_images leaves
    assert split_counts(8, int8, "x") == (8, 0)
    with pytest.raises(DataError, match="only 7 images, calibration needs at least 8"):
        split_counts(7, int8, "x")


def test_empty_folder_is_refused(pfld, tmp_path, small_int8):
    with pytest.raises(DataError, match="no images to calibrate on") as info:
        load_calibration(str(tmp_path), pfld.spec, small_int8)
    assert str(tmp_path) in str(info.value)


def test_tiny_folder_is_refused(pfld, synthetic_dir):
    with pytest.raises(DataError, match="only 12 images.*at least 32"):
        load_calibration(str(synthetic_dir), pfld.spec, Int8Section())


def test_non_image_file_is_named(pfld, synthetic_dir, small_int8):
    (synthetic_dir / "notes.md").write_text("hello")
    with pytest.raises(DataError, match="not an image") as info:
        load_calibration(str(synthetic_dir), pfld.spec, small_int8)
    assert "notes.md" in str(info.value)


def test_unreadable_image_is_named(pfld, synthetic_dir):
    (synthetic_dir / "face_0000.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (synthetic_dir / "face_0000.pts").unlink()
    with pytest.raises(DataError) as info:
        load_calibration(str(synthetic_dir), pfld.spec, Int8Section(min_images=4, max_images=16, holdout_images=0))
    assert "face_0000.jpg" in str(info.value)


def test_boxes_from_annotations_and_whole_image(pfld, synthetic_dir, tmp_path, small_int8):
    with_pts = load_calibration(str(synthetic_dir), pfld.spec, small_int8)
    assert (len(with_pts.calib), len(with_pts.holdout)) == (8, 4)
    assert with_pts.calib.tensors.shape == (8, 3, 112, 112) and with_pts.calib.matrices.shape == (8, 2, 3)
    assert not set(with_pts.calib.paths) & set(with_pts.holdout.paths)
    assert all(box.side < 96 for box in with_pts.calib.boxes)  # landmark boxes, not the whole 96 px image
    crops = tmp_path / "crops"
    crops.mkdir()
    for image in sorted(synthetic_dir.glob("*.jpg")):
        shutil.copy(image, crops / image.name)
    whole = load_calibration(str(crops), pfld.spec, small_int8)
    assert set(whole.calib.boxes) == {Box(47.5, 47.5, 96.0)}  # centre (w - 1) / 2, side max(w, h)


def test_second_call_hits_the_cache(pfld, synthetic_dir, small_int8, tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEKIT_CACHE", str(tmp_path / "cache"))
    first = load_calibration(str(synthetic_dir), pfld.spec, small_int8)
    second = load_calibration(str(synthetic_dir), pfld.spec, small_int8)
    assert not first.from_cache and second.from_cache and first.sha256 == second.sha256
    np.testing.assert_array_equal(first.calib.tensors, second.calib.tensors)
    assert first.holdout.paths == second.holdout.paths
    moved = shutil.copytree(synthetic_dir, tmp_path / "moved")  # same bytes elsewhere: cached arrays, new paths
    third = load_calibration(str(moved), pfld.spec, small_int8)
    assert third.from_cache and all(p.startswith(str(moved)) for p in third.calib.paths + third.holdout.paths)


def test_calibration_yaml_sources_and_unknown_key(pfld, synthetic_dir, tmp_path, small_int8):
    good = tmp_path / "set.yaml"
    good.write_text(f"sources:\n  - path: {synthetic_dir}\n    boxes: annotations\n    limit: 10\n")
    result = load_calibration(str(good), pfld.spec, small_int8)
    assert len(result.calib) + len(result.holdout) == 10 and result.source == str(good)
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"sources:\n  - path: {synthetic_dir}\n    box: annotations\n")
    with pytest.raises(SpecError, match="unknown key 'box'") as info:
        load_calibration(str(bad), pfld.spec, small_int8)
    assert "bad.yaml" in str(info.value)
