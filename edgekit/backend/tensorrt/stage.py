"""TensorRT export stage (no GPU needed): parser and QDQ checks, the calibration table (INT8, TensorRT < 11) and,
for a Jetson target, the bundle that builds the engine on the device. Engines themselves are built by
``edgekit build`` (``backend.tensorrt.build``) on the machine that runs them."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from edgekit.checks import TensorrtPrep
from edgekit.errors import EdgekitError

SUPPORT_FORMATS = {".sh": "script", ".table": "calib_table", ".onnx": "onnx"}  # else "config"


def export_stage(ex: Any) -> None:
    """``ex``: the export (``edgekit.export.pipeline.Export``)."""
    from edgekit.backend.onnxruntime.loader import load_onnx
    from edgekit.backend.tensorrt.prepare import check_onnx_for_tensorrt, check_qdq_placement, int8_onnx

    section = ex.target.tensorrt
    onnx_problems = tuple(check_onnx_for_tensorrt(load_onnx(ex.folder / "model.onnx"), section.version))
    qdq_problems, table = (), ""
    entry = int8_onnx(ex.manifest)
    if entry is not None:
        qdq = ex.folder / entry.path
        qdq_problems = tuple(check_qdq_placement(load_onnx(qdq)))
        if ex.target.jetson is None:  # the Jetson bundle writes its own table for nvinfer
            table = _calibration_table(ex, qdq)
    for problem in onnx_problems + qdq_problems:
        ex.log(f"tensorrt: warning: {problem}")
    ex.record(tensorrt=TensorrtPrep(onnx_problems, qdq_problems, table))
    if ex.target.jetson is not None:
        from edgekit.backend.tensorrt.jetson import write_jetson_bundle

        for path in write_jetson_bundle(ex.folder, ex.manifest, ex.target):
            ex.add(path, SUPPORT_FORMATS.get(path.suffix, "config"), role="support")


def _calibration_table(ex: Any, qdq: Path) -> str:
    """Write ``model.int8.calib`` (the float model's tensors, with the QDQ file's scales); its name, or why none."""
    from edgekit.atomic import atomic_write_text
    from edgekit.backend.onnxruntime.loader import load_onnx
    from edgekit.backend.tensorrt.prepare import calibration_table_from_qdq

    try:
        table = calibration_table_from_qdq(load_onnx(qdq), ex.target.tensorrt.version)
    except EdgekitError as exc:  # TensorRT 11 has no calibration caches: the QDQ ONNX is the INT8 path
        return f"none ({exc})"
    path = atomic_write_text(ex.folder / "model.int8.calib", table)
    ex.add(path, "calib_table", precision="int8", role="support", notes="from the QDQ scales")
    return path.name
