"""Target validation for TensorRT (JetPack <-> TensorRT <-> device, DLA per release, opset for the parser):
``validate_target`` runs whenever a target is loaded (``specs.check_target``) and on ``build --trt-version``."""
from __future__ import annotations

from typing import Any

from edgekit.backend.tensorrt.api import DLA_RELEASES, check_optimization_level, generation, has_dla, \
    parse_version, require_at_least
from edgekit.backend.tensorrt.prepare import max_opset
from edgekit.errors import EdgekitError, SpecError
from edgekit.specs import JetsonSection, Target, TensorrtSection

DLA_COMPUTE_CAPABILITIES = {"7.2": "Xavier", "8.7": "Orin"}


# ----------------------------------------------------------------------------- targets


def jetpack_problems(trt_version: str, jetson: JetsonSection) -> list[str]:
    """JetPack <-> TensorRT <-> compute capability (field.md section 4): 5.1.x: 8.5 on Xavier/Orin; 6.0: 8.6,
    6.1/6.2: 10.3, Orin only; 7.x: 10.x, or 11.4+ from 7.2.2 (AGX Orin 8.7 from 7.2.2, else Thor); never 11 on 6."""
    try:
        jp = parse_version(jetson.jetpack)
    except SpecError as exc:
        return [str(exc).replace("TensorRT version", "JetPack version")]
    trt = parse_version(trt_version)
    cc = jetson.compute_capability
    table = {(5, 1): ("8.5", {"7.2", "8.7"}), (6, 0): ("8.6", {"8.7"}), (6, 1): ("10.3", {"8.7"}),
             (6, 2): ("10.3", {"8.7"})}
    if jp[0] == 7:
        orin_ok = jp >= (7, 2, 2)
        ccs = {"11.0", "10.1"} | ({"8.7"} if orin_ok else set())
        trt_ok = trt[0] == 10 or (trt[0] == 11 and trt[:2] >= (11, 4) and orin_ok)
        wanted = "10.x, or 11.4+ from JetPack 7.2.2"
    elif jp[:2] in table:
        wanted, ccs = table[jp[:2]]
        trt_ok = trt[:2] == parse_version(wanted)[:2]
    else:
        return [f"JetPack {jetson.jetpack} is not in edgekit's table (5.1.x, 6.0, 6.1, 6.2, 7.x)"]
    problems = []
    if not trt_ok:
        never = " (TensorRT 11 never ships on JetPack 6)" if trt[0] == 11 and jp[0] == 6 else ""
        problems.append(f"JetPack {jetson.jetpack} ships TensorRT {wanted}, not {trt_version}{never}")
    if cc not in ccs:
        problems.append(f"JetPack {jetson.jetpack} does not run on compute capability {cc} "
                        f"(supports {', '.join(sorted(ccs))})")
    return problems


def _dla_problems(section: TensorrtSection, jetson: JetsonSection | None) -> list[str]:
    problems = []
    if jetson is None or jetson.compute_capability not in DLA_COMPUTE_CAPABILITIES:
        problems.append("dla_core needs a Jetson Xavier (cc 7.2) or Orin (cc 8.7) jetson section")
    elif "nano" in jetson.device.lower():
        problems.append(f"{jetson.device} has no DLA")
    if not has_dla(section.version):
        problems.append(f"TensorRT {section.version} has no DLA (DLA is in {DLA_RELEASES})")
    if section.precision not in ("fp16", "int8"):
        problems.append("DLA runs only fp16 or int8: set tensorrt.precision")
    if len(set(section.batch)) != 1:
        problems.append("DLA needs a fixed batch (min = opt = max)")
    return problems


def _errors_of(check: Any, *args: Any) -> list[str]:
    try:
        check(*args)
    except EdgekitError as exc:
        return [str(exc)]
    return []


def _tensorrt_problems(target: Target) -> list[str]:
    section = target.tensorrt
    try:
        generation(section.version)
    except EdgekitError as exc:
        return [str(exc)]
    problems = []  # batch order, workspace and dla_core ranges: TensorrtSection checks them when built
    if section.batch[2] > 1 and not target.onnx.dynamic_batch:
        problems.append("a batch range above 1 needs onnx.dynamic_batch: true")
    if section.precision == "int8" and target.int8 is None:
        problems.append("tensorrt int8 needs an int8 section (calibration of the QDQ ONNX)")
    if target.onnx.opset > max_opset(section.version):
        problems.append(f"onnx.opset {target.onnx.opset} is above {max_opset(section.version)}, the highest "
                        f"TensorRT {section.version} is taken to parse")
    if section.version_compatible:
        problems += _errors_of(require_at_least, section.version, (8, 6), "version_compatible")
    if section.builder_optimization_level is not None:
        problems += _errors_of(check_optimization_level, section.version, section.builder_optimization_level)
    if section.dla_core is not None:
        problems += _dla_problems(section, target.jetson)
    if target.jetson is not None:
        problems += jetpack_problems(section.version, target.jetson)
    return problems


def validate_target(target: Target) -> list[str]:
    """Everything wrong with a target that can be known without a device; empty list: consistent."""
    problems = _tensorrt_problems(target) if target.tensorrt is not None else []
    if target.jetson is not None and target.tensorrt is None:
        problems.append("a jetson section needs a tensorrt section")
    if target.tflite is not None and "int8" in target.tflite.precisions and target.int8 is None:
        problems.append("tflite int8 needs an int8 section (calibration)")
    return problems
