"""One shim over three TensorRT Python API generations: 8.5/8.6 (JetPack 5.1, 6.0), 10.x (JetPack 6.1/6.2,
desktops) and 11.x (JetPack 7.2.2+). Every function takes the ``tensorrt`` module (``trt``) so the dispatch is
testable without TensorRT; none of this has run against a real TensorRT here (it cannot be installed on the
project's machines). Written against the documented API; differences per generation (docs/TENSORRT.md):

- network: 8 needs ``EXPLICIT_BATCH``; 10 is explicit-batch only, optionally ``STRONGLY_TYPED``; 11 is always
  strongly typed (the ONNX tensor types decide the precision).
- precision: 8 / weakly typed 10 use ``BuilderFlag.FP16`` / ``INT8``; 11 removed those flags and calibrators, so
  FP16 needs an FP16-typed ONNX (``convert_onnx_to_fp16``) and INT8 a QDQ ONNX.
- DLA exists in 8 and 10.0-10.7, not in 10.8+ nor 11.0-11.4.0 (11.4.1 restores it on AGX Orin).
- I/O: 8.5+ has both the binding API (``execute_async_v2``) and the name API (``execute_async_v3``); 10 and 11
  only the name API. The name API is used whenever the engine has ``num_io_tensors``.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np

from edgekit.errors import EdgekitError, ModelFileError, SpecError


class TrtGeneration(IntEnum):
    TRT8 = 8  # 8.5, 8.6
    TRT10 = 10
    TRT11 = 11


def parse_version(version: str) -> tuple[int, ...]:
    """'10.3.0.30' -> (10, 3, 0, 30); SpecError for anything that is not dotted integers."""
    text = str(version).strip()
    try:
        parts = tuple(int(p) for p in text.split("."))
    except ValueError:
        raise SpecError(f"TensorRT version '{text}' is not a version like 8.5.2 or 10.3") from None
    return parts if len(parts) >= 2 else parts + (0,)


def generation(version: str) -> TrtGeneration:
    """The API generation of a TensorRT version: 8.5/8.6 -> 8, 10.x -> 10, 11.x -> 11."""
    parts = parse_version(version)
    if parts[:2] < (8, 5):
        raise EdgekitError(f"TensorRT {version} is older than 8.5, which edgekit supports")
    if parts[0] == 8:
        return TrtGeneration.TRT8
    if parts[0] in (10, 11):
        return TrtGeneration(parts[0])
    raise EdgekitError(f"TensorRT {version} is not supported: edgekit knows 8.5/8.6, 10.x and 11.x")


DLA_RELEASES = "8.x, 10.0-10.7 and 11.4.1+ (Jetson AGX Orin, JetPack 7.2.2+)"


def has_dla(version: str) -> bool:
    """DLA in a TensorRT release, per NVIDIA's notes: 8.x yes; 10.x up to 10.7 (the last 10.x with DLA); none in
    11.0-11.3, nor in 11.4.0 on JetPack (Windows on ARM only); 11.4.1+ again on Jetson AGX Orin. A version
    without a patch number (``11.4``) means its first release."""
    parts = (parse_version(version) + (0,))[:3]
    gen = generation(version)
    if gen == TrtGeneration.TRT10:
        return parts[:2] <= (10, 7)
    return gen == TrtGeneration.TRT8 or parts >= (11, 4, 1)


def open_runtime(trt: Any, meta: dict | None) -> Any:
    """A ``trt.Runtime`` ready for the engine ``meta`` (its build record) describes: a version-compatible engine
    carries the lean runtime as host code, which TensorRT refuses to deserialize unless
    ``engine_host_code_allowed`` is set first."""
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    if meta and meta.get("version_compatible"):
        runtime.engine_host_code_allowed = True
    return runtime


def at_least(version: str, wanted: tuple[int, int]) -> bool:
    return parse_version(version)[:2] >= wanted


def wants_strongly_typed(gen: TrtGeneration, onnx_is_typed: bool) -> bool:
    """8: never (no such flag); 10: when the ONNX carries its precision (QDQ or FP16 tensors); 11: always."""
    if gen == TrtGeneration.TRT8:
        return False
    return gen == TrtGeneration.TRT11 or onnx_is_typed


# ----------------------------------------------------------------------------- builder side


def create_network(trt: Any, builder: Any, gen: TrtGeneration, strongly_typed: bool) -> Any:
    flags = trt.NetworkDefinitionCreationFlag
    if gen == TrtGeneration.TRT8:
        return builder.create_network(1 << int(flags.EXPLICIT_BATCH))
    if gen == TrtGeneration.TRT10:
        return builder.create_network(1 << int(flags.STRONGLY_TYPED) if strongly_typed else 0)
    return builder.create_network()  # 11: strongly typed, no switch


def set_workspace(trt: Any, config: Any, workspace_mb: int) -> None:
    """``set_memory_pool_limit`` (8.4+; ``max_workspace_size`` is gone in 10)."""
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mb) * 2**20)


def set_precision(trt: Any, config: Any, gen: TrtGeneration, precision: str, strongly_typed: bool) -> list[str]:
    """Builder flags for ``precision``; returns the flag names set. Strongly typed networks (always on 11) take
    their precision from the ONNX types, so no flag is touched there."""
    if gen == TrtGeneration.TRT11 or strongly_typed or precision == "fp32":
        return []
    names = ["FP16"] if precision == "fp16" else ["INT8", "FP16"]  # FP16: layers without an INT8 kernel
    for name in names:
        config.set_flag(getattr(trt.BuilderFlag, name))
    return names


def configure_dla(trt: Any, builder: Any, config: Any, version: str, dla_core: int | None,
                  gpu_fallback: bool) -> bool:
    """Put the network on DLA core ``dla_core`` (layers it cannot run go to the GPU with ``gpu_fallback``).
    Nothing happens when ``dla_core`` is None; returns whether DLA was configured."""
    if dla_core is None:
        return False
    if not has_dla(version):
        raise SpecError(f"TensorRT {version} has no DLA support (absent in 11.0-11.3): remove tensorrt.dla_core")
    available = getattr(builder, "num_DLA_cores", None)
    if available is not None and dla_core >= available:
        raise EdgekitError(f"DLA core {dla_core} requested but this device has {available} DLA cores")
    config.default_device_type = trt.DeviceType.DLA
    config.DLA_core = int(dla_core)
    if gpu_fallback:
        config.set_flag(trt.BuilderFlag.GPU_FALLBACK)
    return True


def attach_timing_cache(config: Any, data: bytes) -> bool:
    """Load a serialized timing cache (``b""`` = a fresh one); False when TensorRT rejected ``data`` (another
    GPU or version), in which case a fresh cache is attached instead."""
    if config.set_timing_cache(config.create_timing_cache(data), ignore_mismatch=False):
        return True
    config.set_timing_cache(config.create_timing_cache(b""), ignore_mismatch=False)
    return False


def serialize_timing_cache(config: Any) -> bytes:
    return bytes(config.get_timing_cache().serialize())


def add_batch_profile(builder: Any, config: Any, network: Any, batch: tuple[int, int, int]) -> dict[str, dict]:
    """An optimization profile over the batch dim of every input with a dynamic batch. Returns
    ``{input: {"min": shape, "opt": shape, "max": shape}}`` for all inputs. Dynamic dims other than the batch,
    or a fixed batch the target's (min, opt, max) does not equal, are ModelFileErrors."""
    shapes, dynamic = {}, {}
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        shape = tuple(int(d) for d in tensor.shape)
        if any(d < 0 for d in shape[1:]):
            raise ModelFileError(f"input '{tensor.name}' has dynamic dims other than the batch: {list(shape)}")
        if shape[0] < 0:
            dynamic[tensor.name] = shape[1:]
            shapes[tensor.name] = {k: [b, *shape[1:]] for k, b in zip(("min", "opt", "max"), batch)}
        elif tuple(batch) != (shape[0],) * 3:
            raise ModelFileError(f"input '{tensor.name}' has a fixed batch of {shape[0]} but the target asks for "
                                 f"batch {list(batch)}: export the ONNX with onnx.dynamic_batch: true")
        else:
            shapes[tensor.name] = {k: list(shape) for k in ("min", "opt", "max")}
    if dynamic:
        profile = builder.create_optimization_profile()
        for name in dynamic:
            profile.set_shape(name, *(tuple(shapes[name][k]) for k in ("min", "opt", "max")))
        config.add_optimization_profile(profile)
    return shapes


