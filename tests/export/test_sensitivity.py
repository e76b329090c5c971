"""Sensitivity fallback: per-node SQNR, and an impossible budget keeps layers in float and says so."""
from __future__ import annotations

import dataclasses
import math

import onnx

from edgekit.backend.onnxruntime.runner import OnnxRuntimeRunner
from edgekit.export.calibrate import QdqQuantizer
from edgekit.export.gate import Gate
from edgekit.export.sensitivity import fallback, layer_sqnr, output_nodes


def test_impossible_budget_keeps_layers_in_float(pfld, pfld_onnx, pfld_calibration, small_int8, tmp_path):
    int8 = dataclasses.replace(small_int8, budget_nme=-1.0, max_float_layers=2)
    quantizer = QdqQuantizer(pfld_onnx, pfld.spec, int8, tmp_path / "work")
    qdq = quantizer.quantize(tmp_path / "int8.onnx", pfld_calibration.calib.tensors)
    sqnr = layer_sqnr(quantizer, qdq, pfld_calibration.calib.tensors[:4], tmp_path / "work")
    assert "/fc/Gemm" in sqnr and all(math.isfinite(v) for v in sqnr.values())
    assert output_nodes(quantizer) == ["/fc/Gemm"]
    holdout = pfld_calibration.holdout
    gate = Gate(pfld.spec, int8, holdout_paths=holdout.paths, holdout_boxes=holdout.boxes)
    with OnnxRuntimeRunner(str(pfld_onnx), 1) as runner:
        gate.set_baseline(runner)
    lines = []
    record = fallback(quantizer, qdq, tmp_path / "mixed.onnx", pfld_calibration.calib.tensors, tmp_path / "work",
                      lambda path: gate.check(OnnxRuntimeRunner(str(path), 1))["delta"], -1.0, 2, trials=2,
                      log=lines.append)
    assert len(record["float_layers"]) == 2 and not record["passed"]
    assert record["float_layers"][0] in record["single_node_delta"]
    assert len(lines) == 2 and "in float" in lines[0]
    quantized = {n.input[0] for n in onnx.load(str(tmp_path / "mixed.onnx")).graph.node
                 if n.op_type == "DequantizeLinear"}
    assert len(quantized) < len({n.input[0] for n in onnx.load(str(qdq)).graph.node
                                 if n.op_type == "DequantizeLinear"})
