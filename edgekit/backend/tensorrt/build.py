"""``edgekit build``'s work: the TensorRT engine of an artifact, built on the device that will run it (installed
TensorRT matched against the target's release, compute capability checked, the engine listed in the manifest),
or, with ``--dry-run``, the exact trtexec line."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from edgekit.specs import Target

ENGINE_FIELDS = ("engine", "size", "sha256", "trt_version", "gpu", "compute_capability", "build_seconds",
                 "onnx_sha256", "generation", "precision", "strongly_typed", "builder_flags", "dla_core",
                 "version_compatible", "inputs", "outputs", "timing_cache", "spec")


def dry_run(folder: Path, manifest: Any, target: Target, onnx_file: str) -> int:
    """Print the engine name and the exact trtexec line (warnings first as comments); builds nothing."""
    from edgekit.backend.onnxruntime.loader import load_onnx
    from edgekit.backend.tensorrt.api import TrtGeneration, generation, is_typed_onnx
    from edgekit.backend.tensorrt.commands import onnx_inputs, target_engine_name, trtexec_command
    from edgekit.backend.tensorrt.prepare import check_onnx_for_tensorrt

    section = target.tensorrt
    engine = target_engine_name(manifest.model.name, target, *_gpu_or_blank())
    model = load_onnx(folder / onnx_file)
    for problem in check_onnx_for_tensorrt(model, section.version):
        print(f"# warning: {problem}")
    if generation(section.version) == TrtGeneration.TRT11 and section.precision == "fp16" and not is_typed_onnx(model):
        print("# note: TensorRT 11 builds FP16 only from an FP16-typed ONNX; `edgekit build` converts it, "
              "the Jetson bundle writes one for trtexec")
    print(f"# engine: {engine}")
    print(trtexec_command(onnx_file, section, engine, section.version, input_shapes=onnx_inputs(folder / onnx_file)))
    return 0


def _gpu_or_blank() -> tuple[str, str]:
    """The local GPU's (name, compute capability) for naming a desktop engine; blanks without one."""
    from edgekit.backend.tensorrt.loader import probe_cuda
    from edgekit.errors import EdgekitError

    try:
        gpu = probe_cuda()
    except EdgekitError:
        return "", ""
    return gpu.name, gpu.compute_capability


def _installed_tensorrt(wanted: str, explicit: bool, same_release: bool) -> str:
    """The installed TensorRT version; it must be the wanted release (major.minor) for a device target
    (``same_release``: the engine ships to boards with exactly that TensorRT), else the same API generation."""
    from edgekit.backend.tensorrt.api import generation, parse_version
    from edgekit.backend.tensorrt.loader import import_tensorrt
    from edgekit.errors import EdgekitError

    try:
        installed = import_tensorrt().__version__
    except EdgekitError:
        raise EdgekitError("TensorRT is not installed on this machine, so no engine can be built here: build on "
                           "the device, or run `edgekit build --dry-run` to print the trtexec command") from None
    same = parse_version(installed)[:2] == parse_version(wanted)[:2] if same_release or explicit \
        else generation(installed) == generation(wanted)
    if not same:
        how = "" if explicit else f"; pass --trt-version {installed} to build for this machine anyway"
        raise EdgekitError(f"TensorRT {installed} is installed but the build asks for {wanted}: engines do not "
                           f"move across TensorRT versions{how}")
    return installed


def build(folder: Path, manifest: Any, target: Target, onnx_file: str, explicit_version: bool) -> int:
    """Build the engine on this GPU with the installed TensorRT and list it in the manifest (``checks.engines``)."""
    from edgekit import serial
    from edgekit.artifact import describe_file, write_manifest
    from edgekit.checks import EngineBuild
    from edgekit.backend.onnxruntime.loader import load_onnx
    from edgekit.backend.tensorrt.loader import build_engine, probe_cuda, sidecar_path
    from edgekit.backend.tensorrt.commands import target_engine_name, timing_cache_name
    from edgekit.backend.tensorrt.prepare import check_onnx_for_tensorrt
    from edgekit.errors import EdgekitError, ModelFileError

    section = target.tensorrt
    installed = _installed_tensorrt(section.version, explicit_version, target.jetson is not None)
    if target.jetson is None:  # a desktop engine is named after the TensorRT that builds (and runs) it
        section = dataclasses.replace(section, version=".".join(installed.split(".")[:2]))
        target = dataclasses.replace(target, tensorrt=section)
    gpu = probe_cuda()
    if target.jetson is not None and target.jetson.compute_capability != gpu.compute_capability:
        raise EdgekitError(f"target {target.name} is for compute capability {target.jetson.compute_capability}, "
                           f"this GPU ({gpu.name}) is {gpu.compute_capability}")
    problems = check_onnx_for_tensorrt(load_onnx(folder / onnx_file), installed)
    if problems:
        raise ModelFileError("; ".join(problems), folder / onnx_file)
    engine = folder / target_engine_name(manifest.model.name, target, gpu.name, gpu.compute_capability)
    cache = folder / timing_cache_name(engine.name) if section.timing_cache else None
    meta = build_engine(folder / onnx_file, section, engine, cache)
    manifest = manifest.with_file(describe_file(
        folder, engine, "engine", precision=section.precision, layout=manifest.model.preprocess.layout,
        notes=f"TensorRT {installed} on {gpu.name} (compute capability {gpu.compute_capability})"))
    manifest = manifest.with_file(describe_file(folder, sidecar_path(engine), "config", role="support"))
    if cache is not None and cache.is_file():
        manifest = manifest.with_file(describe_file(folder, cache, "timing_cache", role="support"))
    record = serial.from_dict(EngineBuild, {k: v for k, v in meta.items() if k in ENGINE_FIELDS}, "engine build")
    write_manifest(folder, manifest.with_checks(engines={**manifest.checks.engines, engine.name: record}))
    print(f"built {engine.name} in {meta['build_seconds']} s (TensorRT {installed}, {gpu.name})")
    return 0
