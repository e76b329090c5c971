"""ONNX files: the spec in ``metadata_props`` (so a lone .onnx knows its preprocessing and decode) and
ONNX Runtime sessions opened with edgekit's settings. Needs onnx / onnxruntime only (no torch)."""
from __future__ import annotations

import json
from pathlib import Path

from edgekit.errors import ModelFileError, SpecError
from edgekit.specs import ModelSpec

SPEC_KEY = "edgekit.spec"
VERSION_KEY = "edgekit.version"


def embed_spec(model, spec: ModelSpec) -> None:
    """Write ``edgekit.spec`` (ModelSpec JSON) and ``edgekit.version`` into an ``onnx.ModelProto`` in place."""
    from edgekit import __version__

    values = {SPEC_KEY: json.dumps(spec.to_dict(), sort_keys=True), VERSION_KEY: __version__}
    kept = [p for p in model.metadata_props if p.key not in values]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in values.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value


def load_onnx(path: str | Path):
    """``onnx.ModelProto`` of ``path``; a missing, truncated or non-ONNX file is one ModelFileError line."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise ModelFileError("file not found", path)
    try:
        return onnx.load(str(path))
    except Exception as exc:  # protobuf DecodeError, external-data errors
        raise ModelFileError(f"not a readable ONNX model ({type(exc).__name__})", path) from None


def spec_from_onnx(path: str | Path) -> ModelSpec:
    """The ModelSpec embedded by edgekit's export; ModelFileError when absent or invalid."""
    props = {p.key: p.value for p in load_onnx(path).metadata_props}
    if SPEC_KEY not in props:
        raise ModelFileError(f"ONNX file has no '{SPEC_KEY}' metadata (not exported by edgekit): "
                             "use the artifact folder or pass the spec", path)
    try:
        return ModelSpec.from_json(props[SPEC_KEY])
    except SpecError as exc:
        raise ModelFileError(f"invalid '{SPEC_KEY}' metadata ({exc.message})", path) from None


def open_session(path: str | Path, threads: int | None = None):
    """An InferenceSession on the CPU: ``threads`` intra-op threads, sequential execution, all graph
    optimizations. Any load failure (corrupt, truncated, not ONNX) becomes a ModelFileError."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise ModelFileError("file not found", path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads or 0)  # 0 = ORT's default (all cores)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: QDQ models log benign warnings
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises InvalidProtobuf / Fail / InvalidGraph
        message = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"ONNX Runtime cannot load it ({message})", path) from None
