"""TensorRT checks that need no GPU: the ONNX parser's limits, QDQ placement, the calibration-cache text, and which
ONNX of an artifact an engine is built from. Engine names and trtexec lines are in ``commands``, target
validation in ``targets``. The tables are documented with their sources in docs/TENSORRT.md.
"""
from __future__ import annotations

import struct
from collections import defaultdict
from typing import Any

from edgekit.backend.tensorrt.api import TrtGeneration, at_least, generation, parse_version
from edgekit.errors import EdgekitError, SpecError
from edgekit.specs import TensorrtSection

# Highest ONNX opset each parser generation is taken to support (conservative: 8.5/8.6 document 17; 10.x is
# kept at 20 although later 10.x parsers read newer opsets, and 11.x likewise until verified).
MAX_OPSET = {(8, 5): 17, (8, 6): 17, (10, 0): 20, (11, 0): 20}
MIN_OPSET = 9

# A conservative set of ONNX ops the TensorRT parser handles in every supported generation.
SUPPORTED_OPS = frozenset("""
    Abs Add ArgMax ArgMin AveragePool BatchNormalization Cast Ceil Clip Concat Constant ConstantOfShape Conv
    ConvTranspose Cos DepthToSpace DequantizeLinear Div Dropout Einsum Elu Equal Erf Exp Expand Flatten Floor
    Gather GatherElements Gemm GlobalAveragePool GlobalMaxPool Greater HardSigmoid HardSwish Identity
    InstanceNormalization LeakyRelu Less Log LogSoftmax MatMul Max MaxPool Min Mul Neg Not Pad Pow PRelu
    QuantizeLinear Range Reciprocal ReduceL2 ReduceMax ReduceMean ReduceMin ReduceProd ReduceSum Relu Reshape
    Resize Selu Shape Sigmoid Sign Sin Slice Softmax Softplus SpaceToDepth Split Sqrt Squeeze Sub Sum Tanh Tile
    TopK Transpose Unsqueeze Upsample Where
""".split())
OPS_SINCE = {"LayerNormalization": (8, 6)}  # native parser support from this version on


# ----------------------------------------------------------------------------- ONNX checks


def max_opset(trt_version: str) -> int:
    major_minor = parse_version(trt_version)[:2]
    generation(trt_version)  # refuses unsupported versions
    return max(v for k, v in MAX_OPSET.items() if k <= major_minor)


def _onnx_opset(model: Any) -> int:
    return max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)


def check_onnx_for_tensorrt(model: Any, version: str) -> list[str]:
    """Problems that would stop TensorRT ``version``'s ONNX parser or edgekit's runner: opset out of range,
    ops outside a conservative supported set or in custom domains, dynamic dims other than the batch, inputs
    that are not float32 (edgekit feeds float32), int64 outputs on 8.x. Empty list: looks buildable."""
    problems = []
    opset, highest = _onnx_opset(model), max_opset(version)
    if not MIN_OPSET <= opset <= highest:
        problems.append(f"opset {opset} is outside {MIN_OPSET}..{highest}, what TensorRT {version}'s parser "
                        "takes: export with onnx.opset in that range")
    unsupported = defaultdict(int)
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx"):
            unsupported[f"{node.domain}::{node.op_type}"] += 1
        elif node.op_type not in SUPPORTED_OPS and not at_least(version, OPS_SINCE.get(node.op_type, (99, 0))):
            unsupported[node.op_type] += 1
    problems += [f"op {op} ({n} nodes) is not in edgekit's TensorRT {version} supported set"
                 for op, n in sorted(unsupported.items())]
    initializers = {i.name for i in model.graph.initializer}
    for value in model.graph.input:
        if value.name not in initializers:
            problems += _input_problems(value)
    if generation(version) == TrtGeneration.TRT8:
        problems += [f"output '{v.name}' is int64, which TensorRT 8 does not support as I/O"
                     for v in model.graph.output if v.type.tensor_type.elem_type == 7]  # TensorProto.INT64
    return problems


def _input_problems(value: Any) -> list[str]:
    from onnx import TensorProto

    tensor = value.type.tensor_type
    problems = []
    if tensor.elem_type != TensorProto.FLOAT:
        kind = TensorProto.DataType.Name(tensor.elem_type)
        problems.append(f"input '{value.name}' is {kind}; edgekit feeds float32 inputs")
    dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim]
    if any(d <= 0 for d in dims[1:]):
        problems.append(f"input '{value.name}' has dynamic dims other than the batch: {dims}")
    return problems


# ----------------------------------------------------------------------------- QDQ


