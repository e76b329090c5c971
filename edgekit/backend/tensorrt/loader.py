"""ONNX -> TensorRT engine on the GPU that will run it, through the generation shim in ``api``.

``tensorrt`` is imported lazily (it exists only on GPU hosts: JetPack, or NVIDIA's package index). CUDA is probed
before TensorRT is touched because ``trt.Runtime`` / ``trt.Builder`` do not raise without a GPU, they only log.
Beside every engine goes ``<engine>.json`` (TensorRT version, GPU, compute capability, precision, shapes, size and
sha256) so runners can refuse an engine of another version or GPU before deserializing it.
"""
from __future__ import annotations

import hashlib
import importlib.util
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit.atomic import atomic_write_bytes, atomic_write_json
from edgekit.backend.onnxruntime.loader import SPEC_KEY, load_onnx
from edgekit.backend.tensorrt import api
from edgekit.errors import EdgekitError, ModelFileError, SpecError
from edgekit.specs import ModelSpec, TensorrtSection

INSTALL_HINT = ("TensorRT is not installed: on Jetson it ships with JetPack (apt install python3-libnvinfer); "
                "on a desktop GPU host run `pip install tensorrt-cu12` (its libraries come from NVIDIA's index, "
                "pypi.nvidia.com)")


@dataclass(frozen=True)
class GpuInfo:
    name: str
    compute_capability: str  # "8.7"


def tensorrt_available() -> bool:
    return importlib.util.find_spec("tensorrt") is not None


def import_tensorrt() -> Any:
    try:
        import tensorrt
    except ImportError as exc:
        raise EdgekitError(f"{INSTALL_HINT} ({exc})") from None
    return tensorrt


def probe_cuda() -> GpuInfo:
    """The first CUDA GPU, via torch.cuda or else cuda-python; EdgekitError when neither finds one."""
    try:
        import torch

        if torch.cuda.is_available():
            major, minor = torch.cuda.get_device_capability(0)
            return GpuInfo(torch.cuda.get_device_name(0), f"{major}.{minor}")
    except ImportError:
        pass
    try:
        from cuda.bindings import runtime as cudart

        err, count = cudart.cudaGetDeviceCount()
        if err == cudart.cudaError_t.cudaSuccess and count > 0:
            err, props = cudart.cudaGetDeviceProperties(0)
            if err == cudart.cudaError_t.cudaSuccess:
                name = bytes(props.name).split(b"\0", 1)[0].decode(errors="replace")
                return GpuInfo(name, f"{props.major}.{props.minor}")
    except Exception:  # ImportError, or DynamicLibNotFoundError without a driver
        pass
    raise EdgekitError("no CUDA GPU found (torch.cuda and cuda-python see none): TensorRT builds and runs "
                       "engines only on the GPU that will run them")


def sidecar_path(engine_path: str | Path) -> Path:
    engine_path = Path(engine_path)
    return engine_path.with_name(engine_path.name + ".json")


def build_engine(onnx_path: str | Path, section: TensorrtSection, engine_path: str | Path,
                 timing_cache_path: str | Path | None = None) -> dict:
    """Build ``engine_path`` from ``onnx_path`` for ``section`` with the installed TensorRT on this GPU; write
    the engine, the timing cache (when a path is given) and ``<engine>.json`` atomically. Returns the metadata."""
    onnx_path, engine_path = Path(onnx_path), Path(engine_path)
    model = load_onnx(onnx_path)
    spec = embedded_spec(model, onnx_path)  # checked before minutes of building
    trt = import_tensorrt()
    gpu = probe_cuda()
    version = trt.__version__
    cache_in = Path(timing_cache_path).read_bytes() if timing_cache_path and Path(timing_cache_path).is_file() \
        else b""
    start = time.perf_counter()
    result = build_serialized(trt, version, model, section, cache_in, onnx_path)
    seconds = time.perf_counter() - start
    engine = result.pop("engine")
    cache_out = result.pop("timing_cache")
    atomic_write_bytes(engine_path, engine)
    if timing_cache_path and cache_out:
        atomic_write_bytes(timing_cache_path, cache_out)
    meta = {
        "engine": engine_path.name, "size": len(engine), "sha256": hashlib.sha256(engine).hexdigest(),
        "trt_version": version, "gpu": gpu.name, "compute_capability": gpu.compute_capability,
        **result, "build_seconds": round(seconds, 2),
        "onnx_sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
        "timing_cache": Path(timing_cache_path).name if timing_cache_path and cache_out else None,
        "spec": spec.to_dict() if spec else None,
    }
    atomic_write_json(sidecar_path(engine_path), meta)
    return meta


