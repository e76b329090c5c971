"""The runner lifecycle every backend shares: open, infer, close; usable as a context manager."""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from edgekit.specs import ModelSpec, PreprocessSpec


class Runner:
    """Runs one model file. ``infer`` takes a preprocessed float32 batch in the file's layout and returns the
    raw outputs in ``HeadSpec.outputs`` order. Subclasses set ``max_batch`` (None = any; TFLite = 1) and
    implement ``_open``, ``_infer``, ``_close``."""

    backend: str = "base"
    max_batch: int | None = None

    def __init__(self, path: str, threads: int | None = None, spec: ModelSpec | None = None):
        self.path = str(path)
        self.threads = threads
        self.is_open = False
        self._spec = spec

    @property
    def spec(self) -> ModelSpec:
        """The ModelSpec given, else the one the file carries (read once)."""
        if self._spec is None:
            self._spec = self._read_spec()
        return self._spec

    def _read_spec(self) -> ModelSpec:
        raise NotImplementedError

    @property
    def input_layout(self) -> str:
        """The batch layout ``infer`` takes with no transpose ('NCHW' / 'NHWC'): preprocess straight into it
        (``preprocess_for``). The spec's; a TFLite file says its own. ``infer`` also takes the spec's layout."""
        return self.spec.preprocess.layout

    def open(self) -> "Runner":
        if not self.is_open:
            self._open()
            self.is_open = True
        return self

    def infer(self, batch: np.ndarray) -> list[np.ndarray]:
        if not self.is_open:
            self.open()
        if self.max_batch is None or len(batch) <= self.max_batch:
            return list(self._infer(batch))
        parts = [self._infer(batch[i : i + self.max_batch]) for i in range(0, len(batch), self.max_batch)]
        return [np.concatenate(outs, axis=0) for outs in zip(*parts)]

    def close(self) -> None:
        if self.is_open:
            self._close()
            self.is_open = False

    def __enter__(self) -> "Runner":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def _open(self) -> None:
        raise NotImplementedError

    def _infer(self, batch: np.ndarray) -> Sequence[np.ndarray]:
        raise NotImplementedError

    def _close(self) -> None:
        pass


def check_input_shape(shape: Sequence[int | str | None], spec, path: str) -> str:
    """The file's input layout; ModelFileError when its (C, H, W) is not the spec's (a file of another model).

    ``shape`` is batch first; a symbolic batch (str / None) is fine."""
    from edgekit.errors import ModelFileError

    width, height = spec.preprocess.input_size
    channels = spec.preprocess.channels
    dims = tuple(shape[1:])
    wanted = {"NCHW": (channels, height, width), "NHWC": (height, width, channels)}
    for layout, expected in wanted.items():
        if dims == expected:
            return layout
    shown = [d if d is None or isinstance(d, str) else int(d) for d in shape]  # no np.int32(...) reprs
    raise ModelFileError(f"input shape {shown} does not fit model {spec.name} (expects "
                         f"{list(wanted[spec.preprocess.layout])} per image): a file of another model?", path)


def preprocess_for(preprocess: PreprocessSpec, runner: Runner) -> PreprocessSpec:
    """``preprocess`` with the layout the runner's file takes, so that ``infer`` needs no transpose (a numpy
    transpose of a 112x112x3 batch costs about a sixth of PFLD-0.25x's INT8 model call)."""
    layout = runner.input_layout
    return preprocess if preprocess.layout == layout else dataclasses.replace(preprocess, layout=layout)


def to_layout(batch: np.ndarray, source: str, destination: str) -> np.ndarray:
    """A 4-D batch from ``source`` layout ('NCHW' / 'NHWC') to ``destination``, contiguous float32."""
    if source != destination:
        batch = batch.transpose(0, 2, 3, 1) if destination == "NHWC" else batch.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(batch, dtype=np.float32)


def pad_batch(batch: np.ndarray, max_batch: int | None) -> np.ndarray:
    """A fixed-batch file takes exactly ``max_batch`` images: a smaller batch is zero-padded to it (the caller cuts
    the outputs back to ``len(batch)``); any batch as it is when the file's batch is symbolic (None)."""
    if max_batch is None or len(batch) >= max_batch:
        return batch
    return np.concatenate([batch, np.zeros((max_batch - len(batch), *batch.shape[1:]), batch.dtype)])
