"""Per-layer sensitivity of a full-integer TFLite file, for the same float fallback as the ONNX one
(``sensitivity.keep_in_float``): LiteRT runs the FP32 and the INT8 file with every intermediate tensor kept, the
tensors are matched by name (ai-edge-quantizer keeps them), and each quantized op is scored by the SQNR its own
quantization costs (its noisiest input's SQNR minus its output's, in dB). A layer is ``"OP tensor"``: the TFLite
op name and its output tensor, what ai-edge-quantizer's recipe can leave in float."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

PASS_THROUGH = ("QUANTIZE", "DEQUANTIZE")  # requantization inserted by the quantizer: follow to the real producer
QUANTIZER_NAMES = {"TRANSPOSE_CONV": "CONV_2D_TRANSPOSE"}  # LiteRT's op name -> ai-edge-quantizer's, where they differ


def quantizer_op(litert_op: str) -> str:
    """The ai-edge-quantizer name of a LiteRT op (what a recipe entry names)."""
    return QUANTIZER_NAMES.get(litert_op, litert_op)


def layer_name(op: str, tensor: str) -> str:
    return f"{op} {tensor}"


def short_name(layer: str) -> str:
    """A layer for humans: its op and the last four module scopes of its tensor (litert-torch names a tensor by
    every module it went through, ';'-joined: hundreds of characters)."""
    op, tensor = split_layer(layer)
    parts = [part for part in tensor.split(";") if part] or [tensor]
    scope = next((part for part in reversed(parts) if "/" in part), parts[-1]).split("/")
    return f"{op} {'/'.join(part.rsplit('.', 1)[-1] for part in scope[-4:])}"


def split_layer(layer: str) -> tuple[str, str]:
    op, tensor = layer.split(" ", 1)
    return op, tensor


def open_all_tensors(path: Path):
    """Every tensor kept; a file LiteRT cannot load is a ModelFileError (the fallback then gives up cleanly)."""
    from edgekit.backend.tflite.loader import open_interpreter, silence_logs

    silence_logs()
    return open_interpreter(path, 1, all_tensors=True)


def all_tensors(interpreter, image: np.ndarray) -> dict[str, np.ndarray] | None:
    """{name: float32 value} of every tensor after one run on ``image`` (file layout, no batch axis); None when
    LiteRT fails on it (a quantized op it cannot run on this input)."""
    from edgekit.backend.tflite.runner import dequantize, quantize

    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], quantize(image[None], detail))
    try:
        interpreter.invoke()
    except RuntimeError:
        return None
    values = {}
    for tensor in interpreter.get_tensor_details():
        try:
            values[tensor["name"]] = dequantize(interpreter.get_tensor(tensor["index"]), tensor)
        except ValueError:  # a tensor with no data (optional input)
            continue
    return values


def tensor_sqnr(fp32_path: Path, int8_path: Path, images: np.ndarray) -> dict[str, float]:
    """{tensor name: SQNR dB of the INT8 file's tensor vs the FP32 file's} over ``images`` (file layout)."""
    reference, quantized = open_all_tensors(fp32_path), open_all_tensors(int8_path)
    signal: dict[str, float] = {}
    noise: dict[str, float] = {}
    for image in images:
        floats, ints = all_tensors(reference, image), all_tensors(quantized, image)
        if floats is None or ints is None:
            continue
        for name, value in ints.items():
            expected = floats.get(name)
            if expected is None or expected.shape != value.shape:
                continue
            signal[name] = signal.get(name, 0.0) + float(np.square(expected, dtype=np.float64).sum())
            noise[name] = noise.get(name, 0.0) + float(np.square(expected - value, dtype=np.float64).sum())
    return {name: math.inf if noise[name] == 0 else 10 * math.log10(max(signal[name], 1e-30) / noise[name])
            for name in signal}


def quantized_layers(int8_path: Path) -> tuple[list[str], dict[str, list[str]]]:
    """(layers: every op with an integer output that ai-edge-quantizer can leave in float, graph order;
    {layer: names of its activation inputs, through requantize ops})."""
    from ai_edge_quantizer.qtyping import TFLOperationName

    known = {op.value for op in TFLOperationName}
    interpreter = open_all_tensors(int8_path)
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    ops = interpreter._get_ops_details()  # noqa: SLF001 (LiteRT's only op listing)
    producers = {out: op for op in ops for out in op["outputs"]}
    graph_input = interpreter.get_input_details()[0]["index"]
    layers, inputs = [], {}
    for op in ops:
        out, name = tensors[op["outputs"][0]], quantizer_op(op["op_name"])
        if name not in known or name in PASS_THROUGH or not np.issubdtype(out["dtype"], np.integer):
            continue
        layer = layer_name(name, out["name"])
        layers.append(layer)
        inputs[layer] = [tensors[_through(i, producers)]["name"] for i in op["inputs"]
                         if i >= 0 and (i in producers or i == graph_input)]
    return layers, inputs


def _through(index: int, producers: dict) -> int:
    op = producers.get(index)
    while op is not None and op["op_name"] in PASS_THROUGH:
        index = op["inputs"][0]
        op = producers.get(index)
    return index


def sqnr_drop(layers: list[str], inputs: dict[str, list[str]], sqnr: dict[str, float]) -> dict[str, float]:
    """{layer: dB its own quantization costs}: the noisiest input's SQNR minus the output's; 0 when no input was
    measured (nothing known to rank it by)."""
    drops = {}
    for layer in layers:
        output = sqnr.get(split_layer(layer)[1])
        if output is None:
            continue
        upstream = [sqnr[name] for name in inputs[layer] if name in sqnr]
        drops[layer] = min(upstream) - output if upstream else 0.0
    return drops
