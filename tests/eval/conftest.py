"""Fixtures for training tests: a small folder of synthetic faces (68 iBUG points, .jpg + .pts)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def synthetic_faces(tmp_path_factory) -> Path:
    from edgekit.data.synthetic import write_synthetic_folder

    folder = tmp_path_factory.mktemp("synthetic_faces")
    write_synthetic_folder(folder, 16, np.random.default_rng(0), size=128)
    return folder


@pytest.fixture()
def tiny_recipe(synthetic_faces, tmp_path):
    """A 2-epoch PFLD 0.25x recipe on the synthetic faces (train and val the same folder), out in tmp_path."""
    from edgekit.train.recipe import recipe_from_dict

    def make(epochs: int = 2, out: Path | None = None, **extra):
        return recipe_from_dict({
            "model": "pfld_0.25x",
            "data": {"train": {"path": str(synthetic_faces)}, "val": {"path": str(synthetic_faces)}},
            "optim": {"epochs": epochs, "batch_size": 8, "lr": 1e-3, "warmup_epochs": 1},
            "seed": 3,
            "out": str(out or tmp_path / "run"),
            **extra,
        })

    return make
