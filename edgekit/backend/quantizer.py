"""The one contract every INT8 backend implements for ``edgekit.export.int8_search`` (ONNX Runtime QDQ, LiteRT via
ai-edge-quantizer, ...). A layer is a string the backend understands (an ONNX node name, ``"OP tensor"`` for
TFLite); the search only orders, counts and logs them."""
from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path
from typing import Protocol, Sequence

from edgekit.checks import Quantization


class Quantizer(Protocol):
    suffix: str  # file suffix of what it writes: ".onnx", ".tflite"
    notes: str  # the manifest note of its files ("QDQ", "spec in TFLite metadata")

    def with_percentile(self, percentile: float) -> "Quantizer":
        """The same model and calibration images with Percentile ranges (activations measured once for all)."""

    def quantize(self, path: Path, float_layers: Sequence[str] = ()) -> Path:
        """Write the INT8 file (spec embedded) with ``float_layers`` kept in float; ranges are computed once."""

    def record(self) -> Quantization:
        """How it calibrates, for the manifest."""

    def layers(self, path: Path) -> list[str]:
        """The quantized layers of a file it wrote, in graph order: the candidates to keep in float."""

    def weighted(self, layer: str) -> bool:
        """Whether ``layer`` holds weights (conv, matmul: what INT8 is for)."""

    def layer_errors(self, path: Path, layers: Sequence[str]) -> dict[str, float]:
        """{layer: dB of SQNR its own quantization costs in the file at ``path``}: its noisiest input's SQNR minus
        its output's, against the float model on calibration images."""

    def refused(self, message: str, layers: Sequence[str]) -> list[str]:
        """The layers to keep in float so that the runtime runs a file it refused with ``message`` ([]: none)."""

    def op_type(self, layer: str) -> str:
        """The operator of ``layer`` (Conv, CONV_2D, ...)."""

    def label(self, layer: str) -> str:
        """A short name for logs and the manifest."""


@contextlib.contextmanager
def quiet_quantizer_logs():
    """Quantizers log benign warnings through ``logging`` (ORT: QInt8 activations, int64 shape tensors; NNCF: subset
    size, batch statistics) and print progress on stdout (ORT's histogram calibrators, NNCF's bars): silenced
    while they run, so a verb's output stays edgekit's own."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        root.setLevel(level)
