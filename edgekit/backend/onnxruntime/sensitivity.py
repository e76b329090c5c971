"""Per-layer INT8 sensitivity of a QDQ ONNX file: what ``QdqQuantizer`` answers for the one INT8 search
(``edgekit.export.int8_search``).

Only nodes that actually carry Q/DQ in the quantized graph are candidates (Conv, Gemm, MatMul, Add, Mul, Concat,
pooling, ...): data movement and shape arithmetic (Reshape, Unsqueeze, Slice, ConstantOfShape, ...) is never
listed, since leaving it "in float" changes nothing. Each is scored by the SQNR its own quantization costs, from
ORT's ``qdq_loss_debug`` (float vs QDQ activations on calibration images): its inputs' SQNR minus its output's."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from edgekit.backend.onnxruntime.quantize import QdqQuantizer, _TensorReader
from edgekit.backend.quantizer import quiet_quantizer_logs

WEIGHTED_ONNX = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul"})  # what INT8 is for: the MACs
PASS_THROUGH = ("Relu", "Clip", "LeakyRelu", "HardSigmoid", "MaxPool")  # QDQ fuses these into the producer
# Ops whose Q/DQ only forwards the input's scale (or that never see any): keeping them in float gains nothing.
NOT_QUANTIZED_COMPUTE = frozenset({
    "QuantizeLinear", "DequantizeLinear", "Reshape", "Unsqueeze", "Squeeze", "Flatten", "Transpose", "Gather",
    "GatherElements", "Slice", "Split", "Expand", "Tile", "Shape", "ConstantOfShape", "Constant", "Identity",
    "Cast", "Range", "Size", "DepthToSpace", "SpaceToDepth", *PASS_THROUGH,
})


def quantized_nodes(qdq_graph) -> list[str]:
    """Names of the compute nodes of a QDQ graph that read a DequantizeLinear output (graph order)."""
    dequantized = {n.output[0] for n in qdq_graph.node if n.op_type == "DequantizeLinear"}
    return [n.name for n in qdq_graph.node
            if n.op_type not in NOT_QUANTIZED_COMPUTE and any(i in dequantized for i in n.input)]


def _activations(path: Path, work: Path, input_name: str, tensors: np.ndarray, batch: int) -> dict:
    from onnxruntime.quantization.qdq_loss_debug import collect_activations, modify_model_output_intermediate_tensors

    augmented = work / f"{path.stem}.debug.onnx"
    with quiet_quantizer_logs():
        modify_model_output_intermediate_tensors(str(path), str(augmented))
        return collect_activations(str(augmented), _TensorReader(input_name, tensors, batch))


def _through(tensor: str, producers: dict) -> str:
    """The tensor a pass-through chain (Relu, Clip, ...) starts from: QDQ quantizes the chain as one output."""
    node = producers.get(tensor)
    while node is not None and node.op_type in PASS_THROUGH:
        tensor = node.input[0]
        node = producers.get(tensor)
    return tensor


def tensor_sqnr(quantizer: QdqQuantizer, qdq_path: Path, tensors: np.ndarray, work: Path) -> dict[str, float]:
    """{tensor name: SQNR dB of that activation in the QDQ model vs the float model} (inf = identical)."""
    from onnxruntime.quantization.qdq_loss_debug import compute_activation_error, create_activation_matching

    args = (work, quantizer.input_name, tensors, quantizer.batch)
    matched = create_activation_matching(_activations(qdq_path, *args), _activations(quantizer.prepared, *args))
    return {name: error["xmodel_err"] for name, error in compute_activation_error(matched).items()
            if error.get("xmodel_err") is not None and not math.isnan(error["xmodel_err"])}


def sqnr_drop(quantizer: QdqQuantizer, candidates: list[str], sqnr: dict[str, float]) -> dict[str, float]:
    """{node: dB of SQNR its own quantization costs}: its noisiest input's SQNR minus its output's. The first layer
    reads the exact graph input, so its drop is infinite: input quantization and its output both count there.
    (Ranking by the plain output SQNR would pick the deepest layers, low only because of upstream noise.)"""
    from edgekit.backend.onnxruntime.loader import load_onnx

    graph = load_onnx(quantizer.prepared).graph
    producers = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    wanted = set(candidates)
    drops = {}
    for node in graph.node:
        if node.name not in wanted:
            continue
        inputs = [i for i in node.input if i in producers or i == quantizer.input_name]  # activations only
        upstream = min((sqnr.get(i, sqnr.get(_through(i, producers), math.inf)) for i in inputs), default=math.inf)
        drops[node.name] = upstream - sqnr.get(_fused_output(node, consumers), upstream)
    return drops


def _fused_output(node, consumers: dict) -> str:
    """The tensor that carries ``node``'s output Q/DQ: the end of a single-consumer pass-through chain."""
    tensor = node.output[0]
    while len(consumers.get(tensor, [])) == 1 and consumers[tensor][0].op_type in PASS_THROUGH:
        tensor = consumers[tensor][0].output[0]
    return tensor


def output_nodes(quantizer: QdqQuantizer) -> list[str]:
    """Nodes producing the graph outputs (through pass-through ops): the regression / logit heads."""
    from edgekit.backend.onnxruntime.loader import load_onnx

    graph = load_onnx(quantizer.prepared).graph
    producers = {out: node for node in graph.node for out in node.output}
    names = [producers[_through(o.name, producers)].name for o in graph.output
             if _through(o.name, producers) in producers]
    return list(dict.fromkeys(names))
