"""Per-layer INT8 sensitivity and the float fallback.

1. SQNR per quantized tensor (ORT's ``qdq_loss_debug``): float activations vs QDQ activations on calibration
   images; each tensor is attributed to the node that produces it (through a following Relu / Clip, which QDQ
   fuses into its producer).
2. The lowest-SQNR candidates are each left in float alone (``nodes_to_exclude``) and the gate metric is measured:
   the nodes whose exclusion helps most rank first.
3. Following that ranking, nodes are kept in float one at a time until the budget holds (at most
   ``int8.max_float_layers``)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import numpy as np

from edgekit.export.calibrate import QdqQuantizer, _quiet_ort, _TensorReader

PASS_THROUGH = ("Relu", "Clip", "LeakyRelu", "HardSigmoid", "MaxPool")  # QDQ fuses these into the producer


def _activations(path: Path, work: Path, input_name: str, tensors: np.ndarray, batch: int) -> dict:
    from onnxruntime.quantization.qdq_loss_debug import collect_activations, modify_model_output_intermediate_tensors

    augmented = work / f"{path.stem}.debug.onnx"
    with _quiet_ort():
        modify_model_output_intermediate_tensors(str(path), str(augmented))
        return collect_activations(str(augmented), _TensorReader(input_name, tensors, batch))


def _producer_of(tensor: str, producers: dict) -> str | None:
    node = producers.get(tensor)
    while node is not None and node.op_type in PASS_THROUGH and node.input[0] in producers:
        node = producers[node.input[0]]
    return None if node is None else node.name


def layer_sqnr(quantizer: QdqQuantizer, qdq_path: Path, tensors: np.ndarray, work: Path) -> dict[str, float]:
    """{node name: SQNR dB of its quantized output, float model vs QDQ model (lower = more damaged)}."""
    from onnxruntime.quantization.qdq_loss_debug import compute_activation_error, create_activation_matching

    from edgekit.backend.onnxruntime.loader import load_onnx

    args = (work, quantizer.input_name, tensors, quantizer.batch)
    matched = create_activation_matching(_activations(qdq_path, *args), _activations(quantizer.prepared, *args))
    errors = compute_activation_error(matched)
    graph = load_onnx(quantizer.prepared).graph
    producers = {out: node for node in graph.node for out in node.output}
    sqnr: dict[str, float] = {}
    for tensor, error in errors.items():
        node = _producer_of(tensor, producers)
        value = error.get("xmodel_err")
        if node is not None and value is not None and math.isfinite(value):
            sqnr[node] = min(value, sqnr.get(node, math.inf))
    return sqnr


def output_nodes(quantizer: QdqQuantizer) -> list[str]:
    """Nodes producing the graph outputs (through pass-through ops): the regression / logit heads."""
    from edgekit.backend.onnxruntime.loader import load_onnx

    graph = load_onnx(quantizer.prepared).graph
    producers = {out: node for node in graph.node for out in node.output}
    return [name for name in (_producer_of(o.name, producers) for o in graph.output) if name]


def fallback(quantizer: QdqQuantizer, qdq_path: Path, out_path: Path, tensors: np.ndarray, work: Path,
             delta_of: Callable[[Path], float], budget: float, max_layers: int, trials: int = 8,
             log: Callable[[str], None] = print) -> dict:
    """Keep the most harmful nodes in float until ``delta_of(file) <= budget``; writes ``out_path``.

    ``delta_of(path)`` is the gate's metric delta of a quantized file. Returns the record for the manifest:
    SQNR ranking, per-node deltas tried, the nodes kept in float, the final delta and whether it passed."""
    sqnr = layer_sqnr(quantizer, qdq_path, tensors[:16], work)
    heads = [n for n in output_nodes(quantizer) if n in sqnr]  # output quantization often dominates the metric
    worst = heads + [n for n in sorted(sqnr, key=sqnr.get) if n not in heads][: max(trials, max_layers)]
    single = {}
    for node in worst[:trials]:  # metric change when this node alone stays in float
        quantizer.quantize(out_path, exclude=[node])
        single[node] = delta_of(out_path)
    ranked = sorted(single, key=single.get) + [n for n in worst if n not in single]
    kept: list[str] = []
    delta = math.inf
    for node in ranked[:max_layers]:
        kept.append(node)
        quantizer.quantize(out_path, exclude=kept)
        delta = delta_of(out_path)
        log(f"  sensitivity: keeping {node} in float (SQNR {sqnr[node]:.1f} dB) -> delta {delta:.4f}")
        if delta <= budget:
            break
    return {"sqnr_db": {n: round(sqnr[n], 2) for n in worst}, "single_node_delta": single,
            "float_layers": kept, "delta": delta, "passed": bool(delta <= budget)}
