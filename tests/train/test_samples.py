from __future__ import annotations

import numpy as np
import pytest

from edgekit.errors import DataError
from edgekit.train.recipe import DatasetConfig, SplitConfig
from edgekit.train.samples import load_samples, pose_label, split_samples


@pytest.fixture(scope="module")
def pfld_spec():
    from edgekit.registry import create_model

    return create_model("pfld_0.25x").spec


def test_split_is_fixed_disjoint_and_complete():
    items = list(range(50))
    train = split_samples(items, SplitConfig(seed=0, val_fraction=0.2, part="train"))
    val = split_samples(items, SplitConfig(seed=0, val_fraction=0.2, part="val"))
    assert len(val) == 10 and len(train) == 40
    assert sorted(train + val) == items and train == sorted(train)
    assert val == split_samples(items, SplitConfig(seed=0, val_fraction=0.2, part="val"))
    assert val != split_samples(items, SplitConfig(seed=1, val_fraction=0.2, part="val"))


def test_load_samples_sorted_split_and_capped(synthetic_faces, pfld_spec):
    every = load_samples(DatasetConfig(str(synthetic_faces)), pfld_spec)
    assert [s.image_path.name for s in every] == [f"face_{i:04d}.jpg" for i in range(16)]
    val = load_samples(DatasetConfig(str(synthetic_faces), SplitConfig(val_fraction=0.25, part="val")), pfld_spec)
    assert len(val) == 4
    capped = load_samples(DatasetConfig(str(synthetic_faces), max_samples=5), pfld_spec)
    assert [s.image_path for s in capped] == [s.image_path for s in every[:5]]


def test_folder_without_annotations_is_a_data_error(tmp_path, pfld_spec):
    (tmp_path / "a.txt").write_text("nothing here")
    with pytest.raises(DataError, match="no annotated faces") as info:
        load_samples(DatasetConfig(str(tmp_path)), pfld_spec)
    assert str(tmp_path) in str(info.value)
    with pytest.raises(DataError, match="not found"):
        load_samples(DatasetConfig(str(tmp_path / "missing")), pfld_spec)


def test_pose_label_from_ibug68_landmarks_when_not_annotated():
    from edgekit.data import Sample
    from edgekit.data.synthetic import draw_face

    image, landmarks, pose = draw_face(np.random.default_rng(2), 256, yaw=-30.0, pitch=8.0, roll=-6.0)
    sample = Sample(image_path=None, landmarks=landmarks, pose=None, scheme="ibug68", box=None, fmt="pts",
                    annotation_path=None)
    np.testing.assert_allclose(pose_label(sample, (256, 256)), pose, atol=1.0)
    annotated = Sample(None, landmarks, np.array([1.0, 2.0, 3.0]), "ibug68", None, "mat", None)
    np.testing.assert_array_equal(pose_label(annotated, (256, 256)), [1.0, 2.0, 3.0])
