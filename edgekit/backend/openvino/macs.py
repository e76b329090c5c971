"""MACs per image of an OpenVINO IR, counted like ``edgekit.profile.flops`` counts ONNX / TFLite graphs:
Convolution, GroupConvolution, their backprop-data (transposed) forms and MatMul; elementwise ops, pooling and
activations are left out. A dynamic batch counts as 1 image (the model is reshaped to batch 1 first)."""
from __future__ import annotations

from pathlib import Path

from edgekit.backend.openvino.loader import read_ir
from edgekit.errors import ModelFileError


def _static(op, port: int, output: bool = False) -> list[int]:
    shape = op.get_output_partial_shape(port) if output else op.get_input_partial_shape(port)
    return [d.get_length() for d in shape]


def _product(values: list[int]) -> int:
    total = 1
    for value in values:
        total *= value
    return total


def op_macs(op) -> int:
    """MACs of one op per image (batch 1), 0 for ops that are not counted."""
    kind = op.get_type_name()
    if kind in ("Convolution", "GroupConvolution"):
        weights = _static(op, 1)  # [Cout, Cin, k...] or [G, Cout/G, Cin/G, k...]
        reduced = weights[2:] if kind == "Convolution" else weights[3:]
        per_output = _product(reduced) * (weights[1] if kind == "Convolution" else weights[2])
        return _product(_static(op, 0, output=True)[1:]) * per_output
    if kind in ("ConvolutionBackpropData", "GroupConvolutionBackpropData"):
        # weights [Cin, Cout, k...] or [G, Cin/G, Cout/G, k...]: each input value meets Cout/G x k... of them
        return _product(_static(op, 0)[2:]) * _product(_static(op, 1))
    if kind == "MatMul":
        left = _static(op, 0)
        inner = left[-2] if op.get_attributes().get("transpose_a") else left[-1]
        return _product(_static(op, 0, output=True)[1:]) * inner
    return 0


def ir_macs(path: str | Path) -> int:
    """MACs per image of an IR .xml (FP32 or INT8: NNCF keeps the op shapes)."""
    model = read_ir(path)
    shape = model.inputs[0].get_partial_shape()
    if shape.rank.is_dynamic:
        raise ModelFileError("the input's rank is dynamic: MACs need static shapes", path)
    if shape[0].is_dynamic:
        model.reshape([1, *[d.get_length() for d in list(shape)[1:]]])
    try:
        return sum(op_macs(op) for op in model.get_ordered_ops())
    except RuntimeError:  # a dimension still dynamic after the batch is fixed
        raise ModelFileError("shapes are not static at batch 1: MACs cannot be counted", path) from None
