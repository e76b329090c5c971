"""The Jetson bundle: what goes beside the ONNX so the engine is built on the device itself (engines do not move
across TensorRT versions or GPUs). ``build.sh`` runs ``edgekit build .`` when that edgekit imports TensorRT, else
trtexec; ``README.txt``
holds the exact trtexec line; ``config_infer_<model>.txt`` is a DeepStream ``nvinfer`` config (decode stays in
edgekit, so the network is "other" with raw tensor output); INT8 on 8.x/10.x adds a calibration cache for it.
"""
from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path

from edgekit.atomic import atomic_write_bytes, atomic_write_text
from edgekit.backend.onnxruntime.loader import load_onnx
from edgekit.backend.tensorrt.api import TrtGeneration, convert_onnx_to_fp16, generation
from edgekit.errors import SpecError
from edgekit.backend.tensorrt.commands import file_slug, onnx_inputs, target_engine_name, trtexec_args
from edgekit.backend.tensorrt.prepare import calibration_table_from_qdq, onnx_for_tensorrt
from edgekit.specs import PreprocessSpec, Target

NETWORK_MODE = {"fp32": 0, "int8": 1, "fp16": 2}  # nvinfer network-mode
COLOR_FORMAT = {"RGB": 0, "BGR": 1, "GRAY": 2}  # nvinfer model-color-format


def write_jetson_bundle(folder: Path, manifest, target: Target) -> list[Path]:
    """Write the bundle into the artifact ``folder`` (which holds the manifest's ONNX files); returns the paths
    written, for the caller to add to the manifest. Needs ``target.tensorrt`` and ``target.jetson``."""
    folder = Path(folder)
    section, jetson = target.tensorrt, target.jetson
    if section is None or jetson is None:
        raise SpecError(f"target '{target.name}' needs tensorrt and jetson sections for a Jetson bundle")
    model = file_slug(manifest.model.name)
    written: list[Path] = []
    build_onnx = onnx_for_tensorrt(manifest, section).path
    if generation(section.version) == TrtGeneration.TRT11 and section.precision == "fp16" \
            and manifest.find("onnx", "fp16") is None:  # 11.x builds FP16 only from FP16 tensors
        fp16 = convert_onnx_to_fp16(load_onnx(folder / build_onnx))
        written.append(atomic_write_bytes(folder / f"{model}.fp16.onnx", fp16.SerializeToString()))
        build_onnx = written[-1].name
    engine = target_engine_name(manifest.model.name, target)
    args = trtexec_args(build_onnx, section, engine, section.version,
                        input_shapes=onnx_inputs(folder / build_onnx))
    written.append(_write_script(folder / "build.sh", args))
    written.append(atomic_write_text(folder / "README.txt", _readme(target, manifest.model.name, engine, args)))
    if jetson.deepstream:
        written += _write_deepstream(folder, manifest, target, model, engine, build_onnx)
    return written


def _write_script(path: Path, args: list[str]) -> Path:
    line = " ".join(shlex.quote(a) for a in args)
    script = f"""#!/bin/sh
# Build the TensorRT engine on this device (engines only run on the TensorRT version and GPU that built them).
set -eu
cd "$(dirname "$0")"
if command -v edgekit >/dev/null 2>&1 && edgekit build . --probe >/dev/null 2>&1; then
    exec edgekit build . "$@"
fi
TRTEXEC="${{TRTEXEC:-$(command -v trtexec || echo /usr/src/tensorrt/bin/trtexec)}}"
if [ -x "$TRTEXEC" ]; then
    exec "$TRTEXEC" {line}
fi
echo "neither edgekit nor trtexec found; install TensorRT (JetPack) and run:" >&2
echo "  trtexec {line}" >&2
exit 1
"""
    atomic_write_text(path, script)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def _readme(target: Target, model: str, engine: str, args: list[str]) -> str:
    section, jetson = target.tensorrt, target.jetson
    command = " ".join(["trtexec", *(shlex.quote(a) for a in args)])
    return f"""{model} for {jetson.device} (JetPack {jetson.jetpack}, TensorRT {section.version}, \
compute capability {jetson.compute_capability}), {section.precision}, target {target.name}.

Build the engine on the device (TensorRT engines run only on the TensorRT version and GPU that built them):

    ./build.sh

which runs `edgekit build .` when edgekit is installed and can import TensorRT, else exactly:

    {command}

The engine is {engine}. DeepStream: config_infer_{file_slug(model)}.txt is an nvinfer config for a secondary
GIE on face boxes; its tensors are raw (output-tensor-meta=1), decode them with edgekit's decoder.
"""


