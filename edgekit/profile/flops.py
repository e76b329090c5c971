"""The one MAC counter of edgekit: multiply-accumulates per image of the matrix ops of an ONNX or TFLite graph.

Counted: Conv, ConvTranspose, Gemm, MatMul (ONNX, QLinear/QDQ variants included) and CONV_2D, DEPTHWISE_CONV_2D,
TRANSPOSE_CONV, FULLY_CONNECTED, BATCH_MATMUL (TFLite). Elementwise ops, pooling and activations are left out
(they are a few percent of the MACs of a conv net). FLOPs = 2 x MACs. Symbolic batch dims count as 1 image.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekit.errors import ModelFileError

ONNX_CONVS = {"Conv", "QLinearConv", "ConvInteger"}
ONNX_MATMULS = {"MatMul", "QLinearMatMul", "MatMulInteger"}


def count_macs(path: str | Path) -> int:
    """MACs per image of a file whose format has a counter (``backend.formats``: .onnx, .tflite)."""
    from edgekit.backend.formats import by_suffix, load

    path = Path(path)
    found = by_suffix(path)
    if found is None or found.macs is None:
        raise ModelFileError("MACs are counted for .onnx and .tflite files only", path)
    return load(found.macs)(path)


# ----------------------------------------------------------------------------- ONNX


def _batch_one(model) -> None:
    """Replace symbolic (or 0) dims of the graph inputs by 1, in place, so shape inference gives numbers."""
    for value in model.graph.input:
        for dim in value.type.tensor_type.shape.dim:
            if not dim.HasField("dim_value") or dim.dim_value <= 0:
                dim.Clear()
                dim.dim_value = 1


def _onnx_shapes(model) -> dict[str, tuple[int, ...]]:
    """Tensor name -> static shape, for every tensor shape inference could resolve."""
    import onnx

    model = onnx.shape_inference.infer_shapes(model, data_prop=True)
    shapes = {init.name: tuple(init.dims) for init in model.graph.initializer}
    for value in [*model.graph.input, *model.graph.value_info, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if value.type.tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in dims):
            shapes[value.name] = tuple(d.dim_value for d in dims)
    return shapes


def onnx_macs(path: str | Path) -> int:
    from edgekit.backend.onnxruntime.loader import load_onnx

    model = load_onnx(path)
    _batch_one(model)
    shapes = _onnx_shapes(model)
    total = 0
    for node in model.graph.node:
        total += _onnx_node_macs(node, shapes)
    return int(total)


def _attr(node, name: str, default):
    import onnx

    for attribute in node.attribute:
        if attribute.name == name:
            return onnx.helper.get_attribute_value(attribute)
    return default


def _onnx_node_macs(node, shapes: dict[str, tuple[int, ...]]) -> int:
    inputs = [shapes.get(name) for name in node.input]
    output = shapes.get(node.output[0]) if node.output else None
    if node.op_type in ONNX_CONVS:
        weight = inputs[3] if node.op_type == "QLinearConv" else inputs[1]  # (Cout, Cin/groups, k...)
        if weight is None or output is None:
            return 0
        return int(np.prod(output)) * int(np.prod(weight[1:]))
    if node.op_type == "ConvTranspose":
        weight = inputs[1]  # (Cin, Cout/groups, k...): every input value meets Cout/groups x k... weights
        return 0 if weight is None or inputs[0] is None else int(np.prod(inputs[0])) * int(np.prod(weight[1:]))
    if node.op_type == "Gemm":
        a = inputs[0]
        if a is None or output is None:
            return 0
        k = a[0] if _attr(node, "transA", 0) else a[1]
        return int(np.prod(output)) * int(k)
    if node.op_type in ONNX_MATMULS:
        a = inputs[0]
        return 0 if a is None or output is None else int(np.prod(output)) * int(a[-1])
    return 0


# ----------------------------------------------------------------------------- TFLite


def graph_interpreter(path: str | Path):
    """A LiteRT Interpreter without delegates (not allocated): its op and tensor lists are the file's own graph."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    try:
        return Interpreter(str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    except (ValueError, RuntimeError) as exc:
        raise ModelFileError(f"not a readable TFLite file ({str(exc).splitlines()[0][:160]})", path) from None


def tflite_macs(path: str | Path) -> int:
    interpreter = graph_interpreter(path)
    shapes = {t["index"]: tuple(int(v) for v in t["shape"]) for t in interpreter.get_tensor_details()}
    total = 0
    for op in interpreter._get_ops_details():  # public API has no op list; stable since TF 2.5
        ins = [shapes.get(int(i)) if i >= 0 else None for i in op["inputs"]]
        out = shapes.get(int(op["outputs"][0])) if len(op["outputs"]) else None
        total += _tflite_op_macs(op["op_name"], ins, out)
    return int(total)


def _tflite_op_macs(name: str, ins: list, out: tuple[int, ...] | None) -> int:
    if out is None:
        return 0
    if name == "CONV_2D":  # weights (Cout, kh, kw, Cin)
        return int(np.prod(out)) * int(np.prod(ins[1][1:]))
    if name == "DEPTHWISE_CONV_2D":  # weights (1, kh, kw, Cout)
        return int(np.prod(out)) * int(ins[1][1] * ins[1][2])
    if name == "TRANSPOSE_CONV":  # inputs: output_shape, weights (Cout, kh, kw, Cin), input
        return int(np.prod(ins[2])) * int(np.prod(ins[1][:3]))
    if name == "FULLY_CONNECTED":  # weights (units, in)
        return int(np.prod(out)) * int(ins[1][-1])
    if name == "BATCH_MATMUL":
        return int(np.prod(out)) * int(ins[0][-1])
    return 0
