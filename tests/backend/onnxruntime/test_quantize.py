"""ONNX Runtime QDQ INT8: runs in ORT close to FP32, symmetric activations for TensorRT, ranges reused."""
from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from edgekit.backend.onnxruntime.quantize import QdqQuantizer
from edgekit.backend.onnxruntime.runner import OnnxRuntimeRunner
from edgekit.checks import Quantization
from edgekit.errors import EdgekitError
from edgekit.export.onnx import spec_from_onnx


def _zero_points(path) -> list[int]:
    model = onnx.load(str(path))
    arrays = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    return [int(v) for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] not in arrays
            for v in np.ravel(arrays[n.input[2]])]


def test_qdq_runs_in_ort_and_stays_close(pfld, pfld_onnx, pfld_calibration, small_int8, tmp_path):
    quantizer = QdqQuantizer(pfld_onnx, pfld.spec, small_int8, tmp_path / "work", pfld_calibration.calib.tensors)
    path = quantizer.quantize(tmp_path / "int8.onnx")
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert spec_from_onnx(path) == pfld.spec  # a lone QDQ file still knows its preprocessing
    faces = pfld_calibration.holdout.tensors
    with OnnxRuntimeRunner(str(pfld_onnx), 1) as fp32, OnnxRuntimeRunner(str(path), 1) as int8:
        ref, got = fp32.infer(faces)[0], int8.infer(faces)[0]
    assert np.linalg.norm(got - ref) / np.linalg.norm(ref) < 0.05
    assert quantizer.record() == Quantization("onnxruntime", "minmax", None, True, "QUInt8", "QInt8", "QDQ", "int32",
                                              len(pfld_calibration.calib.tensors))


def test_tensorrt_activations_are_symmetric_int8(pfld, pfld_onnx, pfld_calibration, small_int8, tmp_path):
    quantizer = QdqQuantizer(pfld_onnx, pfld.spec, small_int8, tmp_path / "work", pfld_calibration.calib.tensors,
                             activations="QInt8")
    path = quantizer.quantize(tmp_path / "int8.onnx")
    zero_points = _zero_points(path)
    assert zero_points and set(zero_points) == {0}  # TensorRT requires zero point 0
    from edgekit.backend.tensorrt.prepare import check_qdq_placement

    assert check_qdq_placement(onnx.load(str(path))) == []  # float biases: nothing TensorRT would refuse


def test_ranges_are_reused_and_random_data_never_used(pfld, pfld_onnx, pfld_calibration, small_int8, tmp_path):
    entropy = dataclasses.replace(small_int8, method="entropy")
    with pytest.raises(EdgekitError, match="never random data"):
        QdqQuantizer(pfld_onnx, pfld.spec, entropy, tmp_path / "none").quantize(tmp_path / "none.onnx")
    quantizer = QdqQuantizer(pfld_onnx, pfld.spec, entropy, tmp_path / "work", pfld_calibration.calib.tensors)
    first = quantizer.quantize(tmp_path / "a.onnx")
    quantizer.calibration = None  # the cached ranges are used from now on
    again = quantizer.quantize(tmp_path / "b.onnx")
    assert first.read_bytes() == again.read_bytes()
    assert "same scales as MinMax" in quantizer.record().note


def _activation_scales(path) -> dict[str, float]:
    """{quantized activation: scale} of a QDQ file (weights are initializers, left out)."""
    model = onnx.load(str(path))
    arrays = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    return {n.input[0]: float(arrays[n.input[1]]) for n in model.graph.node
            if n.op_type == "QuantizeLinear" and n.input[0] not in arrays}


def test_percentile_recalibration_narrows_ranges_on_the_same_prepared_model(pfld, pfld_onnx, pfld_calibration,
                                                                            small_int8, tmp_path):
    quantizer = QdqQuantizer(pfld_onnx, pfld.spec, small_int8, tmp_path / "work", pfld_calibration.calib.tensors)
    minmax = _activation_scales(quantizer.quantize(tmp_path / "a.onnx"))
    clipped = quantizer.with_percentile(99.0)
    assert clipped.prepared == quantizer.prepared and clipped.ranges != quantizer.ranges  # own ranges cache
    assert clipped.record().method == "percentile" and clipped.record().percentile == 99.0
    narrowed = _activation_scales(clipped.quantize(tmp_path / "b.onnx"))
    assert narrowed.keys() == minmax.keys()
    assert all(narrowed[name] <= minmax[name] * 1.0001 for name in minmax)  # never wider than min/max
    assert sum(narrowed[name] < minmax[name] * 0.9 for name in minmax) > len(minmax) / 2
    assert quantizer.record().method == "minmax"  # the original is untouched


def test_a_graph_ort_cannot_shape_infer_is_prepared_without_files_in_the_working_directory(
        small_int8, tmp_path, monkeypatch):
    """hourglass2's graph makes ORT's symbolic shape inference give up (it then saves sym_shape_infer_temp.onnx
    into the working directory): the quantizer falls back to ONNX's shape inference and writes only in its work
    folder."""
    from edgekit.export.onnx import export_onnx
    from edgekit.models.weights import build_model
    from edgekit.specs import load_target

    model = build_model("hourglass2", {"channels": 8}).eval()  # with a dynamic batch, as cpu-x86-int8 exports it
    onnx_path = export_onnx(model, tmp_path / "hg.onnx", load_target("cpu-x86-int8").onnx)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    quantizer = QdqQuantizer(onnx_path, model.spec, small_int8, tmp_path / "work")
    assert quantizer.prepared.is_file() and len(quantizer.node_names) > 0
    assert list(cwd.iterdir()) == []