class _Graph:
    """Lookups over a graph: initializers (as numpy), producers and consumers of every tensor."""

    def __init__(self, model: Any):
        from onnx import numpy_helper

        graph = model.graph
        self.nodes = list(graph.node)
        self.init_protos = {i.name: i for i in graph.initializer}
        self.arrays = {name: numpy_helper.to_array(i) for name, i in self.init_protos.items()}
        for node in self.nodes:  # Constant nodes count as initializers
            if node.op_type == "Constant":
                value = next((a.t for a in node.attribute if a.name == "value"), None)
                if value is not None:
                    self.arrays[node.output[0]] = numpy_helper.to_array(value)
        self.producer = {out: n for n in self.nodes for out in n.output}
        self.consumers: dict[str, list] = defaultdict(list)
        for node in self.nodes:
            for name in node.input:
                self.consumers[name].append(node)

    def of_type(self, op_type: str) -> list:
        return [n for n in self.nodes if n.op_type == op_type]

    def zero_point(self, node: Any) -> Any:
        """The zero-point array of a Q/DQ node; None when absent (ONNX then means uint8 zero)."""
        return self.arrays.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None

    def axis(self, node: Any) -> int:
        return next((a.i for a in node.attribute if a.name == "axis"), 1)  # ONNX default axis = 1


def check_qdq_placement(model: Any) -> list[str]:
    """Problems that stop TensorRT from building a QDQ (explicitly quantized) INT8 ONNX: every QuantizeLinear
    must feed only DequantizeLinear; every activation DequantizeLinear needs a QuantizeLinear before it; all
    quantization is int8 and symmetric (zero point 0). ONNX Runtime's uint8 activations (QUInt8) and its
    default asymmetric QInt8 activations (1.31) are not accepted: quantize with activation_type=QInt8 and
    extra_options={"ActivationSymmetric": True} for TensorRT targets;
    per-channel weight scales lie on the output-channel axis (Conv / Gemm(transB=1): 0, MatMul: 1)."""
    g = _Graph(model)
    quantize, dequantize = g.of_type("QuantizeLinear"), g.of_type("DequantizeLinear")
    if not quantize and not dequantize:
        return ["no QuantizeLinear / DequantizeLinear nodes: not a QDQ model"]
    problems = []
    for node in quantize:
        feeds = sorted({c.op_type for c in g.consumers[node.output[0]]} - {"DequantizeLinear"})
        if feeds or not g.consumers[node.output[0]]:
            problems.append(f"QuantizeLinear '{node.name}' must feed only DequantizeLinear (feeds "
                            f"{', '.join(feeds) or 'nothing'})")
        problems += _zero_point_problems(g, node, node.input[0])
    for node in dequantize:
        source = node.input[0]
        paired = source in g.producer and g.producer[source].op_type == "QuantizeLinear"
        if source in g.arrays:  # int8 weights stored quantized, DQ only
            problems += _zero_point_problems(g, node, source)
        elif not paired:
            problems.append(f"DequantizeLinear '{node.name}' has no QuantizeLinear before it")
        weight = source in g.arrays or (paired and g.producer[source].input[0] in g.arrays)
        if weight:
            problems += _axis_problems(g, node)
    return problems


def _zero_point_problems(g: _Graph, node: Any, tensor: str) -> list[str]:
    import numpy as np

    kind = "weight" if tensor in g.arrays or node.input[0] in g.arrays else "activation"
    zero = g.zero_point(node)
    if node.op_type == "DequantizeLinear" and node.input[0] in g.arrays:
        dtype = g.arrays[node.input[0]].dtype
    else:
        dtype = zero.dtype if zero is not None else np.dtype(np.uint8)
    scale = g.arrays.get(node.input[1])
    problems = []
    if dtype != np.int8:
        hint = " (ONNX Runtime's QUInt8): use activation_type=QInt8, ActivationSymmetric=True" \
            if kind == "activation" else ""
        problems.append(f"{kind} '{tensor}' is quantized to {dtype}{hint}; TensorRT needs int8")
    elif zero is not None and np.any(zero != 0):
        problems.append(f"{kind} '{tensor}' has a non-zero zero point: TensorRT needs symmetric int8")
    if scale is not None and np.any(scale <= 0):
        problems.append(f"{kind} '{tensor}' has a non-positive scale")
    return problems


def _axis_problems(g: _Graph, dq: Any) -> list[str]:
    scale = g.arrays.get(dq.input[1])
    if scale is None or scale.size <= 1:
        return []
    problems = []
    for user in g.consumers[dq.output[0]]:
        if list(user.input[1:2]) != [dq.output[0]]:
            continue  # not the weight input
        trans_b = next((a.i for a in user.attribute if a.name == "transB"), 0)
        wanted = {"Conv": 0, "Gemm": 0 if trans_b else 1, "MatMul": 1}.get(user.op_type)
        if wanted is not None and g.axis(dq) != wanted:
            problems.append(f"per-channel weight '{dq.input[0]}' of {user.op_type} '{user.name}' is quantized on "
                            f"axis {g.axis(dq)}; TensorRT needs the output-channel axis {wanted}")
    return problems


# ----------------------------------------------------------------------------- calibration cache


def calibration_header_version(trt_version: str) -> int:
    """NV_TENSORRT_VERSION as written in cache headers: 8.x major*1000+minor*100+patch (8.5.2 -> 8502);
    10.x and later major*10000+minor*100+patch (10.3.0 -> 100300)."""
    major, minor, patch = (parse_version(trt_version) + (0, 0))[:3]
    return major * (1000 if major < 10 else 10000) + minor * 100 + patch


