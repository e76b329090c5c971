"""Export fixtures: registered models with seeded random weights, a folder of real faces (ytf68/val when the
shared data is present, else synthetic drawn faces), a private calibration cache and a small, fast INT8 section."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgekit.paths import shared_data_dir
from edgekit.specs import Int8Section

SMALL_INT8 = Int8Section(min_images=8, max_images=16, holdout_images=8)


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Calibration tensors are cached under a per-session folder, never ~/.cache."""
    old = os.environ.get("EDGEKIT_CACHE")
    os.environ["EDGEKIT_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("EDGEKIT_CACHE", None)
    else:
        os.environ["EDGEKIT_CACHE"] = old


def build(name: str):
    import torch

    from edgekit.train.checkpoint import build_model

    torch.manual_seed(0)
    torch.set_num_threads(1)
    return build_model(name).eval()


@pytest.fixture(scope="session")
def small_int8() -> Int8Section:
    return SMALL_INT8


@pytest.fixture(scope="session")
def pfld():
    return build("pfld_0.25x")


@pytest.fixture(scope="session")
def fsanet():
    return build("fsanet")


@pytest.fixture(scope="session")
def faces_dir(tmp_path_factory) -> Path:
    """24 annotated faces: real ytf68/val images (copied to a temp folder, never into the repo: scans refuse links
    leading out of the scanned folder) or synthetic ones."""
    real = shared_data_dir() / "ytf68" / "val"
    folder = tmp_path_factory.mktemp("faces")
    if real.is_dir():
        for image in sorted(real.glob("*.jpg"))[:24]:
            for path in (image, image.with_suffix(".pts")):
                shutil.copyfile(path, folder / path.name)
    else:
        from edgekit.data.synthetic import write_synthetic_folder

        write_synthetic_folder(folder, 24, np.random.default_rng(0), size=128)
    return folder


@pytest.fixture(scope="session")
def pfld_onnx(pfld, tmp_path_factory) -> Path:
    from edgekit.export.onnx import export_onnx
    from edgekit.specs import OnnxSection

    return export_onnx(pfld, tmp_path_factory.mktemp("onnx") / "model.onnx", OnnxSection())


@pytest.fixture(scope="session")
def pfld_calibration(pfld, faces_dir):
    from edgekit.export.calibset import load_calibration

    return load_calibration(str(faces_dir), pfld.spec, SMALL_INT8)
