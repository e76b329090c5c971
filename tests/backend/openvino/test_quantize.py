"""NNCF INT8 of the PFLD-0.25x IR on the synthetic faces: FakeQuantize placed, outputs close to FP32, the ignored
scope honoured, Percentile ranges differ, the Quantizer answers the INT8 search's questions with real values."""
from __future__ import annotations

import math

import numpy as np
import pytest

from edgekit.backend.openvino.loader import read_ir, spec_from_ir
from edgekit.backend.openvino.quantize import NncfQuantizer, candidates, int8_weights
from edgekit.backend.openvino.runner import OpenVinoRunner
from edgekit.errors import EdgekitError


def _types(xml) -> dict[str, int]:
    counts: dict[str, int] = {}
    for op in read_ir(xml).get_ordered_ops():
        counts[op.get_type_name()] = counts.get(op.get_type_name(), 0) + 1
    return counts


def _outputs(xml, tensors) -> np.ndarray:
    with OpenVinoRunner(str(xml), 1) as runner:
        return runner.infer(tensors)[0]


def test_int8_ir_runs_close_to_fp32(pfld, pfld_ir, int8_ir, pfld_calibration, quantizer):
    assert _types(int8_ir).get("FakeQuantize", 0) > 20 and "FakeQuantize" not in _types(pfld_ir)
    assert spec_from_ir(int8_ir) == pfld.spec  # a lone INT8 IR still knows its preprocessing
    faces = pfld_calibration.holdout.tensors
    ref, got = _outputs(pfld_ir, faces), _outputs(int8_ir, faces)
    assert 0 < np.linalg.norm(got - ref) / np.linalg.norm(ref) < 0.05
    record = quantizer.record()
    assert (record.tool, record.method, record.percentile, record.per_channel, record.images) == \
        ("nncf", "minmax", None, True, 8)


def test_ignored_scope_keeps_layers_in_float(quantizer, int8_ir, tmp_path):
    layers = quantizer.layers(int8_ir)
    first, head = layers[0], [name for name in layers if quantizer.op_type(name) == "MatMul"]
    assert quantizer.weighted(first) and head  # the stem conv and the regression head hold weights
    mixed = quantizer.quantize(tmp_path / "mixed.xml", [first, *head])
    left = set(quantizer.layers(mixed))  # the head's input quantizers sat before its Concat: gone with it
    assert left <= set(layers) - {first, *head} and len(left) >= len(layers) - 6
    ops = {op.get_friendly_name(): op for op in read_ir(mixed).get_ordered_ops()}
    kept = [ops[first], *(ops[name] for name in head)]
    assert all(v.get_node().get_type_name() != "FakeQuantize" for op in kept for v in op.input_values())
    assert not any(int8_weights(op) for op in kept) and int8_weights(ops[layers[1]])  # float weights there only
    with pytest.raises(Exception, match="no_such_layer"):  # NNCF validates the ignored scope
        quantizer.quantize(tmp_path / "bad.xml", ["no_such_layer"])


def test_percentile_ranges_change_the_file(quantizer, int8_ir, pfld_calibration, tmp_path):
    recalibrated = quantizer.with_percentile(99.0).quantize(tmp_path / "p99.xml")
    faces = pfld_calibration.holdout.tensors
    assert not np.array_equal(_outputs(int8_ir, faces), _outputs(recalibrated, faces))
    record = quantizer.with_percentile(99.0).record()
    assert (record.method, record.percentile, quantizer.record().method) == ("percentile", 99.0, "minmax")


def test_layer_errors_rank_the_layers(quantizer, int8_ir):
    layers = quantizer.layers(int8_ir)
    drops = quantizer.layer_errors(int8_ir, layers)
    assert set(drops) == set(layers)
    assert drops[layers[0]] == math.inf  # the stem conv reads the exact input: both its quantizations count
    finite = [value for value in drops.values() if math.isfinite(value)]
    assert len(finite) == len(layers) - 1 and max(finite) > 0.5  # some layer costs real SQNR


def test_candidates_are_the_quantized_ops(int8_ir, pfld_ir):
    names = candidates(int8_ir)
    fp32_ops = {op.get_friendly_name() for op in read_ir(pfld_ir).get_ordered_ops()}
    assert names and set(names) <= fp32_ops  # ignored-scope names of the float IR


def test_no_calibration_tensors_is_refused(pfld, pfld_ir, tmp_path):
    from edgekit.specs import Int8Section

    with pytest.raises(EdgekitError, match="never random data"):
        NncfQuantizer(pfld_ir, pfld.spec, Int8Section(), tmp_path).quantize(tmp_path / "none.xml")
