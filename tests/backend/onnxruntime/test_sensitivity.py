"""ONNX Runtime's answers to the INT8 search: only quantized nodes are candidates, the SQNR pre-filter charges each
node its own drop, and the layer fallback on a real QDQ file keeps only the nodes that help in float."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edgekit.backend.onnxruntime.quantize import QdqQuantizer
from edgekit.backend.onnxruntime.runner import OnnxRuntimeRunner
from edgekit.backend.onnxruntime.sensitivity import output_nodes, quantized_nodes, sqnr_drop, tensor_sqnr
from edgekit.export.gate import Gate
from edgekit.export.int8_search import layer_fallback


def _conv_reshape_graph():
    """input (1,2,4,4) -> Conv -> Relu -> Shape/ConstantOfShape/Reshape/Unsqueeze (shape arithmetic) -> Gemm."""
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.normal(size=s).astype(np.float32), n) for n, s in
               (("w", (3, 2, 1, 1)), ("fc", (48, 5)))]
    weights.append(numpy_helper.from_array(np.array([1, 48], np.int64), "flat"))
    weights.append(numpy_helper.from_array(np.array([0], np.int64), "axis0"))
    nodes = [helper.make_node("Conv", ["input", "w"], ["c"], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Shape", ["r"], ["s"], name="shape"),
             helper.make_node("ConstantOfShape", ["s"], ["zeros"], name="zeros_like"),
             helper.make_node("Add", ["r", "zeros"], ["a"], name="add"),
             helper.make_node("Reshape", ["a", "flat"], ["f"], name="reshape"),
             helper.make_node("Gemm", ["f", "fc"], ["g"], name="gemm"),
             helper.make_node("Unsqueeze", ["g", "axis0"], ["out"], name="unsqueeze")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 2, 4, 4])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 1, 5])], weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def test_only_quantized_compute_nodes_are_candidates(tmp_path):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    path = tmp_path / "g.onnx"
    onnx.save(_conv_reshape_graph(), str(path))
    feeds = iter([{"input": np.random.default_rng(i).normal(size=(1, 2, 4, 4)).astype(np.float32)}
                  for i in range(4)])

    class Reader(CalibrationDataReader):
        def get_next(self):
            return next(feeds, None)

    quantize_static(str(path), str(tmp_path / "q.onnx"), Reader(), quant_format=QuantFormat.QDQ)
    candidates = quantized_nodes(onnx.load(str(tmp_path / "q.onnx")).graph)
    assert candidates == ["conv", "add", "gemm"]  # never shape / data-movement nodes (the old fallback's picks)


def test_sqnr_drop_charges_each_node_its_own_noise(pfld, pfld_onnx, pfld_calibration, small_int8, tmp_path):
    quantizer = QdqQuantizer(pfld_onnx, pfld.spec, small_int8, tmp_path / "work", pfld_calibration.calib.tensors)
    qdq = quantizer.quantize(tmp_path / "int8.onnx")
    sqnr = tensor_sqnr(quantizer, qdq, pfld_calibration.calib.tensors[:4], tmp_path / "work")
    candidates = quantized_nodes(onnx.load(str(qdq)).graph)
    assert candidates[0] == "/stem/stem.0/stem.0.0/Conv" and candidates[-1] == "/fc/Gemm"
    drops = sqnr_drop(quantizer, candidates, sqnr)
    assert set(drops) == set(candidates) and all(math.isfinite(v) for v in drops.values())
    # the first conv's drop: from the quantized input to its (Relu-fused) output; a deeper conv's from its input
    assert drops[candidates[0]] == sqnr["input"] - sqnr["/stem/stem.0/stem.0.2/Relu_output_0"]
    assert drops["/stem/stem.1/stem.1.0/Conv"] == (sqnr["/stem/stem.0/stem.0.2/Relu_output_0"]
                                                   - sqnr["/stem/stem.1/stem.1.2/Relu_output_0"])
    assert output_nodes(quantizer) == ["/fc/Gemm"]


def test_impossible_budget_keeps_only_helpful_nodes(pfld, pfld_onnx, pfld_calibration, small_int8, tmp_path):
    int8 = dataclasses.replace(small_int8, budget_nme=-1.0, max_float_layers=2)
    quantizer = QdqQuantizer(pfld_onnx, pfld.spec, int8, tmp_path / "work", pfld_calibration.calib.tensors)
    holdout = pfld_calibration.holdout
    gate = Gate(pfld.spec, int8, holdout_paths=holdout.paths, holdout_boxes=holdout.boxes, use_labels=False)
    with OnnxRuntimeRunner(str(pfld_onnx), 1) as runner:
        gate.set_baseline(runner)

    def delta_of(path):
        with OnnxRuntimeRunner(str(path), 1) as runner:
            return gate.check(runner).delta

    lines = []
    clipped = quantizer.with_percentile(99.0)
    clipped.quantize(tmp_path / "p99.onnx")  # its ranges, as recalibration leaves them
    bases = [("minmax", quantizer), ("percentile 99", clipped)]
    record = layer_fallback(bases, tmp_path / "mixed.onnx", delta_of, -1.0, 2, lines.append, trials=3)
    assert len(record.single_node_delta) == 3 and not record.passed and record.float_op_types == ()
    assert sum("layers without weights in float -> delta" in line for line in lines[:2]) == 2  # both scored
    assert record.calibration in ("minmax", "percentile 99")
    group = set(record.float_layers) if record.unweighted_in_float else set()  # tried together first
    singles = set(record.float_layers) - group
    assert singles <= set(record.single_node_delta) and len(singles) <= 2
    assert all("in float" in line for line in lines)
    chosen = dict(bases)[record.calibration].quantize(tmp_path / "chosen.onnx")  # where the search started
    assert record.delta <= delta_of(chosen)  # a node is kept only when it lowers the delta
    assert record.delta == delta_of(tmp_path / "mixed.onnx")  # the written file is the kept set
