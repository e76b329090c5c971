"""torch -> ONNX: parity on faces (real when the shared data is present), batch handling, spec metadata."""
from __future__ import annotations

import numpy as np
import pytest

from edgekit.export.calibset import load_calibration
from edgekit.export.gate import parity
from edgekit.export.onnx import batch_dim, export_onnx, spec_from_onnx, torch_outputs
from edgekit.specs import OnnxSection


@pytest.mark.parametrize("model_name, unit", [("pfld", "max_px"), ("fsanet", "max_deg")])
def test_parity_is_recorded_and_tiny(model_name, unit, request, faces_dir, tmp_path, small_int8):
    from edgekit.backend.onnxruntime.runner import OnnxRuntimeRunner

    model = request.getfixturevalue(model_name)
    path = export_onnx(model, tmp_path / "model.onnx", OnnxSection())
    faces = load_calibration(str(faces_dir), model.spec, small_int8).holdout
    with OnnxRuntimeRunner(str(path), threads=1) as runner:
        result = parity(torch_outputs(model, faces.tensors), runner.infer(faces.tensors), model.spec, faces.matrices)
    assert result.images == 8
    assert result.max_abs < 1e-4 and result.rel_l2 < 1e-5
    assert getattr(result, unit) < 1e-3  # image pixels / degrees, far below the 0.05 target limits


def test_fixed_batch_by_default_and_symbolic_when_asked(fsanet, tmp_path):
    import onnx

    fixed = onnx.load(str(export_onnx(fsanet, tmp_path / "a.onnx", OnnxSection())))
    dynamic = onnx.load(str(export_onnx(fsanet, tmp_path / "b.onnx", OnnxSection(dynamic_batch=True, opset=13))))
    assert batch_dim(fixed) == 1 and batch_dim(dynamic) == "batch"
    assert [i.name for i in fixed.graph.input] == ["input"]
    assert [o.name for o in fixed.graph.output] == ["p", "eta", "delta"]
    assert {o.version for o in dynamic.opset_import if o.domain in ("", "ai.onnx")} == {13}


def test_spec_metadata_round_trip(pfld, tmp_path):
    import onnx

    from edgekit import __version__

    path = export_onnx(pfld, tmp_path / "model.onnx", OnnxSection())
    assert spec_from_onnx(path) == pfld.spec
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert props["edgekit.version"] == __version__


def test_torch_outputs_follow_head_order(fsanet):
    batch = np.zeros((2, 3, 64, 64), np.float32)
    shapes = [o.shape for o in torch_outputs(fsanet, batch)]
    assert shapes[0][:2] == (2, 3) and len(shapes) == 3  # p (B, K, 3, s), eta, delta
