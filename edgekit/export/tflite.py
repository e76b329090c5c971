"""TFLite stage: litert-torch FP32 (NHWC I/O by default), then ai-edge-quantizer FP16 weights, dynamic-range INT8
and full-integer INT8 (calibrated on the same tensors as ONNX Runtime, transposed to the file's layout).
Batch 1 only. Every file runs through TFLiteRunner and is compared with the ONNX FP32 outputs; the spec goes
into each file's TFLite metadata (``edgekit.spec``) and the manifest."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit.backend.base import to_layout
from edgekit.export.gate import parity, require_parity
from edgekit.errors import ModelFileError
from edgekit.specs import ModelSpec, TfliteSection

FLOAT_PRECISIONS = ("fp32", "fp16")  # held to the parity limits; integer files go through the gate instead


@dataclass(frozen=True)
class TfliteFile:
    path: Path
    precision: str
    parity: dict  # vs the ONNX FP32 outputs on real faces
    spec_embedded: bool  # False: the spec is in the manifest only
    error: str = ""  # a quantized file LiteRT cannot run: removed, the reason recorded


def file_name(precision: str) -> str:
    return f"model.{precision}.tflite"


def export_tflite(model, section: TfliteSection, folder: Path, work: Path, calibration: np.ndarray,
                  faces: np.ndarray, matrices: np.ndarray, reference: list[np.ndarray],
                  threads: int | None = None) -> list[TfliteFile]:
    """Write ``section.precisions`` into ``folder``; ``calibration`` and ``faces`` are float32 in the spec's layout,
    ``reference`` the ONNX FP32 outputs on ``faces`` (with crop ``matrices``)."""
    from edgekit.backend.tflite.loader import convert_fp32, embed_spec, quantize_tflite

    spec: ModelSpec = model.spec
    base = folder / file_name("fp32") if "fp32" in section.precisions else work / "base.fp32.tflite"
    convert_fp32(model, calibration[:1], base, section.layout)
    file_calibration = to_layout(calibration, spec.preprocess.layout, section.layout)
    written = []
    for precision in section.precisions:
        path = folder / file_name(precision)
        if precision != "fp32":
            quantize_tflite(base, path, precision, file_calibration if precision == "int8" else None)
        embedded = embed_spec(path, spec)
        try:
            result = {**file_parity(path, spec, faces, matrices, reference, threads), "against": "onnx fp32"}
        except ModelFileError as exc:
            if precision in FLOAT_PRECISIONS:
                raise
            path.unlink()  # a quantized file that does not run is not shipped; the float files still are
            written.append(TfliteFile(path, precision, {}, embedded, error=exc.message))
            continue
        if precision in FLOAT_PRECISIONS:
            require_parity(result, section.parity_max_px, section.parity_max_deg, path, "ONNX FP32")
        written.append(TfliteFile(path, precision, result, embedded))
    return written


def file_parity(path: Path, spec: ModelSpec, faces: np.ndarray, matrices: np.ndarray,
                reference: list[np.ndarray], threads: int | None = None) -> dict:
    from edgekit.backend.tflite.runner import TFLiteRunner

    with TFLiteRunner(str(path), threads, spec=spec) as runner:
        return parity(reference, runner.infer(faces), spec, matrices)
