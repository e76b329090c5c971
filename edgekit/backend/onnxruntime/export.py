"""ONNX export stage, the hub every other format starts from: torch -> ``model.onnx`` (parity vs torch on real
faces), its outputs kept as the reference the other formats are compared with, the gate's FP32 baseline, and the
INT8 search on ONNX Runtime's QDQ quantizer when the target deploys ONNX."""
from __future__ import annotations

from typing import Any

from edgekit.checks import OnnxExport


def export_stage(ex: Any) -> None:
    """``ex``: the export (``edgekit.export.pipeline.Export``)."""
    from edgekit.backend.onnxruntime.quantize import make_quantizer
    from edgekit.export.gate import parity, require_parity
    from edgekit.export.int8_search import search_int8
    from edgekit.export.onnx import export_onnx, torch_outputs
    from edgekit.export.pipeline import parity_text
    from edgekit.runtime.source import runner_for_file

    section = ex.target.onnx
    path = export_onnx(ex.model, ex.folder / "model.onnx", section)
    faces, matrices = ex.parity_faces()
    with runner_for_file(path, ex.threads, ex.spec) as runner:
        ex.reference = runner.infer(faces)
    result = parity(torch_outputs(ex.model, faces), ex.reference, ex.spec, matrices, "torch")
    ex.log(f"onnx: {path.name} opset {section.opset}, parity vs torch {parity_text(result)}")
    require_parity(result, section.parity_max_px, section.parity_max_deg, path, "torch")
    ex.add(path, "onnx", precision="fp32", layout=ex.spec.preprocess.layout)
    ex.record(onnx=OnnxExport(section.opset, section.dynamic_batch, section.simplify),
              parity={**ex.manifest.checks.parity, path.name: result})
    ex.measure(path)
    if ex.gate is not None:
        ex.set_baseline(path)
    quantizer = make_quantizer(ex)
    if quantizer is not None:
        search_int8(ex, quantizer, "onnx", ex.spec.preprocess.layout)
