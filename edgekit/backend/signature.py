"""What a model file's outputs and tensor types must be for its spec, checked by every runner when it opens the
file, before the first inference: a file of another model (or the right model with another head) is refused with
one line instead of decoding garbage or failing inside numpy. The input's (C, H, W) is ``base.check_input_shape``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from edgekit.errors import ModelFileError
from edgekit.specs import ModelSpec

Dim = int | str | None  # a symbolic dim: a name (ONNX), None, or a negative size (TensorRT's -1)
FLOAT_TYPES = ("float32", "float16")  # what the runners feed and decode (cast to float32 on the host)
QUANTIZED_TYPES = ("int8", "uint8", "int16")  # LiteRT full-integer I/O, quantized with the tensor's scale


def expected_outputs(spec: ModelSpec) -> list[tuple[int, ...]]:
    """Per-image shape (batch excluded) of every output, in ``HeadSpec.outputs`` order, as the decode reads it: the
    head kind's row of the decoder table says."""
    return spec.head.decoder.shapes(spec.head.params, spec.preprocess.input_size)


def _fits(shape: Sequence[Dim] | None, expected: tuple[int, ...]) -> bool:
    if shape is None:  # rank unknown to the runtime: the decode's own checks are the last word
        return True
    dims = list(shape)[1:]
    return len(dims) == len(expected) and all(
        d is None or isinstance(d, str) or int(d) < 0 or int(d) == e for d, e in zip(dims, expected))


def _shown(shape: Sequence[Dim]) -> list:
    return [d if d is None or isinstance(d, str) else int(d) for d in shape]  # no np.int32(...) reprs


def check_outputs(shapes: Sequence[Sequence[Dim] | None], spec: ModelSpec, path: str) -> None:
    """ModelFileError unless the file's outputs (batch-first shapes, in spec order) are the ones the spec's decode
    reads: their number, and each shape (symbolic dims pass)."""
    expected = expected_outputs(spec)  # as many as spec.head.outputs (HeadSpec checks the count for its kind)
    if len(shapes) != len(expected):
        raise ModelFileError(f"{len(shapes)} outputs, model {spec.name} has {len(expected)}", path)
    for name, shape, wanted in zip(spec.head.outputs, shapes, expected):
        if not _fits(shape, wanted):
            raise ModelFileError(f"output '{name}' has shape {_shown(shape)}, model {spec.name} gives "
                                 f"{['batch', *wanted]}: a file of another model?", path)


def dtype_name(dtype) -> str:
    """'float32', 'int8', ... of a numpy dtype, a numpy type or an ONNX Runtime 'tensor(float)' string."""
    onnx_names = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64"}
    if isinstance(dtype, str) and dtype.startswith("tensor("):
        return onnx_names.get(dtype, dtype[len("tensor("):-1])
    try:
        return np.dtype(dtype).name
    except TypeError:
        return str(dtype)


def check_dtype(what: str, dtype, allowed: Sequence[str], path: str) -> str:
    """The dtype's name; ModelFileError naming ``what`` (e.g. "input 'input'") when it is not ``allowed``."""
    name = dtype_name(dtype)
    if name not in allowed:
        raise ModelFileError(f"{what} is {name}, edgekit runs only {' / '.join(allowed)} there", path)
    return name
