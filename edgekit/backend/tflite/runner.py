"""TFLiteRunner: a .tflite file with the ai-edge-litert Interpreter (XNNPACK on the CPU), batch 1."""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from edgekit.backend.base import Runner, check_input_shape, to_layout
from edgekit.backend.signature import FLOAT_TYPES, QUANTIZED_TYPES, check_dtype, check_outputs
from edgekit.errors import ModelFileError
from edgekit.specs import ModelSpec


def quantize(values: np.ndarray, detail: dict) -> np.ndarray:
    """float -> the tensor's integer dtype: q = round(x / scale + zero_point), clipped. Float tensors pass.
    In place on one float32 temporary: this runs in every INT8 model call."""
    dtype = detail["dtype"]
    scale, zero_point = detail["quantization"]
    if np.issubdtype(dtype, np.floating) or not scale:
        return np.ascontiguousarray(values, dtype=dtype)
    info = np.iinfo(dtype)
    scaled = np.divide(values, np.float32(scale), dtype=np.float32)
    scaled += np.float32(zero_point)
    np.rint(scaled, out=scaled)
    np.clip(scaled, info.min, info.max, out=scaled)
    return scaled.astype(dtype)


def dequantize(values: np.ndarray, detail: dict) -> np.ndarray:
    """The tensor's integer dtype -> float32: x = (q - zero_point) * scale."""
    scale, zero_point = detail["quantization"]
    if np.issubdtype(values.dtype, np.floating) or not scale:
        return values.astype(np.float32)
    return ((values.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)).astype(np.float32)


def _output_order(names: list[str], wanted: Sequence[str]) -> list[int]:
    """Positions of ``names`` in forward() order: by spec name when the file uses them, else by the trailing
    number of litert-torch's ``output_0, output_1, ...``, else as listed."""
    if set(wanted) <= set(names):
        return [names.index(name) for name in wanted]
    numbers = [re.search(r"(\d+)$", name) for name in names]
    if all(numbers):
        return sorted(range(len(names)), key=lambda i: int(numbers[i].group(1)))
    return list(range(len(names)))


def _check_tensor_type(detail: dict, path: str) -> None:
    """float32 / float16, or an integer type with a quantization scale (``quantize`` divides by it)."""
    what = f"tensor '{detail['name']}'"
    name = check_dtype(what, detail["dtype"], FLOAT_TYPES + QUANTIZED_TYPES, path)
    scale = detail["quantization"][0]
    if name in QUANTIZED_TYPES and not (np.isfinite(scale) and scale > 0):
        raise ModelFileError(f"{what} is {name} without a quantization scale: edgekit cannot feed or read it", path)


class TFLiteRunner(Runner):
    """``infer`` takes a float32 batch in the spec's layout (transposed when the file is NHWC and the spec NCHW,
    or the reverse), quantizes it when the file has int8 / int16 input, and returns float32 outputs in
    ``spec.head.outputs`` order (dequantized). Batch 1 (``max_batch`` = 1): larger batches run one by one.
    ``spec`` defaults to the one embedded in the file's metadata."""

    backend = "tflite"
    max_batch = 1

    def __init__(self, path: str, threads: int | None = None, spec: ModelSpec | None = None):
        super().__init__(path, threads, spec)
        self.interpreter = None

    def _read_spec(self) -> ModelSpec:
        from edgekit.backend.tflite.loader import spec_from_tflite

        return spec_from_tflite(self.path)

    def _open(self) -> None:
        from edgekit.backend.tflite.loader import open_interpreter

        interpreter = open_interpreter(self.path, self.threads)
        inputs = interpreter.get_input_details()
        if len(inputs) != 1:
            raise ModelFileError(f"expected one input tensor, found {len(inputs)}", self.path)
        self.input_detail = inputs[0]
        self.image_shape = tuple(int(d) for d in self.input_detail["shape"][1:])  # checked on every call
        self.layout = check_input_shape(list(self.input_detail["shape"]), self.spec, self.path)
        outputs = self._output_details(interpreter)
        if len(outputs) != len(self.spec.head.outputs):
            raise ModelFileError(f"{len(outputs)} outputs, the spec names {len(self.spec.head.outputs)}", self.path)
        check_outputs([list(d["shape"]) for d in outputs], self.spec, self.path)
        for detail in [self.input_detail, *outputs]:
            _check_tensor_type(detail, self.path)
        self.output_details = outputs
        self.interpreter = interpreter

    def _output_details(self, interpreter) -> list[dict]:
        signatures = interpreter.get_signature_list()
        if signatures:  # litert-torch files: signature outputs output_0.. in forward() order
            by_name = interpreter.get_signature_runner(next(iter(signatures))).get_output_details()
            names = list(by_name)
            details = [by_name[n] for n in names]
        else:
            details = interpreter.get_output_details()
            names = [d["name"] for d in details]
        return [details[i] for i in _output_order(names, self.spec.head.outputs)]

    @property
    def io_dtype(self) -> str:
        """The input tensor's dtype name: 'float32', 'int8', 'int16', ..."""
        self.open()
        return np.dtype(self.input_detail["dtype"]).name

    @property
    def input_layout(self) -> str:
        return self.open().layout

    def _infer(self, batch: np.ndarray) -> Sequence[np.ndarray]:
        if batch.shape[1:] != self.image_shape:  # in the spec's layout, not the file's
            batch = to_layout(batch, self.spec.preprocess.layout, self.layout)
        self.interpreter.set_tensor(self.input_detail["index"], quantize(batch, self.input_detail))
        try:
            self.interpreter.invoke()
        except RuntimeError as exc:  # e.g. a quantized DIV whose divisor rounds to its zero point
            reason = " ".join(str(exc).split())[:200]
            raise ModelFileError(f"LiteRT failed to run it ({reason})", self.path) from None
        return [dequantize(self.interpreter.get_tensor(d["index"]), d) for d in self.output_details]

    def _close(self) -> None:
        self.interpreter = None
