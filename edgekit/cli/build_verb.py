"""``edgekit build ARTIFACT``: the TensorRT engine of an artifact, built on the device that will run it."""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

HELP = "Build an artifact's TensorRT engine on this device (--dry-run: print the trtexec line, no TensorRT needed)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("artifact", help="artifact folder (with edgekit.json) of a TensorRT target")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the planned engine name and the exact trtexec command, build nothing")
    parser.add_argument("--trt-version", metavar="V",
                        help="TensorRT version to build for instead of the target's (e.g. 8.6, 10.3)")


def run(args: argparse.Namespace) -> int:
    from edgekit.artifact import MANIFEST, read_manifest
    from edgekit.errors import EdgekitError, SpecError
    from edgekit.export.tensorrt import onnx_for_tensorrt
    from edgekit.specs import check_target

    folder = Path(args.artifact)
    manifest = read_manifest(folder)
    target = manifest.target
    if target is None or target.tensorrt is None:
        name = target.name if target else "none"
        raise SpecError(f"the artifact's target ({name}) has no tensorrt section: nothing to build", folder)
    check_target(target, folder / MANIFEST)  # what the manifest says, before any work
    if args.trt_version:
        section = dataclasses.replace(target.tensorrt, version=args.trt_version)
        target = dataclasses.replace(target, tensorrt=section)
        try:
            check_target(target)
        except SpecError as exc:
            raise SpecError(f"--trt-version {args.trt_version}: {exc.message}", folder) from None
    try:
        onnx_entry = onnx_for_tensorrt(manifest, target.tensorrt)
    except EdgekitError as exc:
        raise exc.at(folder)
    if args.dry_run:
        return _dry_run(folder, manifest, target, onnx_entry.path)
    return _build(folder, manifest, target, onnx_entry.path, explicit_version=bool(args.trt_version))


def _dry_run(folder: Path, manifest, target, onnx_file: str) -> int:
    from edgekit.backend.onnxruntime.loader import load_onnx
    from edgekit.backend.tensorrt.api import TrtGeneration, generation, is_typed_onnx
    from edgekit.export.tensorrt import check_onnx_for_tensorrt, onnx_inputs, target_engine_name, trtexec_command

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


def _build(folder: Path, manifest, target, onnx_file: str, explicit_version: bool) -> int:
    from edgekit.artifact import describe_file, write_manifest
    from edgekit.backend.onnxruntime.loader import load_onnx
    from edgekit.backend.tensorrt.loader import build_engine, probe_cuda, sidecar_path
    from edgekit.errors import EdgekitError, ModelFileError
    from edgekit.export.tensorrt import check_onnx_for_tensorrt, target_engine_name, timing_cache_name

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
    engines = {**manifest.checks.get("tensorrt_engines", {}), engine.name: meta}
    write_manifest(folder, manifest.with_check("tensorrt_engines", engines))
    print(f"built {engine.name} in {meta['build_seconds']} s (TensorRT {installed}, {gpu.name})")
    return 0
