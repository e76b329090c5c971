"""OnnxRuntimeRunner: a .onnx file (FP32 or QDQ INT8) on the CPU with ONNX Runtime."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from edgekit.backend.base import Runner, check_input_shape, pad_batch, to_layout
from edgekit.backend.onnxruntime.loader import open_session, spec_from_onnx
from edgekit.backend.signature import FLOAT_TYPES, check_dtype, check_outputs
from edgekit.errors import ModelFileError
from edgekit.specs import ModelSpec


class OnnxRuntimeRunner(Runner):
    """``infer`` takes a float32 batch in the spec's layout (transposed here if the file's input differs) and
    returns outputs in ``spec.head.outputs`` order.

    The batch size comes from the file: a symbolic batch runs any batch (``max_batch`` None); a fixed batch N
    sets ``max_batch = N`` and smaller batches are zero-padded. ``spec`` defaults to the one embedded in the file;
    a file whose input does not fit the spec is refused (ModelFileError)."""

    backend = "onnxruntime"

    def __init__(self, path: str, threads: int | None = None, spec: ModelSpec | None = None):
        super().__init__(path, threads, spec)
        self.session = None

    def _read_spec(self) -> ModelSpec:
        return spec_from_onnx(self.path)

    def _open(self) -> None:
        session = open_session(self.path, self.threads)
        inputs = session.get_inputs()
        if len(inputs) != 1:
            raise ModelFileError(f"expected one input tensor, found {len(inputs)}", self.path)
        self.input_name = inputs[0].name
        shape = inputs[0].shape  # e.g. ['batch', 3, 112, 112] or [1, 3, 112, 112]
        self.layout = check_input_shape(shape, self.spec, self.path)
        check_dtype(f"input '{self.input_name}'", inputs[0].type, ("float32",), self.path)  # QDQ files too
        self.max_batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
        outputs = {o.name: o for o in session.get_outputs()}
        self.output_names = self._ordered_outputs(list(outputs))
        check_outputs([outputs[n].shape for n in self.output_names], self.spec, self.path)
        for name in self.output_names:
            check_dtype(f"output '{name}'", outputs[name].type, FLOAT_TYPES, self.path)
        self.session = session

    def _ordered_outputs(self, names: list[str]) -> list[str]:
        wanted = list(self.spec.head.outputs)
        if set(wanted) <= set(names):
            return wanted
        if len(names) == len(wanted):
            return names  # unnamed exports keep forward() order
        raise ModelFileError(f"outputs {names} do not match the spec's {wanted}", self.path)

    def _infer(self, batch: np.ndarray) -> Sequence[np.ndarray]:
        batch = to_layout(batch, self.spec.preprocess.layout, self.layout)
        count = len(batch)
        outputs = self.session.run(self.output_names, {self.input_name: pad_batch(batch, self.max_batch)})
        return [out[:count] for out in outputs]

    def _close(self) -> None:
        self.session = None