def nvinfer_normalization(pre: PreprocessSpec) -> tuple[float, list[float], str]:
    """nvinfer computes y = net-scale-factor * (x - offset_c) on 0-255 pixels; edgekit's model wants
    (x / 255 - mean_c) / std_c = (x - 255 mean_c) / (255 std_c). So offsets = 255 mean and
    net-scale-factor = 1 / (255 std), exact when the stds are equal; nvinfer has a single scale, so with
    differing stds the mean std is used and the returned note says so (empty note: exact)."""
    offsets = [255.0 * m for m in pre.mean]
    std = sum(pre.std) / len(pre.std)
    note = ""
    if max(pre.std) - min(pre.std) > 1e-9:
        worst = max(abs(s / std - 1.0) for s in pre.std)
        note = (f"per-channel std {list(pre.std)} differ; nvinfer has one scale, so the mean std {std:.6g} is "
                f"used (inputs off by up to {100 * worst:.2f}% per channel)")
    return 1.0 / (255.0 * std), offsets, note


def _write_deepstream(folder: Path, manifest, target: Target, model: str, engine: str,
                      build_onnx: str) -> list[Path]:
    section = target.tensorrt
    written, calib, onnx_file = [], None, build_onnx
    float_onnx = manifest.find("onnx", "fp32")
    if section.precision == "int8" and generation(section.version) != TrtGeneration.TRT11 and float_onnx:
        # nvinfer's INT8 path: the float ONNX + a calibration cache holding the QDQ model's scales
        table = calibration_table_from_qdq(load_onnx(folder / build_onnx), section.version)
        written.append(atomic_write_text(folder / f"calib_{model}.table", table))
        calib, onnx_file = written[-1].name, float_onnx.path
    text = deepstream_config(manifest.model, section, onnx_file, engine, calib)
    written.append(atomic_write_text(folder / f"config_infer_{model}.txt", text))
    return written


def deepstream_config(spec, section, onnx_file: str, engine: str, calib_file: str | None) -> str:
    """The nvinfer ``[property]`` text for ``spec`` (ModelSpec) and ``section`` (TensorrtSection)."""
    pre = spec.preprocess
    scale, offsets, note = nvinfer_normalization(pre)
    width, height = pre.input_size
    lines = ["# DeepStream nvinfer config written by edgekit: a secondary GIE on face boxes; raw output tensors",
             "# (decode them with edgekit). nvinfer crops the detector box as is: edgekit's box expansion",
             f"# (detector_box_scale {pre.detector_box_scale}, shift {pre.detector_box_shift_y}) is not applied.",
             "[property]", "gpu-id=0",
             f"net-scale-factor={scale:.10g}", "offsets=" + ";".join(f"{o:.6g}" for o in offsets)]
    if note:
        lines.insert(lines.index("[property]"), f"# {note}")
    lines += [f"model-color-format={COLOR_FORMAT[pre.color]}", f"onnx-file={onnx_file}",
              f"model-engine-file={engine}"]
    if calib_file:
        lines.append(f"int8-calib-file={calib_file}")
    lines += [f"infer-dims={pre.channels};{height};{width}",
              f"network-input-order={0 if pre.layout == 'NCHW' else 1}",
              f"batch-size={section.batch[2]}", f"network-mode={NETWORK_MODE[section.precision]}",
              f"workspace-size={section.workspace_mb}",
              "network-type=100", "output-tensor-meta=1",
              "output-blob-names=" + ";".join(spec.head.outputs),
              "process-mode=2", "gie-unique-id=2", "operate-on-gie-id=1",
              "maintain-aspect-ratio=1", "symmetric-padding=1"]
    if section.dla_core is not None:
        lines += ["enable-dla=1", f"use-dla-core={section.dla_core}"]
    return "\n".join(lines) + "\n"
