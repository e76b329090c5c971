"""Model files edgekit did not export (no ``edgekit.spec`` metadata: MediaPipe's face_landmark.tflite, any
.onnx): their input names, shapes and dtypes read from the file, an input batch (random, or ``--input X.npy``),
and the bare model call, so ``edgekit profile`` times them through the same workers as edgekit's own files
(no preprocessing or decode to time: those columns stay empty)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from edgekit.errors import ModelFileError

SPEC_KEY = "edgekit.spec"  # backend.onnxruntime.loader / backend.tflite.loader: the spec's metadata key
ONNX_DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
               "tensor(uint8)": "uint8", "tensor(int8)": "int8", "tensor(int32)": "int32", "tensor(int64)": "int64",
               "tensor(bool)": "bool"}


@dataclass(frozen=True)
class TensorInfo:
    """One input of a model file: ``shape`` with None for a dimension the file leaves free."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str  # numpy dtype name

    def batch_shape(self, batch: int) -> tuple[int, ...]:
        """The shape fed at ``batch``: a free first dimension takes it; ModelFileError for other free ones."""
        rest = self.shape[1:]
        if any(d is None for d in rest):
            raise ModelFileError(f"input '{self.name}' has free dimensions {list(self.shape)}: give its values "
                                 "with --input X.npy")
        return (batch if self.shape[0] is None else self.shape[0], *rest) if self.shape else ()


def carries_spec(path: Path) -> bool:
    """True when an .onnx / .tflite file holds edgekit's spec metadata (the file need not be valid otherwise)."""
    if path.suffix.lower() == ".onnx":
        from edgekit.backend.onnxruntime.loader import load_onnx

        return any(p.key == SPEC_KEY for p in load_onnx(path).metadata_props)
    return SPEC_KEY in _tflite_metadata_names(path)


def _tflite_metadata_names(path: Path) -> set[str]:
    from ai_edge_litert import schema_py_generated as schema

    try:
        model = schema.Model.GetRootAs(bytearray(path.read_bytes()), 0)
        return {model.Metadata(i).Name().decode(errors="replace") for i in range(model.MetadataLength())}
    except Exception:  # noqa: BLE001 - flatbuffers raises struct.error / IndexError on garbage
        raise ModelFileError("not a readable TFLite flatbuffer", path) from None


def _dim(value) -> int | None:
    return int(value) if isinstance(value, (int, np.integer)) and value > 0 else None


def file_inputs(path: Path) -> list[TensorInfo]:
    """The inputs as the file declares them (ONNX Runtime's view of an .onnx, LiteRT's of a .tflite)."""
    if path.suffix.lower() == ".onnx":
        from edgekit.backend.onnxruntime.loader import open_session

        return [TensorInfo(i.name, tuple(_dim(d) for d in i.shape), ONNX_DTYPES.get(i.type, i.type))
                for i in open_session(path, 1).get_inputs()]
    from edgekit.backend.tflite.loader import open_interpreter

    details = open_interpreter(path, 1).get_input_details()
    return [TensorInfo(d["name"], tuple(_dim(s) if s >= 0 else None for s in d["shape_signature"]),
                       np.dtype(d["dtype"]).name) for d in details]


def load_input(path: str | Path) -> np.ndarray:
    """An ``.npy`` array (never a pickle); ModelFileError naming the file otherwise."""
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ModelFileError("file not found", path) from None
    except (ValueError, OSError, EOFError) as exc:
        raise ModelFileError(f"not a readable .npy array without objects ({type(exc).__name__})", path) from None


def input_batch(inputs: Sequence[TensorInfo], batch: int, given: np.ndarray | None = None,
                seed: int = 0) -> dict[str, np.ndarray]:
    """name -> array for one call at ``batch``: ``given`` (one sample, or a batch of one, repeated) for a
    single-input file, else uniform random values (floats in [0, 1), integers in [0, 255] or {0, 1})."""
    if given is not None:
        return {inputs[0].name: _tiled(inputs[0], given, batch)}
    rng = np.random.default_rng(seed)
    feeds = {}
    for info in inputs:
        shape, dtype = info.batch_shape(batch), np.dtype(info.dtype)
        if dtype.kind == "f":
            feeds[info.name] = rng.random(shape).astype(dtype)
        else:
            high = 2 if dtype.kind == "b" else min(256, int(np.iinfo(dtype).max) + 1)
            feeds[info.name] = rng.integers(0, high, shape).astype(dtype)
    return feeds


def _tiled(info: TensorInfo, given: np.ndarray, batch: int) -> np.ndarray:
    sample = given[0] if given.ndim == len(info.shape) and len(given) == 1 else given
    fits = sample.ndim == len(info.shape) - 1 and all(d is None or d == s for d, s in zip(info.shape[1:], sample.shape))
    if not fits:
        raise ModelFileError(f"--input holds shape {list(given.shape)}; input '{info.name}' takes "
                             f"{[d if d else 'any' for d in info.shape]} (one sample, or a batch of 1)")
    if np.dtype(info.dtype).kind != sample.dtype.kind:
        raise ModelFileError(f"--input holds {sample.dtype.name}; input '{info.name}' takes {info.dtype}")
    return np.ascontiguousarray(np.repeat(sample[None].astype(info.dtype), batch, axis=0))


def open_call(path: Path, threads: int) -> Callable[[dict[str, np.ndarray]], list]:
    """One model call on the file: feeds (name -> array) -> outputs, with ``threads`` CPU threads."""
    if path.suffix.lower() == ".onnx":
        from edgekit.backend.onnxruntime.loader import open_session

        session = open_session(path, threads)
        return lambda feeds: session.run(None, feeds)
    from edgekit.backend.tflite.loader import open_interpreter

    interpreter = open_interpreter(path, threads)
    details = {d["name"]: d["index"] for d in interpreter.get_input_details()}
    outputs = [d["index"] for d in interpreter.get_output_details()]

    def call(feeds: dict[str, np.ndarray]) -> list:
        for name, array in feeds.items():
            interpreter.set_tensor(details[name], array)
        interpreter.invoke()
        return [interpreter.get_tensor(index) for index in outputs]

    return call
