"""Per-layer INT8 sensitivity and the float fallback.

Only nodes that actually carry Q/DQ in the quantized graph are candidates (Conv, Gemm, MatMul, Add, Mul, Concat,
pooling, ...): data movement and shape arithmetic (Reshape, Unsqueeze, Slice, ConstantOfShape, ...) is never
listed, since leaving it "in float" changes nothing.

0. Recalibration (``recalibrate``): Percentile ranges instead of the target's, tried in order (99.99, 99.9, 99.5):
   one outlier in a calibration image stretches a min/max range over codes no other value uses (PIPNet-MobileNetV3's
   hard-swish / squeeze-excite activations: +2.0 NME with MinMax, -0.2 with Percentile 99.9 on 200 val faces).
   The per-layer search below starts from the best of these calibrations.
1. The layers without weights (elementwise, reductions, pooling, softmax: decode tails, capsules, SSR stages) are
   tried in float together first, and kept there when that lowers the delta.
2. Cheap pre-filter: the SQNR each candidate *costs*, from ORT's ``qdq_loss_debug`` (float vs QDQ activations on
   calibration images): its inputs' SQNR minus its output's, in dB. Ranking by the plain output SQNR would pick
   the deepest layers, whose SQNR is low only because of upstream noise.
3. The ``trials`` biggest injectors are each left in float alone and the gate metric is measured.
4. Greedy: following that ranking, a node stays in float if it lowers the delta, until the budget holds
   (at most ``int8.max_float_layers`` nodes)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Sequence, TypeVar

import numpy as np

from edgekit.export.calibrate import QdqQuantizer, _quiet_ort, _TensorReader

Base = TypeVar("Base")  # a backend's quantizer (QdqQuantizer, TfliteInt8Quantizer)
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
    with _quiet_ort():
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


def fallback(bases: Sequence[tuple[str, QdqQuantizer]], qdq_path: Path, out_path: Path, tensors: np.ndarray,
             work: Path, delta_of: Callable[[Path], float], budget: float, max_layers: int, trials: int = 12,
             log: Callable[[str], None] = print) -> dict:
    """Keep the most harmful quantized nodes in float until ``delta_of(file) <= budget``; writes ``out_path``.

    ``bases``: (name, quantizer) of the calibrations the search may start from (``pick_base``); ``qdq_path``: an
    all-INT8 file (the graph's quantized nodes); ``delta_of(path)`` is the gate's metric delta of a quantized file.
    Returns the record for the manifest: the calibration, the SQNR-drop pre-filter, the per-node deltas tried, the
    nodes kept in float, the final delta, passed."""
    from edgekit.backend.onnxruntime.loader import load_onnx

    graph = load_onnx(qdq_path).graph
    candidates = quantized_nodes(graph)
    types = {node.name: node.op_type for node in graph.node}
    tail = [name for name in candidates if types[name] not in WEIGHTED_ONNX]
    name, quantizer = pick_base(bases, lambda base, kept: base.quantize(out_path, exclude=kept),
                                lambda: delta_of(out_path), tail, log)
    start = quantizer.quantize(work / "base.int8.onnx")  # the chosen calibration's all-INT8 file
    drops = sqnr_drop(quantizer, candidates, tensor_sqnr(quantizer, start, tensors[:16], work))
    record = keep_in_float(candidates, drops, lambda kept: quantizer.quantize(out_path, exclude=kept),
                           lambda: delta_of(out_path), delta_of(start), budget, max_layers, trials, log, tail)
    return {"calibration": name, **record}


def pick_base(bases: Sequence[tuple[str, Base]], write: Callable[[Base, list[str]], object],
              written_delta: Callable[[], float], unweighted: list[str],
              log: Callable[[str], None]) -> tuple[str, Base]:
    """The (name, base) the layer search starts from, of several calibrations: the one whose file with the layers
    without weights in float scores best. The all-INT8 ranking can differ: FSA-Net TFLite on the demo's faces,
    Percentile 99.99 0.70 vs MinMax 0.81 deg all-INT8, but 0.25 vs 0.16 with those layers in float."""
    if len(bases) < 2 or not unweighted:
        return bases[0]
    scores = []
    for name, base in bases:
        write(base, unweighted)
        scores.append(written_delta())
        log(f"  sensitivity: {name}, the {len(unweighted)} layers without weights in float -> delta {scores[-1]:.4f}")
    return bases[int(np.argmin(scores))]


def recalibrate(percentiles: tuple[float, ...], write: Callable[[float], Path], delta_of: Callable[[Path], float],
                delta: float, budget: float, log: Callable[[str], None]) -> tuple[float | None, Path | None, dict]:
    """Step 0 for any backend: ``write(p)`` writes the file quantized with Percentile-``p`` ranges and returns its
    path, ``delta_of(path)`` gates it (inf when it does not run); ``delta``: the target's calibration's delta.
    Stops at the first percentile within budget. Returns (best percentile or None when none beat the target's
    calibration, its file, the record for the manifest)."""
    best, best_path, tried = None, None, {}
    for percentile in percentiles:
        if delta <= budget:
            break
        path = write(percentile)
        tried[f"{percentile:g}"] = _number(trial := delta_of(path))
        log(f"  recalibration: percentile {percentile:g} ranges -> delta {trial:.4f}")
        if trial < delta:
            best, best_path, delta = percentile, path, trial
    return best, best_path, {"method": "percentile", "tried": tried, "chosen": best, "delta": _number(delta),
                             "passed": bool(delta <= budget)}


def keep_in_float(candidates: list[str], drops: dict[str, float], write: Callable[[list[str]], object],
                  written_delta: Callable[[], float], delta: float, budget: float, max_layers: int, trials: int,
                  log: Callable[[str], None], unweighted: list[str] = (), label: Callable[[str], str] = str) -> dict:
    """Steps 2 and 3 for any backend: ``write(kept)`` writes the file with the layers ``kept`` in float,
    ``written_delta()`` gates it (inf when it does not run); ``delta``: the all-INT8 file's.

    ``unweighted``: the layers without weights (the elementwise / reduction / normalization ops of a decode
    tail, capsules, SSR stages) are first tried in float together, since their error adds up over many small ops
    no single one of which shows it (FSA-Net: INT8 +0.48 deg MAE, +0.005 deg with only these in float). They stay
    in float when that lowers the delta; the per-layer search then goes on from there."""
    kept: list[str] = []
    if unweighted and delta > budget:
        write(list(unweighted))
        trial = written_delta()
        if trial < delta:
            kept, delta = list(unweighted), trial
            log(f"  sensitivity: keeping the {len(kept)} layers without weights in float -> delta {delta:.4f}")
    rest = [name for name in candidates if name not in kept]
    shortlist = sorted(rest, key=lambda n: -drops.get(n, 0.0))[: max(trials, 1)] if delta > budget else []
    single = {}
    for node in shortlist:  # the metric when this node (besides those kept) stays in float
        write([*kept, node])
        single[node] = written_delta()
    added = 0
    for node in sorted(single, key=single.get):
        if delta <= budget or added >= max_layers:
            break
        write([*kept, node])
        trial = written_delta()
        if trial < delta:
            kept, delta, added = [*kept, node], trial, added + 1
            log(f"  sensitivity: keeping {label(node)} in float -> delta {delta:.4f}")
    write(kept)
    return {"candidates": len(candidates), "sqnr_drop_db": {n: _finite(drops.get(n, 0.0)) for n in shortlist},
            "single_node_delta": {n: _number(v) for n, v in single.items()}, "float_layers": kept,
            "unweighted_in_float": bool(unweighted) and set(unweighted) <= set(kept),
            "delta": _number(delta), "passed": bool(delta <= budget)}


def _number(value: float) -> float | None:
    """JSON-safe: None for a file that did not run (infinite delta)."""
    return float(value) if math.isfinite(value) else None


def _finite(value: float) -> float | None:
    """A JSON-safe number for the manifest (None for an infinite drop)."""
    return round(value, 2) if math.isfinite(value) else None
