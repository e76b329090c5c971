"""OpenVinoRunner: an IR .xml (FP32 or NNCF INT8) on the CPU with OpenVINO."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from edgekit.backend.base import Runner, check_input_shape, pad_batch, to_layout
from edgekit.backend.openvino.loader import read_ir, spec_from_model
from edgekit.backend.signature import FLOAT_TYPES, check_dtype, check_outputs
from edgekit.errors import ModelFileError
from edgekit.specs import ModelSpec

# INFERENCE_PRECISION_HINT f32: without it this CPU (AMX / avx512_bf16) runs the float layers in bfloat16, 3
# significant digits, and an FP32 file no longer matches ONNX Runtime (the INT8 layers of an NNCF file stay INT8).
# ENABLE_CPU_PINNING off: pinning binds OpenVINO's inference thread to one core; on a shared host that core is
# busy and the thread waits for it: PFLD-0.25x INT8 at 1 thread took 20-24 ms pinned, 0.36-0.43 ms unpinned (ONNX
# Runtime FP32: 0.42 ms), load average 14 on 2 cores. ONNX Runtime's 1-thread session pins nothing either.
CPU_CONFIG = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY", "ENABLE_CPU_PINNING": False}


def _dims(partial_shape) -> list[int | None]:
    """An OpenVINO PartialShape as batch-first dims, None for a dynamic one."""
    return [d.get_length() if d.is_static else None for d in partial_shape]


class OpenVinoRunner(Runner):
    """``infer`` takes a float32 batch in the spec's layout and returns outputs in ``spec.head.outputs`` order.

    A dynamic batch runs any batch; a fixed batch N sets ``max_batch = N`` and pads smaller batches. ``spec``
    defaults to the one in the file's rt_info; a file whose tensors do not fit the spec is refused (ModelFileError)."""

    backend = "openvino"

    def __init__(self, path: str, threads: int | None = None, spec: ModelSpec | None = None):
        super().__init__(path, threads, spec)
        self.request = None
        self._model = None

    def _read(self):
        if self._model is None:
            self._model = read_ir(self.path)
        return self._model

    def _read_spec(self) -> ModelSpec:
        return spec_from_model(self._read(), self.path)

    def _open(self) -> None:
        import openvino as ov

        model = self._read()
        if len(model.inputs) != 1:
            raise ModelFileError(f"expected one input tensor, found {len(model.inputs)}", self.path)
        shape = _dims(model.inputs[0].get_partial_shape())  # e.g. [None, 3, 112, 112]
        self.layout = check_input_shape(shape, self.spec, self.path)
        check_dtype("input", model.inputs[0].get_element_type().to_dtype(), ("float32",), self.path)
        self.max_batch = shape[0] if shape and shape[0] else None
        self.output_index = self._ordered_outputs(model)
        outputs = [model.outputs[i] for i in self.output_index]
        check_outputs([_dims(o.get_partial_shape()) for o in outputs], self.spec, self.path)
        for name, output in zip(self.spec.head.outputs, outputs):
            check_dtype(f"output '{name}'", output.get_element_type().to_dtype(), FLOAT_TYPES, self.path)
        config = {**CPU_CONFIG, **({"INFERENCE_NUM_THREADS": int(self.threads)} if self.threads else {})}
        try:
            compiled = ov.Core().compile_model(model, "CPU", config)
        except Exception as exc:  # an op the CPU plugin does not take
            raise ModelFileError(f"OpenVINO cannot compile it for the CPU ({str(exc).strip()[:160]})", self.path) \
                from None
        self.request = compiled.create_infer_request()

    def _ordered_outputs(self, model) -> list[int]:
        """Output indices in ``spec.head.outputs`` order (by tensor name; unnamed files keep their order)."""
        names = [output.get_names() for output in model.outputs]
        wanted = list(self.spec.head.outputs)
        found = [next((i for i, n in enumerate(names) if name in n), None) for name in wanted]
        if None not in found:
            return found
        if len(names) == len(wanted):
            return list(range(len(names)))
        raise ModelFileError(f"outputs {[sorted(n) for n in names]} do not match the spec's {wanted}", self.path)

    def _infer(self, batch: np.ndarray) -> Sequence[np.ndarray]:
        batch = to_layout(batch, self.spec.preprocess.layout, self.layout)
        count = len(batch)
        self.request.infer({0: pad_batch(batch, self.max_batch)})
        # copies: the request's output tensors are overwritten by the next call
        return [np.array(self.request.get_output_tensor(i).data[:count], np.float32) for i in self.output_index]

    def _close(self) -> None:
        self.request = None
        self._model = None