def require_at_least(version: str, wanted: tuple[int, int], what: str) -> None:
    if not at_least(version, wanted):
        raise SpecError(f"{what} needs TensorRT {wanted[0]}.{wanted[1]} or newer, not {version}")


def set_version_compatible(trt: Any, config: Any, version: str) -> None:
    """Engines that later TensorRT versions can run (8.6+: TRT 8 VC engines run on 10, 10 on 11)."""
    require_at_least(version, (8, 6), "version_compatible")
    config.set_flag(trt.BuilderFlag.VERSION_COMPATIBLE)


def check_optimization_level(version: str, level: int) -> None:
    require_at_least(version, (8, 6), "builder_optimization_level")
    if not 0 <= level <= 5:
        raise SpecError(f"builder_optimization_level must be 0..5, not {level}")


def set_optimization_level(config: Any, version: str, level: int) -> None:
    check_optimization_level(version, level)
    config.builder_optimization_level = int(level)


# ----------------------------------------------------------------------------- runtime side

_NUMPY_DTYPES = {"FLOAT": "float32", "HALF": "float16", "INT8": "int8", "INT32": "int32", "INT64": "int64",
                 "BOOL": "bool", "UINT8": "uint8", "BF16": "bfloat16"}


@dataclass(frozen=True)
class IoTensor:
    name: str
    index: int  # binding index (binding API) or I/O tensor index (name API)
    is_input: bool
    shape: tuple[int, ...]  # -1 for dynamic dims
    dtype: str  # numpy dtype name