def calibration_table_from_qdq(model: Any, trt_version: str, algorithm: str = "EntropyCalibration2") -> str:
    """The TensorRT INT8 calibration cache for the activations of a QDQ ONNX (for DeepStream's
    ``int8-calib-file`` / the implicit INT8 path of 8.x-10.x, with the float ONNX the QDQ came from).

    Format: first line ``TRT-<NV_TENSORRT_VERSION>-<algorithm>``, then one line per activation tensor
    ``<tensor name>: <8 hex digits>``, the hex being the big-endian IEEE-754 float32 of the tensor's int8
    scale (= dynamic range / 127). An int8 symmetric QDQ scale is written as is; an asymmetric or uint8 one is
    widened to the symmetric range covering it: max(|(qmin - zp) s|, |(qmax - zp) s|) / 127."""
    import numpy as np

    if generation(trt_version) == TrtGeneration.TRT11:
        raise SpecError(f"TensorRT {trt_version} removed implicit INT8 calibration: build from the QDQ ONNX")
    if algorithm not in ("EntropyCalibration2", "MinMaxCalibration", "EntropyCalibration", "LegacyCalibration"):
        raise SpecError(f"unknown calibration algorithm '{algorithm}'")
    g = _Graph(model)
    lines, seen = [f"TRT-{calibration_header_version(trt_version)}-{algorithm}"], set()
    for node in g.of_type("QuantizeLinear"):
        if node.input[0] in g.arrays:
            continue  # weights carry their own scales
        tensor = _float_name(g, node, {o.name for o in model.graph.output})
        if tensor in seen:
            continue  # one line per activation
        seen.add(tensor)
        scale = float(np.asarray(g.arrays[node.input[1]]).reshape(-1)[0])
        zero = g.zero_point(node)
        zero_value, info = (0, np.iinfo(np.uint8)) if zero is None else (int(zero.reshape(-1)[0]),
                                                                          np.iinfo(zero.dtype))
        if zero is not None and zero.dtype == np.int8 and zero_value == 0:
            table_scale = scale
        else:
            table_scale = max(abs((info.min - zero_value) * scale), abs((info.max - zero_value) * scale)) / 127
        lines.append(f"{tensor}: {struct.pack('>f', table_scale).hex()}")
    if len(lines) == 1:
        raise EdgekitError("the ONNX has no activation QuantizeLinear nodes: nothing to calibrate")
    return "\n".join(lines) + "\n"


def _float_name(g: _Graph, quantize: Any, outputs: set[str]) -> str:
    """The name the float model gives the tensor a QuantizeLinear reads: ONNX Runtime renames a graph output
    ``y`` it quantizes to ``y_QuantizeLinear_Input`` (its DequantizeLinear then writes ``y``), a name the float
    ONNX that nvinfer builds from does not have."""
    for consumer in g.consumers[quantize.output[0]]:
        if consumer.op_type == "DequantizeLinear" and consumer.output[0] in outputs:
            return consumer.output[0]
    return quantize.input[0]


def scale_from_hex(text: str) -> float:
    """Inverse of a calibration-cache value: '3c010204' -> 0.0078740..."""
    return struct.unpack(">f", bytes.fromhex(text.strip()))[0]


# ----------------------------------------------------------------------------- which ONNX


def int8_onnx(manifest: Any) -> Any:
    """The artifact's best QDQ ONNX entry (None if none): one that passed the gate (the ``gate`` check), the
    sensitivity fallback ("mixed": some layers in float) before an all-INT8 file when several did or none did."""
    from pathlib import PurePosixPath

    gated = manifest.checks.gate.files

    def passed(entry: Any) -> bool:
        result = gated.get(PurePosixPath(entry.path).name)
        return result is not None and result.passed

    quantized = [e for e in manifest.models() if e.format == "onnx" and e.precision in ("mixed", "int8")]
    ranked = sorted(quantized, key=lambda e: (not passed(e), e.precision != "mixed"))
    return ranked[0] if ranked else None


def onnx_for_tensorrt(manifest: Any, section: TensorrtSection) -> Any:
    """The artifact's ONNX entry to build ``section`` from: for int8 the best QDQ ONNX (``int8_onnx``, required:
    a recalibrated or mixed file when the gate made one); an FP16-typed
    ONNX for fp16 on 11.x when there is one (``loader`` converts the float one otherwise); else the float ONNX."""
    from edgekit.errors import ModelFileError

    if section.precision == "int8":
        entry = int8_onnx(manifest)
        if entry is None:
            raise ModelFileError("no int8 (QDQ) ONNX in the artifact: run the calibrate stage for this target")
        return entry
    if section.precision == "fp16" and generation(section.version) == TrtGeneration.TRT11:
        entry = manifest.find("onnx", "fp16")
        if entry is not None:
            return entry
    entry = manifest.find("onnx", "fp32")
    if entry is None:
        raise ModelFileError("the artifact has no float32 ONNX to build a TensorRT engine from")
    return entry
