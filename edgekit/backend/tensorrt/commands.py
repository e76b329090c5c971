"""Engine names and trtexec command lines per TensorRT API generation (what ``loader.build_engine`` builds, for
the device's own trtexec: the Jetson bundle, ``edgekit build --dry-run``)."""
from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from edgekit.backend.tensorrt.api import DLA_RELEASES, TrtGeneration, at_least, check_optimization_level, \
    generation, has_dla, parse_version, require_at_least
from edgekit.errors import SpecError
from edgekit.specs import Target, TensorrtSection


# ----------------------------------------------------------------------------- names


def file_slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", str(text).lower()).strip("-.")


def _batch_tag(batch: int | tuple[int, ...]) -> str:
    values = (batch,) if isinstance(batch, int) else tuple(batch)
    low, high = min(values), max(values)
    return f"b{high}" if low == high else f"b{low}-{high}"


def engine_name(model: str, trt_version: str, gpu: str, cc: str, precision: str,
                batch: int | tuple[int, ...]) -> str:
    """Engines are valid for one TensorRT version, GPU, precision and batch range, so the name says all of it:
    ``engine_name("pfld_0.25x", "10.3", "", "8.7", "int8", 1) == "pfld_0.25x.trt10.3.sm87.int8.b1.engine"``;
    a GPU name adds a slug after the model (``...pfld_0.25x.jetson-orin-nano.trt10.3...``)."""
    parts = [file_slug(model)] + ([file_slug(gpu)] if gpu else []) + [f"trt{file_slug(trt_version)}"]
    if cc:
        parts.append("sm" + str(cc).lower().removeprefix("sm").replace(".", ""))
    return ".".join(parts + [file_slug(precision), _batch_tag(batch)]) + ".engine"


def target_engine_name(model: str, target: Target, gpu: str = "", cc: str = "") -> str:
    """The engine name for ``target``: a Jetson target names its device and compute capability (so the name
    matches on and off the device); other targets name the GPU found at build time (``gpu``, ``cc``)."""
    section = target.tensorrt
    if target.jetson is not None:
        gpu, cc = target.jetson.device, target.jetson.compute_capability
    return engine_name(model, section.version, gpu, cc, section.precision, section.batch)


def timing_cache_name(engine_file: str | Path) -> str:
    return str(engine_file).removesuffix(".engine") + ".timing.cache"


# ----------------------------------------------------------------------------- trtexec


def workspace_flag(trt_version: str, workspace_mb: int) -> str:
    """< 8.4: ``--workspace=N``; 8.4-8.6: ``--memPoolSize=workspace:N`` (MiB); 10+: with the ``M`` suffix."""
    if not at_least(trt_version, (8, 4)):
        return f"--workspace={workspace_mb}"
    suffix = "M" if parse_version(trt_version)[0] >= 10 else ""
    return f"--memPoolSize=workspace:{workspace_mb}{suffix}"


def onnx_inputs(onnx_file: str | Path) -> dict[str, list[int]]:
    """Input name -> dims (-1 for symbolic) of an ONNX file, initializers excluded."""
    from edgekit.backend.onnxruntime.loader import load_onnx

    model = load_onnx(onnx_file)
    inits = {i.name for i in model.graph.initializer}
    return {v.name: [d.dim_value if d.HasField("dim_value") else -1 for d in v.type.tensor_type.shape.dim]
            for v in model.graph.input if v.name not in inits}


def _shape_flags(section: TensorrtSection, inputs: dict[str, list[int]]) -> list[str]:
    dynamic = {name: dims for name, dims in inputs.items() if dims and dims[0] < 0}
    if not dynamic:
        return []
    flags = []
    for flag, batch in zip(("--minShapes", "--optShapes", "--maxShapes"), section.batch):
        specs = ",".join(f"{name}:{'x'.join(str(d) for d in [batch, *dims[1:]])}" for name, dims in dynamic.items())
        flags.append(f"{flag}={specs}")
    return flags


def _precision_flags(gen: TrtGeneration, precision: str, calib_file: str | None) -> list[str]:
    if gen == TrtGeneration.TRT11:
        if calib_file:
            raise SpecError("TensorRT 11 removed calibration caches: build INT8 from the QDQ ONNX")
        return []  # strongly typed: the ONNX types (FP16-typed / QDQ) decide
    if precision == "fp32":
        return []
    if precision == "fp16":
        return ["--fp16"]
    if calib_file:
        return ["--int8", "--fp16", f"--calib={calib_file}"]
    return ["--stronglyTyped"] if gen == TrtGeneration.TRT10 else ["--int8", "--fp16"]  # QDQ ONNX


def trtexec_args(onnx_file: str | Path, section: TensorrtSection, engine_file: str | Path, trt_version: str, *,
                 input_shapes: dict[str, list[int]] | None = None, calib_file: str | None = None,
                 timing_cache_file: str | None = None) -> list[str]:
    """trtexec's arguments (without the program) that build what ``loader.build_engine`` builds."""
    gen = generation(trt_version)
    args = [f"--onnx={onnx_file}", f"--saveEngine={engine_file}", workspace_flag(trt_version, section.workspace_mb)]
    args += _precision_flags(gen, section.precision, calib_file)
    if section.dla_core is not None:
        if not has_dla(trt_version):
            raise SpecError(f"TensorRT {trt_version} has no DLA support (DLA is in {DLA_RELEASES})")
        args.append(f"--useDLACore={section.dla_core}")
        args += ["--allowGPUFallback"] if section.gpu_fallback else []
    if section.timing_cache:
        args.append(f"--timingCacheFile={timing_cache_file or timing_cache_name(engine_file)}")
    if input_shapes is None and section.batch != (1, 1, 1):
        input_shapes = onnx_inputs(onnx_file)
    args += _shape_flags(section, input_shapes or {})
    if section.version_compatible:
        require_at_least(trt_version, (8, 6), "version_compatible")
        args.append("--versionCompatible")
    if section.builder_optimization_level is not None:
        check_optimization_level(trt_version, section.builder_optimization_level)
        args.append(f"--builderOptimizationLevel={section.builder_optimization_level}")
    args.append("--skipInference" if at_least(trt_version, (8, 6)) else "--buildOnly")
    return args


def trtexec_command(onnx_file: str | Path, target_section: TensorrtSection, engine_file: str | Path,
                    trt_version: str, **options: Any) -> str:
    """The trtexec line (shell-quoted) for TensorRT ``trt_version``; ``options`` as ``trtexec_args``."""
    args = trtexec_args(onnx_file, target_section, engine_file, trt_version, **options)
    return " ".join(["trtexec", *(shlex.quote(a) for a in args)])
