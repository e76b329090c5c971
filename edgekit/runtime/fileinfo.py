"""Which model file a SOURCE runs, in words people can check: its path, format and precision. ``eval`` and
``predict`` print it (an artifact holds several files; its default is the one the export selected), and
``profile`` reads a lone file's precision from its graph here."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunningFile:
    path: str  # the model file (shipped weights for a registered name)
    format: str  # onnx | tflite | engine | torch (``backend.formats``)
    precision: str  # fp32 | fp16 | int8 | dynamic_int8 | unknown

    def __str__(self) -> str:
        return f"{self.path} ({self.format} {self.precision})"


def describe_running_file(source: str | Path, choice: str | None = None) -> RunningFile:
    """The file ``runtime.source.open_source(source, choice=choice)`` opens, without opening it."""
    from edgekit.artifact import read_manifest
    from edgekit.runtime.source import is_model_name, pick_model

    path = Path(source)
    if path.is_dir():
        entry = pick_model(read_manifest(path), path, choice)
        return RunningFile(str(path / entry.path), entry.format, entry.precision)
    if is_model_name(source):
        from edgekit.paths import WEIGHTS_DIR

        return RunningFile(str(WEIGHTS_DIR / f"{source}.safetensors"), "torch", "fp32")
    return RunningFile(str(path), _format_name(path), file_precision(path))


def _format_name(path: Path) -> str:
    from edgekit.backend.formats import by_suffix

    found = by_suffix(path)
    return found.name if found is not None else path.suffix.lstrip(".")


def file_precision(path: Path) -> str:
    """fp32 / fp16 / int8 / dynamic_int8 of a lone file, read from its graph (the manifest says it otherwise)."""
    from edgekit.runtime.source import TORCH_SUFFIXES

    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return _onnx_precision(path)
    if suffix == ".tflite":
        return _tflite_precision(path)
    return "fp32" if suffix in TORCH_SUFFIXES else "unknown"


def _onnx_precision(path: Path) -> str:
    import onnx

    from edgekit.backend.onnxruntime.loader import load_onnx

    model = load_onnx(path)
    if any(n.op_type in ("QuantizeLinear", "DequantizeLinear", "QLinearConv") for n in model.graph.node):
        return "int8"
    half = any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer)
    return "fp16" if half else "fp32"


def _tflite_precision(path: Path) -> str:
    import numpy as np

    from edgekit.profile.flops import graph_interpreter

    interpreter = graph_interpreter(path)
    dtypes = {np.dtype(t["dtype"]) for t in interpreter.get_tensor_details()}
    if np.dtype(interpreter.get_input_details()[0]["dtype"]) in (np.dtype(np.int8), np.dtype(np.uint8)):
        return "int8"
    if np.dtype(np.int8) in dtypes:
        return "dynamic_int8"
    return "fp16" if np.dtype(np.float16) in dtypes else "fp32"
