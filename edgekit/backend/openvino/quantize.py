"""OpenVINO INT8 by NNCF post-training quantization (``nncf.quantize``) of the FP32 IR, calibrated on the
calibration set's tensors (the very tensors ONNX Runtime calibrates on; never random data).

The target's ``int8`` section, mapped to NNCF:
- ``method: minmax``: activation ranges from the min / max over all calibration images (``MINMAX``), as ORT's MinMax;
- ``method: percentile``: each batch's quantile (1 - percentile / 100 outlier probability at both ends), averaged
  over the batches (ORT takes one percentile over a histogram of all images: close, not identical);
- ``method: entropy``: NNCF has no entropy (KL) calibration; MinMax is used and recorded with a note (ORT's
  Entropy gives MinMax's scales too);
- ``per_channel``: weights per output channel or per tensor (``weights_quantization_params``).
Fixed here, since a target has no place for them: the ``mixed`` preset (symmetric INT8 weights, asymmetric
activations: ORT's QUInt8 activations / QInt8 weights), target device CPU, NNCF's fast bias correction (on by
default in NNCF; ORT does none). Layers kept in float are NNCF's ignored scope: their inputs and weights stay float.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from edgekit.backend.openvino.loader import embed_spec, read_ir, save_ir
from edgekit.backend.quantizer import quiet_quantizer_logs
from edgekit.errors import EdgekitError
from edgekit.specs import Int8Section, ModelSpec

CALIBRATION_BATCH = 16  # images per NNCF dataset item (a fixed-batch IR takes its own batch)
SQNR_IMAGES = 16  # calibration images the per-layer SQNR is measured on
WEIGHTED = frozenset({"Convolution", "GroupConvolution", "MatMul", "ConvolutionBackpropData",
                      "GroupConvolutionBackpropData"})  # what INT8 is for: the MACs
METHOD_NOTES = {"minmax": "", "percentile": "per-batch quantiles averaged over batches (NNCF QUANTILE / MEAN)",
                "entropy": "NNCF has no entropy calibration: MinMax ranges (ORT's Entropy gives MinMax's scales too)"}


@contextlib.contextmanager
def quiet_nncf():
    """NNCF's own log level too (it keeps a logger of its own), then the quantizers' common silencing."""
    import nncf

    nncf.set_log_level(logging.ERROR)
    with quiet_quantizer_logs():
        yield


def _range_estimator(int8: Int8Section):
    """NNCF's activation range estimator for the section's method (see the module docstring)."""
    from nncf.quantization.range_estimator import (AggregatorType, RangeEstimatorParameters,
                                                   RangeEstimatorParametersSet, StatisticsCollectorParameters,
                                                   StatisticsType)

    if int8.method != "percentile":
        return RangeEstimatorParametersSet.MINMAX
    outliers = (100.0 - int8.percentile) / 100.0
    end = StatisticsCollectorParameters(StatisticsType.QUANTILE, AggregatorType.MEAN, quantile_outlier_prob=outliers)
    return RangeEstimatorParameters(min=end, max=end)


def _batches(tensors: np.ndarray, batch: int) -> list[np.ndarray]:
    return [np.ascontiguousarray(tensors[i : i + batch], np.float32) for i in range(0, len(tensors), batch)]


class NncfQuantizer:
    """The ``Quantizer`` (``edgekit.backend.quantizer``) of OpenVINO: quantizes one FP32 IR with NNCF;
    ``quantize(path, float_layers)`` may be called many times. NNCF keeps no ranges between calls: it collects its
    statistics again each time (about 3 s for PFLD-0.25x, 12 s for FSA-Net on 256 faces, 2 cores). Layers are op
    names of the IR (NNCF's ignored scope).

    ``work``: a scratch folder for staged IR files; ``calibration``: (N, ...) float32 tensors in the IR's input
    layout (the spec's: the IR comes from edgekit's ONNX)."""

    suffix = ".xml"
    notes = "NNCF FakeQuantize"

    def __init__(self, fp32_xml: str | Path, spec: ModelSpec, int8: Int8Section, work: Path,
                 calibration: np.ndarray | None = None):
        if int8.method not in METHOD_NOTES:
            raise EdgekitError(f"unknown calibration method '{int8.method}' (minmax, entropy, percentile)")
        self.fp32_xml, self.spec, self.int8, self.work = Path(fp32_xml), spec, int8, work
        self.calibration = calibration
        work.mkdir(parents=True, exist_ok=True)
        model = read_ir(self.fp32_xml)
        batch = model.inputs[0].get_partial_shape()[0]
        self.batch = batch.get_length() if batch.is_static else CALIBRATION_BATCH
        self.op_types = {op.get_friendly_name(): op.get_type_name() for op in model.get_ordered_ops()}

    def with_percentile(self, percentile: float) -> "NncfQuantizer":
        """The same FP32 model and images calibrated with Percentile ranges (the search's recalibration step)."""
        other = copy.copy(self)
        other.int8 = dataclasses.replace(self.int8, method="percentile", percentile=percentile)
        return other

    def quantize(self, path: str | Path, float_layers: Sequence[str] = ()) -> Path:
        """Write the INT8 IR to ``path`` (+ .bin, spec embedded); ``float_layers``: op names kept in float (an
        unknown name is NNCF's error: ``validate``)."""
        import nncf

        if self.calibration is None or len(self.calibration) == 0:
            raise EdgekitError("INT8 calibration needs real calibration tensors (never random data)")
        batches = _batches(self.calibration, self.batch)
        weights = nncf.quantization.advanced_parameters.QuantizationParameters(per_channel=self.int8.per_channel)
        advanced = nncf.AdvancedQuantizationParameters(activations_range_estimator_params=_range_estimator(self.int8),
                                                       weights_quantization_params=weights)
        with quiet_nncf():
            model = nncf.quantize(read_ir(self.fp32_xml), nncf.Dataset(batches), preset=nncf.QuantizationPreset.MIXED,
                                  target_device=nncf.TargetDevice.CPU, subset_size=len(batches),
                                  ignored_scope=nncf.IgnoredScope(names=list(float_layers), validate=True),
                                  advanced_parameters=advanced)
        embed_spec(model, self.spec)
        return save_ir(model, path, self.work)

    def record(self):
        """The calibration facts for the manifest (``edgekit.checks.Quantization``)."""
        from edgekit.checks import Quantization

        percentile = self.int8.percentile if self.int8.method == "percentile" else None
        return Quantization("nncf", self.int8.method, percentile, self.int8.per_channel,
                            "UInt8 asymmetric (preset mixed)", "Int8 symmetric", "OpenVINO IR FakeQuantize",
                            "float (NNCF fast bias correction)", 0 if self.calibration is None else len(self.calibration),
                            METHOD_NOTES[self.int8.method])

    # ------------------------------------------------------------------ the layer fallback's questions

    def layers(self, path: Path) -> list[str]:
        return candidates(path)

    def weighted(self, layer: str) -> bool:
        return self.op_types.get(layer) in WEIGHTED

    def op_type(self, layer: str) -> str:
        return self.op_types.get(layer, "?")

    def layer_errors(self, path: Path, layers: Sequence[str]) -> dict[str, float]:
        from edgekit.backend.openvino.sensitivity import sqnr_drop

        return sqnr_drop(self.fp32_xml, path, list(layers), self.calibration[:SQNR_IMAGES])

    def refused(self, message: str, layers: Sequence[str]) -> list[str]:
        return []  # the CPU plugin runs every FakeQuantize NNCF places (or runs that op in float itself)

    def label(self, layer: str) -> str:
        return layer


def candidates(int8_xml: str | Path) -> list[str]:
    """Names of the quantized ops of an NNCF INT8 IR (graph order): those reading a FakeQuantize output or holding
    INT8 weights (a head MatMul after a Concat reads FakeQuantize only through it). These are the layers the search
    may keep in float: NNCF ignored-scope names, the FP32 IR's op names."""
    names = []
    for op in read_ir(int8_xml).get_ordered_ops():
        if op.get_type_name() not in ("FakeQuantize", "Result") and (_reads_fake_quantize(op) or int8_weights(op)):
            names.append(op.get_friendly_name())
    return names


def _reads_fake_quantize(op) -> bool:
    return any(value.get_node().get_type_name() == "FakeQuantize" for value in op.input_values())


def int8_weights(op) -> bool:
    """Whether an op reads INT8 weights: an int8 / uint8 Constant -> Convert -> (Subtract) -> Multiply chain."""
    def integer_constant(node) -> bool:
        if node.get_type_name() == "Constant":
            return node.get_element_type().get_type_name() in ("i8", "u8")
        return node.get_type_name() in ("Convert", "Subtract", "Multiply") and \
            any(integer_constant(value.get_node()) for value in node.input_values())

    return op.get_type_name() not in ("Convert", "Subtract", "Multiply", "Constant") and \
        any(integer_constant(value.get_node()) for value in op.input_values())
