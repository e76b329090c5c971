"""OpenVINO export stage, for targets whose runtime is ``openvino``: ``model.onnx`` -> ``model.xml`` + ``model.bin``
(FP32, compared with the ONNX FP32 outputs on real faces, held to the target's ONNX parity limits), then the one
INT8 search (``edgekit.export.int8_search``) on NNCF files: ``model.int8.xml``, a recalibrated or mixed file when
the gate asks for it. Every .bin is listed in the manifest beside its .xml."""
from __future__ import annotations

from typing import Any

RUNTIME = "openvino"


def export_stage(ex: Any) -> None:
    """``ex``: the export (``edgekit.export.pipeline.Export``); the ONNX stage has run (``model.onnx``, the
    reference outputs, the gate's FP32 baseline)."""
    from edgekit.backend.openvino.convert import convert_onnx
    from edgekit.backend.openvino.quantize import NncfQuantizer
    from edgekit.export.int8_search import search_int8

    if ex.target.runtime != RUNTIME:
        return
    work, layout, section = ex.work / "openvino", ex.spec.preprocess.layout, ex.target.onnx
    xml = convert_onnx(ex.folder / "model.onnx", ex.folder / "model.xml", work, ex.spec)
    ex.ship_float(xml, "openvino", "fp32", layout, "IR converted from model.onnx, FP32 weights",
                  section.parity_max_px, section.parity_max_deg)
    if ex.gate is not None:
        search_int8(ex, NncfQuantizer(xml, ex.spec, ex.int8, work, ex.calibration.calib.tensors), "openvino", layout)
