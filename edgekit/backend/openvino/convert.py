"""ONNX -> OpenVINO IR, FP32 (``openvino.convert_model``; weights kept FP32: ``compress_to_fp16=False``)."""
from __future__ import annotations

from pathlib import Path

from edgekit.backend.openvino.loader import embed_spec, save_ir
from edgekit.errors import ModelFileError
from edgekit.specs import ModelSpec


def convert_onnx(onnx_path: str | Path, xml_path: str | Path, work: Path, spec: ModelSpec | None = None) -> Path:
    """Write ``xml_path`` (+ .bin) converted from ``onnx_path``, the spec in its rt_info (default: the one the ONNX
    file carries). ``work``: a scratch folder. An ONNX file OpenVINO cannot convert is one ModelFileError line."""
    import openvino as ov

    from edgekit.backend.onnxruntime.loader import spec_from_onnx

    onnx_path = Path(onnx_path)
    spec = spec or spec_from_onnx(onnx_path)  # also refuses a missing or unreadable file first
    try:
        model = ov.convert_model(str(onnx_path))
    except Exception as exc:  # OpConversionFailure, GeneralFailure
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"OpenVINO cannot convert it ({reason})", onnx_path) from None
    embed_spec(model, spec)
    return save_ir(model, xml_path, work)
