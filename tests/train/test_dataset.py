from __future__ import annotations

import numpy as np
import pytest
import torch

from edgekit.train.dataset import build_datasets


@pytest.fixture(scope="module")
def datasets(synthetic_faces):
    from edgekit.recipe import recipe_from_dict
    from edgekit.registry import create_model

    spec = create_model("pfld_0.25x").spec
    folder = {"path": str(synthetic_faces)}
    recipe = recipe_from_dict({"model": "pfld_0.25x", "seed": 5, "data": {"train": folder, "val": folder}})
    return build_datasets(recipe, spec)


def test_items_have_the_batch_contract(datasets):
    train, val = datasets
    item = val[0]
    assert item["image"].shape == (3, 112, 112) and item["image"].dtype == torch.float32
    assert item["landmarks"].shape == (68, 2) and item["pose"].shape == (3,)
    assert torch.isfinite(item["pose"]).all()  # solvePnP labels for landmark-only data


def test_val_landmarks_are_the_gt_in_crop_pixels(datasets):
    _, val = datasets
    item = val[3]
    points = item["landmarks"].numpy()
    # box from GT landmarks x 1.2: the landmark bbox is centred and spans 112 / 1.2 crop px
    lo, hi = points.min(axis=0), points.max(axis=0)
    np.testing.assert_allclose((lo + hi) / 2, [55.5, 55.5], atol=1e-3)
    assert max(hi - lo) == pytest.approx(112 / 1.2, abs=1e-3)


def test_augmentation_depends_only_on_seed_epoch_index(datasets):
    train, _ = datasets
    train.set_epoch(0)
    first = train[2]
    train.set_epoch(1)
    other_epoch = train[2]
    train.set_epoch(0)
    again = train[2]
    assert torch.equal(first["image"], again["image"]) and torch.equal(first["landmarks"], again["landmarks"])
    assert not torch.equal(first["image"], other_epoch["image"])


def test_images_are_cached_as_uint8(datasets):
    train, _ = datasets
    assert len(train) == 16 and all(image.dtype == np.uint8 for image in train.images)


def test_an_unlabelled_extra_folder_gives_the_same_crops_without_labels(synthetic_faces):
    from edgekit.recipe import recipe_from_dict
    from edgekit.registry import create_model

    spec = create_model("mobilefan").spec
    folder = {"path": str(synthetic_faces)}
    recipe = recipe_from_dict({"model": "mobilefan", "distill": {"teacher": "mobilefan_teacher"},
                               "data": {"train": folder, "val": folder,
                                        "extra_train": [{**folder, "labels": False}]}})  # fmt: skip
    train, _ = build_datasets(recipe, spec)
    assert len(train) == 32  # the 16 faces twice: labelled, then unlabelled
    labelled, unlabelled = train[3], train[16 + 3]
    assert torch.isfinite(labelled["landmarks"]).all() and torch.isfinite(labelled["pose"]).all()
    assert torch.isnan(unlabelled["landmarks"]).all() and torch.isnan(unlabelled["pose"]).all()
    train.augment = None  # the plain crop: boxed from the annotation either way
    assert torch.equal(train[3]["image"], train[16 + 3]["image"])
