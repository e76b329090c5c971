"""TFLite stage: litert-torch FP32 (NHWC I/O by default), then ai-edge-quantizer FP16 weights, dynamic-range INT8
and full-integer INT8 (calibrated on the same tensors as ONNX Runtime, transposed to the file's layout).
Batch 1 only. Every file runs through TFLiteRunner and is compared with the ONNX FP32 outputs; the spec goes
into each file's TFLite metadata (``edgekit.spec``) and the manifest."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgekit.backend.base import to_layout
from edgekit.export.gate import parity, require_parity
from edgekit.errors import ModelFileError
from edgekit.specs import ModelSpec, TfliteSection

FLOAT_PRECISIONS = ("fp32", "fp16")  # held to the parity limits; integer files go through the gate instead
WEIGHTED_TFLITE = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL",
                             "CONV_2D_TRANSPOSE"})
SQNR_IMAGES = 8  # calibration images the per-layer SQNR is measured on
FALLBACK_TRIALS = 12  # layers, by SQNR cost, each tried alone in float before the greedy pass


@dataclass(frozen=True)
class TfliteFile:
    path: Path
    precision: str
    parity: dict  # vs the ONNX FP32 outputs on real faces
    spec_embedded: bool  # False: the spec is in the manifest only
    error: str = ""  # a quantized file LiteRT cannot run: removed, the reason recorded
    quantizer: Any = None  # the full-integer file's TfliteInt8Quantizer (its calibration, reused by the fallback)


def file_name(precision: str) -> str:
    return f"model.{precision}.tflite"


def export_tflite(model, section: TfliteSection, folder: Path, work: Path, calibration: np.ndarray,
                  faces: np.ndarray, matrices: np.ndarray, reference: list[np.ndarray],
                  threads: int | None = None) -> list[TfliteFile]:
    """Write ``section.precisions`` into ``folder``; ``calibration`` and ``faces`` are float32 in the spec's layout,
    ``reference`` the ONNX FP32 outputs on ``faces`` (with crop ``matrices``)."""
    from edgekit.backend.tflite.loader import convert_fp32, embed_spec
    from edgekit.export.tflite_calibrate import TfliteInt8Quantizer, quantize_tflite

    spec: ModelSpec = model.spec
    base = base_path(section, folder, work)
    convert_fp32(model, calibration[:1], base, section.layout)
    file_calibration = to_layout(calibration, spec.preprocess.layout, section.layout)
    written = []
    for precision in section.precisions:
        path = folder / file_name(precision)
        quantizer = TfliteInt8Quantizer(base, file_calibration) if precision == "int8" else None
        if quantizer is not None:
            quantizer.quantize(path)
        elif precision != "fp32":
            quantize_tflite(base, path, precision)
        embedded = embed_spec(path, spec)
        try:
            result = {**file_parity(path, spec, faces, matrices, reference, threads), "against": "onnx fp32"}
        except ModelFileError as exc:
            if precision in FLOAT_PRECISIONS:
                raise
            path.unlink()  # a quantized file that does not run is not shipped; the float files still are
            written.append(TfliteFile(path, precision, {}, embedded, error=exc.message, quantizer=quantizer))
            continue
        if precision in FLOAT_PRECISIONS:
            require_parity(result, section.parity_max_px, section.parity_max_deg, path, "ONNX FP32")
        written.append(TfliteFile(path, precision, result, embedded, quantizer=quantizer))
    return written


def base_path(section: TfliteSection, folder: Path, work: Path) -> Path:
    """The FP32 file every quantized one is made from (in the artifact when the target ships FP32)."""
    return folder / file_name("fp32") if "fp32" in section.precisions else work / "base.fp32.tflite"


def mixed_int8(bases: list, out: Path, spec: ModelSpec, gate_delta: Callable[[Path], float], budget: float,
               max_layers: int, log: Callable[[str], None]) -> dict:
    """The TFLite float fallback: full-integer INT8 with layers kept in float until ``gate_delta(file)`` (the
    gate's metric delta; raises ModelFileError when LiteRT cannot run the file) is within ``budget``. ``bases``:
    (name, ``TfliteInt8Quantizer``) of the calibrations it may start from, the target's first.

    1. An op type whose integer kernel LiteRT refuses on some input (a quantized DIV whose divisor rounds to its
       zero point) stays in float everywhere: the file has to run on every face, not just these.
    2. ``pick_base``: of several calibrations, the one scoring best with the layers without weights in float.
    3. ``keep_in_float``: the layers without weights together, then the greedy per-layer fallback ranked by the
       SQNR each layer's quantization costs.
    Writes ``out`` (spec embedded); returns the sensitivity record for the manifest."""
    from edgekit.backend.tflite.loader import embed_spec
    from edgekit.export.sensitivity import keep_in_float, pick_base
    from edgekit.export.tflite_sensitivity import quantized_layers, short_name, split_layer, sqnr_drop, tensor_sqnr

    name, quantizer = bases[0]
    layers, inputs = quantized_layers(quantizer.quantize(out))
    forced, delta = _runnable(quantizer, out, layers, gate_delta, log)  # ``out`` now holds that file

    def written_delta() -> float:
        try:
            return gate_delta(out)
        except ModelFileError:
            return math.inf

    def write_with(base, kept: list[str]) -> None:
        base.quantize(out, [split_layer(layer) for layer in forced + kept])

    candidates = [layer for layer in layers if layer not in forced]
    unweighted = [layer for layer in candidates if split_layer(layer)[0] not in WEIGHTED_TFLITE]
    if len(bases) > 1:
        name, quantizer = pick_base(bases, write_with, written_delta, unweighted, log)
        write_with(quantizer, [])
        delta = written_delta()
    drops = sqnr_drop(layers, inputs, tensor_sqnr(quantizer.fp32_path, out, quantizer.calibration[:SQNR_IMAGES]))
    record = keep_in_float(candidates, drops, lambda kept: write_with(quantizer, kept), written_delta, delta, budget,
                           max_layers, FALLBACK_TRIALS, log, unweighted, short_name)
    record["float_op_types"] = sorted({split_layer(layer)[0] for layer in forced})
    record["float_layers"] = forced + record["float_layers"]
    embed_spec(out, spec)
    return {"calibration": name, **record}


def _runnable(quantizer, out: Path, layers: list[str], gate_delta: Callable[[Path], float],
              log: Callable[[str], None]) -> tuple[list[str], float]:
    """(layers forced to float so that LiteRT runs ``out``, its gate delta), starting from the all-INT8 ``out``:
    each op type LiteRT names in a failure goes to float; the error is raised when it names none, or one already
    in float. ``out`` is left holding the file that ran."""
    from edgekit.export.tflite_sensitivity import quantizer_op, split_layer

    forced: list[str] = []
    while True:
        try:
            return forced, gate_delta(out)
        except ModelFileError as exc:
            match = re.search(r"\(([A-Z0-9_]+)\) failed to invoke", exc.message)
            op = quantizer_op(match.group(1)) if match else None
            more = [layer for layer in layers if split_layer(layer)[0] == op and layer not in forced]
            if not more:
                raise
            forced += more
            log(f"  sensitivity: LiteRT cannot run the integer {op}: all {len(more)} {op} ops stay in float")
            quantizer.quantize(out, [split_layer(layer) for layer in forced])


def file_parity(path: Path, spec: ModelSpec, faces: np.ndarray, matrices: np.ndarray,
                reference: list[np.ndarray], threads: int | None = None) -> dict:
    from edgekit.backend.tflite.runner import TFLiteRunner

    with TFLiteRunner(str(path), threads, spec=spec) as runner:
        return parity(reference, runner.infer(faces), spec, matrices)
