"""TFLite export stage: litert-torch FP32 (NHWC I/O by default), then ai-edge-quantizer FP16 weights, dynamic-range
INT8 and full-integer INT8 (calibrated on the same tensors as ONNX Runtime, transposed to the file's layout, and
searched like every INT8 file: ``edgekit.export.int8_search``). Batch 1 only. Every file runs through TFLiteRunner
and is compared with the ONNX FP32 outputs; the spec goes into each file's TFLite metadata (``edgekit.spec``) and
the manifest."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from edgekit.errors import EdgekitError
from edgekit.specs import TfliteSection

FLOAT_PRECISIONS = ("fp32", "fp16")  # held to the parity limits; integer files go through the gate instead


def file_name(precision: str) -> str:
    return f"model.{precision}.tflite"


def base_path(section: TfliteSection, folder: Path, work: Path) -> Path:
    """The FP32 file every quantized one is made from (in the artifact when the target ships FP32)."""
    return folder / file_name("fp32") if "fp32" in section.precisions else work / "base.fp32.tflite"


def export_stage(ex: Any) -> None:
    """Write ``target.tflite.precisions`` into the artifact; ``ex``: the export (``pipeline.Export``)."""
    from edgekit.backend.tflite.loader import convert_fp32, embed_spec
    from edgekit.backend.tflite.quantize import make_quantizer, quantize_tflite
    from edgekit.export.int8_search import search_int8

    section = ex.target.tflite
    if "int8" in section.precisions and ex.gate is None:
        raise EdgekitError("full-integer TFLite needs the gate: add an int8 section to the target")
    base = base_path(section, ex.folder, ex.work)
    convert_fp32(ex.model, ex.calibration.calib.tensors[:1], base, section.layout)
    for precision in section.precisions:
        if precision == "int8":
            continue
        path = ex.folder / file_name(precision)
        if precision != "fp32":
            quantize_tflite(base, path, precision)
        note = "spec in TFLite metadata" if embed_spec(path, ex.spec) else "spec in the manifest only"
        if precision in FLOAT_PRECISIONS:
            ex.ship_float(path, "tflite", precision, section.layout, note, section.parity_max_px,
                          section.parity_max_deg)
        else:  # dynamic-range INT8: compared and gated, not shipped when LiteRT cannot run it
            ex.ship_quantized(path, "tflite", precision, section.layout, note)
    if "int8" in section.precisions:
        search_int8(ex, make_quantizer(ex, base, section.layout), "tflite", section.layout)