def numpy_dtype(trt_dtype: Any) -> str:
    name = getattr(trt_dtype, "name", str(trt_dtype).rsplit(".", 1)[-1])
    if name not in _NUMPY_DTYPES:
        raise ModelFileError(f"engine tensor type {name} is not supported by edgekit")
    return _NUMPY_DTYPES[name]


def io_tensors(trt: Any, engine: Any) -> list[IoTensor]:
    """Inputs and outputs of a deserialized engine, by the name API when present (8.5+), else bindings."""
    if hasattr(engine, "num_io_tensors"):
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        return [IoTensor(n, i, engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT,
                         tuple(engine.get_tensor_shape(n)), numpy_dtype(engine.get_tensor_dtype(n)))
                for i, n in enumerate(names)]
    return [IoTensor(engine.get_binding_name(i), i, bool(engine.binding_is_input(i)),
                     tuple(engine.get_binding_shape(i)), numpy_dtype(engine.get_binding_dtype(i)))
            for i in range(engine.num_bindings)]


def set_input_shape(context: Any, tensor: IoTensor, shape: tuple[int, ...]) -> None:
    if hasattr(context, "set_input_shape"):
        ok = context.set_input_shape(tensor.name, tuple(shape))
    else:
        ok = context.set_binding_shape(tensor.index, tuple(shape))
    if ok is False:
        raise EdgekitError(f"the engine does not accept input shape {list(shape)} for '{tensor.name}' "
                           "(outside its optimization profile)")


def output_shape(context: Any, tensor: IoTensor) -> tuple[int, ...]:
    if hasattr(context, "get_tensor_shape"):
        return tuple(context.get_tensor_shape(tensor.name))
    return tuple(context.get_binding_shape(tensor.index))


def execute(context: Any, tensors: list[IoTensor], addresses: dict[str, int], stream: int) -> None:
    """Enqueue one inference: ``execute_async_v3`` with tensor addresses (name API), else
    ``execute_async_v2`` with a bindings list ordered by binding index."""
    if hasattr(context, "execute_async_v3"):
        for tensor in tensors:
            context.set_tensor_address(tensor.name, int(addresses[tensor.name]))
        ok = context.execute_async_v3(stream)
    else:
        bindings = [0] * len(tensors)
        for tensor in tensors:
            bindings[tensor.index] = int(addresses[tensor.name])
        ok = context.execute_async_v2(bindings, stream)
    if not ok:
        raise EdgekitError("TensorRT failed to enqueue the inference (see the TensorRT log)")