def embedded_spec(model: Any, where: Path) -> ModelSpec | None:
    """The ModelSpec in an ONNX model's metadata (None without one); ModelFileError naming ``where`` when it is
    malformed, so the engine's build record never carries a spec its runner would refuse."""
    text = {p.key: p.value for p in model.metadata_props}.get(SPEC_KEY)
    if not text:
        return None
    try:
        return ModelSpec.from_json(text)
    except SpecError as exc:
        raise ModelFileError(f"invalid '{SPEC_KEY}' metadata ({exc.message})", where) from None


def prepare_onnx(model: Any, gen: api.TrtGeneration, precision: str, where: Path) -> Any:
    """The ONNX this generation can build at ``precision``: INT8 needs a QDQ model (edgekit's only INT8 path);
    on 11.x FP16 needs FP16 tensors, so a float32 ONNX is converted here."""
    from edgekit.backend.tensorrt.prepare import check_qdq_placement

    if precision == "int8":
        problems = check_qdq_placement(model)
        if problems:
            raise ModelFileError("not a TensorRT-ready QDQ INT8 model: " + "; ".join(problems), where)
        return model
    if gen == api.TrtGeneration.TRT11 and precision == "fp16" and not api.is_typed_onnx(model):
        return api.convert_onnx_to_fp16(model)
    return model


def build_serialized(trt: Any, version: str, model: Any, section: TensorrtSection, timing_cache: bytes,
                     where: Path) -> dict:
    """The whole build with module ``trt`` (a fake in the unit tests): returns ``engine`` and ``timing_cache``
    bytes plus the metadata of what was configured."""
    gen = api.generation(version)
    model = prepare_onnx(model, gen, section.precision, where)
    strongly_typed = api.wants_strongly_typed(gen, api.is_typed_onnx(model))
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = api.create_network(trt, builder, gen, strongly_typed)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(model.SerializeToString()):
        raise ModelFileError("TensorRT's ONNX parser failed: " + "; ".join(parser_errors(parser)), where)
    config = builder.create_builder_config()
    api.set_workspace(trt, config, section.workspace_mb)
    flags = api.set_precision(trt, config, gen, section.precision, strongly_typed)
    dla = api.configure_dla(trt, builder, config, version, section.dla_core, section.gpu_fallback)
    if section.timing_cache:
        api.attach_timing_cache(config, timing_cache)
    shapes = api.add_batch_profile(builder, config, network, section.batch)
    if section.version_compatible:
        api.set_version_compatible(trt, config, version)
    if section.builder_optimization_level is not None:
        api.set_optimization_level(config, version, section.builder_optimization_level)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ModelFileError("TensorRT could not build an engine from it (see the TensorRT log above)", where)
    outputs = [network.get_output(i).name for i in range(network.num_outputs)]
    return {
        "engine": bytes(serialized),
        "timing_cache": api.serialize_timing_cache(config) if section.timing_cache else b"",
        "generation": int(gen), "precision": section.precision, "strongly_typed": strongly_typed,
        "builder_flags": flags, "dla_core": section.dla_core if dla else None,
        "version_compatible": section.version_compatible, "inputs": shapes, "outputs": outputs,
    }


def parser_errors(parser: Any) -> list[str]:
    """One line per ONNX parser error: 'node N (Op): description'."""
    lines = []
    for i in range(parser.num_errors):
        error = parser.get_error(i)
        operator = error.node_operator() if hasattr(error, "node_operator") else ""
        where = f"node {error.node()}" + (f" ({operator})" if operator else "")
        lines.append(f"{where}: {' '.join(str(error.desc()).split())}")
    return lines or ["no error reported"]
