"""OpenVINO fixtures: PFLD-0.25x with seeded random weights exported to ONNX and converted to IR once per session,
and calibration tensors from the synthetic drawn faces (a private cache, never ~/.cache). Skipped without the
``openvino`` extra."""
from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.specs import Int8Section

pytest.importorskip("openvino")
pytest.importorskip("nncf")

SMALL_INT8 = Int8Section(min_images=8, max_images=16, holdout_images=8)


@pytest.fixture(scope="session")
def small_int8() -> Int8Section:
    return SMALL_INT8


@pytest.fixture(scope="session")
def pfld():
    import torch

    from edgekit.models.weights import build_model

    torch.manual_seed(0)
    return build_model("pfld_0.25x").eval()


@pytest.fixture(scope="session")
def pfld_onnx(pfld, tmp_path_factory) -> Path:
    from edgekit.export.onnx import export_onnx
    from edgekit.specs import OnnxSection

    return export_onnx(pfld, tmp_path_factory.mktemp("onnx") / "model.onnx", OnnxSection(dynamic_batch=True))


@pytest.fixture(scope="session")
def pfld_ir(pfld_onnx, tmp_path_factory) -> Path:
    from edgekit.backend.openvino.convert import convert_onnx

    folder = tmp_path_factory.mktemp("ir")
    return convert_onnx(pfld_onnx, folder / "model.xml", folder / "work")


@pytest.fixture(scope="session")
def pfld_calibration(pfld, synthetic_faces, tmp_path_factory):
    """The CalibrationSet of the 16 synthetic faces: 8 to calibrate on, 8 held out."""
    from edgekit.export.calibset import load_calibration

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EDGEKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
        return load_calibration(str(synthetic_faces), pfld.spec, SMALL_INT8)


@pytest.fixture(scope="session")
def quantizer(pfld, pfld_ir, pfld_calibration, tmp_path_factory):
    from edgekit.backend.openvino.quantize import NncfQuantizer

    return NncfQuantizer(pfld_ir, pfld.spec, SMALL_INT8, tmp_path_factory.mktemp("nncf"),
                         pfld_calibration.calib.tensors)


@pytest.fixture(scope="session")
def int8_ir(quantizer, tmp_path_factory) -> Path:
    return quantizer.quantize(tmp_path_factory.mktemp("int8") / "model.int8.xml")