# ----------------------------------------------------------------------------- ONNX typing for 11.x


def is_typed_onnx(model: Any) -> bool:
    """True when the ONNX itself carries a reduced precision: Q/DQ nodes or FLOAT16 tensors."""
    import onnx

    graph = model.graph
    if any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in graph.node):
        return True
    fp16 = onnx.TensorProto.FLOAT16
    values = list(graph.input) + list(graph.output) + list(graph.value_info)
    return any(t.data_type == fp16 for t in graph.initializer) or any(
        v.type.tensor_type.elem_type == fp16 for v in values)


# (op_type, input index) that ONNX requires to stay float32 whatever the model's precision
_FLOAT32_ONLY_INPUTS = {("Resize", 2), ("Upsample", 1)}


def convert_onnx_to_fp16(model: Any) -> Any:
    """A copy of a float32 ONNX with FLOAT16 weights and compute and float32 I/O (a Cast after each input,
    before each output): what TensorRT 11's strongly typed network needs to build in FP16. Uses only ``onnx``.
    Resize/Upsample scales stay float32 (the ONNX type constraint); QDQ models are refused."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in model.graph.node):
        raise ModelFileError("the ONNX is already quantized (QDQ); FP16 conversion takes a float32 model")
    model = copy.deepcopy(model)
    graph = model.graph
    keep32 = {n.input[i] for n in graph.node for op, i in _FLOAT32_ONLY_INPUTS if n.op_type == op
              and len(n.input) > i}
    for i, init in enumerate(graph.initializer):
        if init.data_type == TensorProto.FLOAT and init.name not in keep32:
            graph.initializer[i].CopyFrom(numpy_helper.from_array(
                numpy_helper.to_array(init).astype(np.float16), init.name))
    for node in graph.node:
        _node_to_fp16(node, keep32)
    _cast_io(graph, helper)
    del graph.value_info[:]  # stale float32 shape info; ORT / TensorRT re-infer it
    onnx.checker.check_model(model)
    return model


def _node_to_fp16(node: Any, keep32: set[str]) -> None:
    from onnx import TensorProto, numpy_helper

    for attr in node.attribute:
        if node.op_type == "Cast" and attr.name == "to" and attr.i == TensorProto.FLOAT:
            attr.i = TensorProto.FLOAT16
        elif (attr.name == "value" and attr.t.data_type == TensorProto.FLOAT
              and not (set(node.output) & keep32)):
            attr.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(attr.t).astype(np.float16),
                                                    attr.t.name))


def _cast_io(graph: Any, helper: Any) -> None:
    """Keep float32 graph inputs/outputs: Cast to FLOAT16 after each input, Cast to FLOAT before each output."""
    from onnx import TensorProto

    def rename(old: str, new: str, outputs_too: bool) -> None:
        for node in graph.node:
            node.input[:] = [new if name == old else name for name in node.input]
            if outputs_too:
                node.output[:] = [new if name == old else name for name in node.output]

    casts_in = []
    for value in graph.input:
        if value.type.tensor_type.elem_type == TensorProto.FLOAT:
            inner = f"{value.name}__fp16"
            rename(value.name, inner, outputs_too=False)
            casts_in.append(helper.make_node("Cast", [value.name], [inner], to=TensorProto.FLOAT16,
                                             name=f"{value.name}__to_fp16"))
    for value in graph.output:
        if value.type.tensor_type.elem_type == TensorProto.FLOAT:
            inner = f"{value.name}__fp16"
            rename(value.name, inner, outputs_too=True)
            graph.node.append(helper.make_node("Cast", [inner], [value.name], to=TensorProto.FLOAT,
                                               name=f"{value.name}__to_fp32"))
    for i, node in enumerate(casts_in):
        graph.node.insert(i, node)
