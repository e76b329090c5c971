"""Cross-backend parity: for one model of every decode family, torch, ONNX Runtime and LiteRT (FP32) predict the
same landmarks / angles on real faces through the one runtime (preprocess -> runner -> numpy decode -> image).

Tolerance: raw outputs within 1e-4 (relative to their scale); decoded 0.01 px for landmarks (image pixels) and
0.01 deg for angles. FP32 files of the same graph differ only by float summation order (~1e-5 px / deg). Argmax
decodes (heatmaps, PIP) of untrained models have near-ties and exact ties (the deconvolution stack repeats values)
that this noise can move by a whole cell, so decoded points are compared where the reference peak leads its
runner-up by more than 1e-3; the raw maps, compared everywhere, are what the shared numpy decode reads.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from edgekit.backend.onnxruntime.runner import OnnxRuntimeRunner
from edgekit.backend.tflite.loader import convert_fp32
from edgekit.backend.tflite.runner import TFLiteRunner
from edgekit.backend.torch.runner import TorchRunner
from edgekit.data import load_image, scan_folder
from edgekit.export.onnx import export_onnx
from edgekit.registry import create_model
from edgekit.runtime.decode import decode
from edgekit.runtime.preprocess import box_from_landmarks, preprocess_batch, to_image
from edgekit.specs import OnnxSection

FAMILIES = ["pfld_0.25x", "mobilefan", "pipnet_mbv2", "fsanet", "hopenet_mbv2"]  # regression, heatmap, pip, ssr, bins
TOLERANCE = {"landmarks": 0.01, "pose": 0.01}


@pytest.fixture(scope="module")
def faces(shared_data):
    samples = scan_folder(shared_data / "ytf68" / "val").samples[:3]
    return [(load_image(s), s.landmarks) for s in samples]


def sharpen_maps(model):
    """Untrained heatmap / score maps are nearly flat; scaling the per-landmark output convs gives them the clear
    peaks a trained model has, so argmax decodes can be compared at all (regression heads are unaffected)."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d) and module.out_channels == model.spec.head.num_points:
                module.weight.mul_(1000.0)
                if module.bias is not None:
                    module.bias.mul_(1000.0)
    return model


def _run(runner, spec, faces) -> tuple[list[np.ndarray], np.ndarray]:
    """Raw outputs and decoded image-space answers (B, N, 2) or (B, 3), through the runtime's own functions."""
    images = [image for image, _ in faces]
    boxes = [box_from_landmarks(points, spec.preprocess) for _, points in faces]
    batch, matrices = preprocess_batch(images, boxes, spec.preprocess)
    with runner:
        raw = runner.infer(batch)
    decoded = decode(raw, spec.head, spec.preprocess.input_size)
    if spec.task == "landmarks":
        decoded = np.stack([to_image(points, m) for points, m in zip(decoded, matrices)])
    return raw, decoded


def _unambiguous(raw: list[np.ndarray], spec) -> np.ndarray:
    """(B, N) or (B, 3) mask of answers whose decode does not hinge on a near-tie of the reference's peak."""
    if spec.head.kind not in ("heatmap_argmax", "heatmap_dark", "pip"):
        shape = (raw[0].shape[0], spec.head.num_points) if spec.task == "landmarks" else (raw[0].shape[0], 3)
        return np.ones(shape, bool)
    maps = raw[0].reshape(raw[0].shape[0], raw[0].shape[1], -1)  # heatmaps or PIP score maps (B, N, HW)
    top2 = np.sort(maps, axis=-1)[..., -2:]
    return (top2[..., 1] - top2[..., 0]) > 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("name", FAMILIES)
def test_torch_onnx_tflite_agree_on_real_faces(name, faces, tmp_path):
    torch.manual_seed(0)
    model = sharpen_maps(create_model(name).eval())
    spec = model.spec
    onnx_path = export_onnx(model, tmp_path / "model.onnx", OnnxSection())
    w, h = spec.preprocess.input_size
    tflite_path = convert_fp32(model, np.zeros((1, 3, h, w), np.float32), tmp_path / "model.tflite", "NHWC")
    raw_ref, reference = _run(TorchRunner(model), spec, faces)
    stable = _unambiguous(raw_ref, spec)
    for runner in (OnnxRuntimeRunner(str(onnx_path), 1, spec=spec), TFLiteRunner(str(tflite_path), 1, spec=spec)):
        raw, got = _run(runner, spec, faces)
        for out, ref in zip(raw, raw_ref, strict=True):
            assert np.abs(out - ref).max() <= 1e-4 * max(1.0, np.abs(ref).max()), runner.backend
        if stable.any():
            difference = np.abs(got - reference)[stable].max()
            assert difference < TOLERANCE[spec.task], f"{runner.backend}: {difference}"
