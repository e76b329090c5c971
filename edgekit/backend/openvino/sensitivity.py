"""The per-layer error the INT8 search ranks OpenVINO layers by: the SQNR each quantized op *costs*, in dB.

For each candidate op (``quantize.candidates``), its output in the INT8 IR is compared with the same op's output
in the FP32 IR on a few calibration images (SQNR = 10 log10(|f|^2 / |f - q|^2)); its cost is the SQNR of its
noisiest activation input (the tensor before its FakeQuantize) minus its output's. Ranking by the plain output SQNR
would pick the deepest layers, low only because of upstream noise (the same rule as the ONNX Runtime search). An op
reading the exact graph input costs infinity: input quantization and its own both count there."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from edgekit.backend.openvino.loader import read_ir

Port = tuple[str, int]  # (op friendly name, output index): one tensor, named alike in the FP32 and INT8 IRs
SKIPPED = ("FakeQuantize", "Convert", "Multiply", "Subtract")  # quantization ops between an input and its source


def _source(value) -> Port | None:
    """The activation an input reads, past FakeQuantize (None for constants: weights, biases, shapes)."""
    node = value.get_node()
    while node.get_type_name() == "FakeQuantize":
        value = node.input_value(0)
        node = value.get_node()
    if _constant(node):
        return None
    return node.get_friendly_name(), value.get_index()


def _constant(node) -> bool:
    """A Constant, or compressed weights made of constants only: Constant -> Convert -> (Subtract) -> Multiply."""
    if node.get_type_name() == "Constant":
        return True
    return node.get_type_name() in SKIPPED[1:] and all(_constant(v.get_node()) for v in node.input_values())


def _wiring(int8_xml: Path, names: list[str]) -> dict[str, list[Port]]:
    """{candidate: its activation inputs' source tensors} in the INT8 IR."""
    ops = {op.get_friendly_name(): op for op in read_ir(int8_xml).get_ordered_ops()}
    return {name: [port for port in map(_source, ops[name].input_values()) if port is not None] for name in names}


def _outputs(xml: Path, ports: list[Port], tensors: np.ndarray) -> dict[Port, np.ndarray]:
    """The values of ``ports`` (the ones this IR has) for ``tensors``, one FP32-precision CPU inference."""
    import openvino as ov

    from edgekit.backend.openvino.runner import CPU_CONFIG

    model = read_ir(xml)
    ops = {op.get_friendly_name(): op for op in model.get_ordered_ops()}
    present = [port for port in ports if port[0] in ops and ops[port[0]].get_type_name() != "Parameter"]
    model.add_outputs([ops[name].output(index) for name, index in present])
    compiled = ov.Core().compile_model(model, "CPU", CPU_CONFIG)
    results = compiled(np.ascontiguousarray(tensors, np.float32))
    first = len(model.outputs) - len(present)  # add_outputs appends after the model's own outputs
    return {port: results[compiled.outputs[first + i]] for i, port in enumerate(present)}


def _sqnr(reference: np.ndarray, noisy: np.ndarray) -> float:
    noise = float(np.square(reference.astype(np.float64) - noisy).sum())
    return math.inf if noise == 0 else 10 * math.log10(max(float(np.square(reference.astype(np.float64)).sum()),
                                                           1e-30) / noise)


def sqnr_drop(fp32_xml: str | Path, int8_xml: str | Path, names: list[str], tensors: np.ndarray) -> dict[str, float]:
    """{candidate op: dB of SQNR its own quantization costs} on ``tensors`` (a few calibration images)."""
    wiring = _wiring(Path(int8_xml), names)
    ports = list(dict.fromkeys([(name, 0) for name in names] + [p for inputs in wiring.values() for p in inputs]))
    exact, quantized = _outputs(Path(fp32_xml), ports, tensors), _outputs(Path(int8_xml), ports, tensors)
    sqnr = {port: _sqnr(exact[port], quantized[port]) for port in exact if port in quantized}
    drops = {}
    for name, inputs in wiring.items():
        upstream = min((sqnr.get(port, math.inf) for port in inputs), default=math.inf)  # graph input: exact
        drops[name] = upstream - sqnr.get((name, 0), upstream)
    return drops
