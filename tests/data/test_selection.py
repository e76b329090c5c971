from __future__ import annotations

import hashlib

import numpy as np
import pytest

from edgekit.errors import DataError
from edgekit.recipe import DatasetConfig, SplitConfig
from edgekit.data.selection import load_samples, pose_label, split_samples


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


def _faces(names: list[str]):
    from types import SimpleNamespace

    return [SimpleNamespace(image_path=f"/data/{name}.jpg") for name in names]


def test_photo_split_keeps_a_photo_on_one_side_and_stratifies():
    from edgekit.data.selection import photo_of

    names = [f"afw_{p}_{f}" for p in range(20) for f in (1, 2)] + [f"helen_{p}_1" for p in range(40)] \
        + [f"lfpw_image_{p:04d}" for p in range(40)]
    faces = _faces(names)
    config = dict(seed=0, val_fraction=0.1, by="photo", stratify=True)
    train = split_samples(faces, SplitConfig(part="train", **config))
    val = split_samples(faces, SplitConfig(part="val", **config))
    train_photos, val_photos = {photo_of(f.image_path) for f in train}, {photo_of(f.image_path) for f in val}
    assert not train_photos & val_photos and len(train) + len(val) == len(faces)
    assert sorted(p.split("_")[0] for p in val_photos) == ["afw", "afw", "helen", "helen", "helen", "helen",
                                                          "lfpw", "lfpw", "lfpw", "lfpw"]
    assert photo_of("/x/afw_123_2.jpg") == "afw_123" and photo_of("/x/lfpw_image_0001.jpg") == "lfpw_image_0001"


def test_photo_split_is_stable_when_files_are_added():
    config = SplitConfig(seed=0, val_fraction=0.2, part="val", by="photo")
    before = split_samples(_faces([f"helen_{p}_1" for p in range(100)]), config)
    after = split_samples(_faces([f"helen_{p}_1" for p in range(101)]), config)
    assert len({f.image_path for f in before} - {f.image_path for f in after}) <= 1


def test_300w_split_is_disjoint_and_fixed(shared_data):
    """The recipes' 300W split: 198 validation faces (10 % of the photos per subset), no photo on both sides."""
    from edgekit.registry import create_model
    from edgekit.recipe import load_recipe
    from edgekit.data.selection import photo_of

    recipe = load_recipe("pfld_0.25x")
    spec = create_model("pfld_0.25x").spec
    train, val = load_samples(recipe.data.train, spec), load_samples(recipe.data.val, spec)
    assert (len(train), len(val)) == (1812, 198)
    assert not {photo_of(s.image_path) for s in train} & {photo_of(s.image_path) for s in val}
    names = "\n".join(s.image_path.name for s in val)  # the documented split, byte for byte
    assert hashlib.sha1(names.encode()).hexdigest()[:16] == "db6bafcf81f2b19b"
