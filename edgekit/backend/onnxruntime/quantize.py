"""ONNX Runtime static INT8 (toolchain §6): quant_pre_process, then quantize_static in QDQ format with
per-channel int8 weights, calibrated on the calibration set's tensors (never random data).

Activations: QUInt8 (asymmetric) for ONNX Runtime; symmetric QInt8 for TensorRT (zero point 0, biases left
in float because TensorRT takes no int32 bias Q/DQ). Methods:
minmax, percentile and entropy (ORT's Entropy gave scales bit-identical to MinMax in every measured case, so it
is recorded as such; Distribution is not offered: it broke PFLD). The ranges are computed once per quantizer and
cached, so re-quantizing with nodes left in float (the sensitivity fallback) costs no new calibration."""
from __future__ import annotations

import contextlib
import copy
import dataclasses
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
from onnxruntime.quantization import CalibrationDataReader

from edgekit.atomic import atomic_write_bytes
from edgekit.backend.onnxruntime.loader import embed_spec, load_onnx
from edgekit.backend.quantizer import quiet_quantizer_logs
from edgekit.checks import Quantization
from edgekit.errors import EdgekitError
from edgekit.specs import Int8Section, ModelSpec, Target

Activations = Literal["QUInt8", "QInt8"]
METHOD_NOTES = {
    "minmax": "",
    "percentile": "",
    "entropy": "ONNX Runtime's Entropy calibration gives the same scales as MinMax (toolchain section 6)",
}


class _TensorReader(CalibrationDataReader):
    """CalibrationDataReader over a float32 batch: feeds ``batch``-sized slices as {input_name: array}."""

    def __init__(self, input_name: str, tensors: np.ndarray, batch: int):
        self.feeds = [{input_name: np.ascontiguousarray(tensors[i : i + batch], np.float32)}
                      for i in range(0, len(tensors), batch)]
        self.position = 0

    def get_next(self) -> dict | None:
        if self.position >= len(self.feeds):
            return None
        self.position += 1
        return self.feeds[self.position - 1]

    def rewind(self) -> None:
        self.position = 0

    def __len__(self) -> int:
        return len(self.feeds)


def _ranges_path(work: Path, int8: Int8Section, activations: str) -> Path:
    """The ranges cache of one calibration (method, percentile, activation type)."""
    method = f"percentile{int8.percentile:g}" if int8.method == "percentile" else int8.method
    return work / f"ranges-{method}-{activations}.json"


SQNR_IMAGES = 16  # calibration images the per-layer SQNR is measured on


def activations_for(target: Target) -> Activations:
    """Symmetric QInt8 when the QDQ file is for TensorRT (zero point 0), else ORT's faster QUInt8."""
    return "QInt8" if target.tensorrt is not None else "QUInt8"


class QdqQuantizer:
    """The ``Quantizer`` of ONNX Runtime: quantizes one FP32 ONNX file; ``quantize(path, float_layers)`` may be
    called many times (ranges are reused). Layers are node names.

    ``work``: a folder for the pre-processed model and the ranges cache (the artifact's temp folder);
    ``calibration``: (N, ...) float32 tensors in the model's layout."""

    suffix = ".onnx"
    notes = "QDQ"

    def __init__(self, fp32_path: Path, spec: ModelSpec, int8: Int8Section, work: Path,
                 calibration: np.ndarray | None = None, activations: Activations = "QUInt8"):
        from onnxruntime.quantization.shape_inference import quant_pre_process

        if int8.method not in METHOD_NOTES:
            raise EdgekitError(f"unknown calibration method '{int8.method}' (minmax, entropy, percentile)")
        self.spec, self.int8, self.activations, self.work = spec, int8, activations, work
        self.calibration = calibration
        work.mkdir(parents=True, exist_ok=True)
        self.prepared = work / "prepared.onnx"  # BN folded, shapes inferred: what gets quantized
        self.ranges = _ranges_path(work, int8, activations)
        # in the work folder: when ORT's symbolic shape inference gives up (hourglass2's graph) it saves
        # sym_shape_infer_temp.onnx + .data into the working directory; ONNX's own shape inference is then enough
        source, prepared = str(fp32_path.resolve()), str(self.prepared.resolve())
        with quiet_quantizer_logs(), contextlib.chdir(work):
            try:
                quant_pre_process(source, prepared)
            except Exception:
                quant_pre_process(source, prepared, skip_symbolic_shape=True)
        graph = load_onnx(self.prepared).graph
        self.input_name = graph.input[0].name
        batch = graph.input[0].type.tensor_type.shape.dim[0]
        self.batch = batch.dim_value if batch.HasField("dim_value") and batch.dim_value > 0 else 16
        self.node_names = [node.name for node in graph.node]
        self.node_types = {node.name: node.op_type for node in graph.node}

    def with_percentile(self, percentile: float) -> "QdqQuantizer":
        """The same prepared model calibrated with Percentile ranges (the recalibration fallback)."""
        other = copy.copy(self)
        other.int8 = dataclasses.replace(self.int8, method="percentile", percentile=percentile)
        other.ranges = _ranges_path(self.ranges.parent, other.int8, self.activations)
        return other

    def quantize(self, path: Path, float_layers: Sequence[str] = ()) -> Path:
        """Write the QDQ model to ``path`` (spec embedded); ``float_layers``: node names left in float. The
        calibration tensors are read on the first call only (then the ranges cache)."""
        calibration = self.calibration
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

        if not self.ranges.is_file() and (calibration is None or len(calibration) == 0):
            raise EdgekitError("INT8 calibration needs real calibration tensors (never random data)")
        method = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
                  "percentile": CalibrationMethod.Percentile}[self.int8.method]
        symmetric = self.activations == "QInt8"
        extra = {"ActivationSymmetric": symmetric, "WeightSymmetric": True,
                 "CalibPercentile": self.int8.percentile,
                 "QuantizeBias": not symmetric}  # TensorRT keeps biases float (no int32 bias Q/DQ)
        reader = None if self.ranges.is_file() else _TensorReader(self.input_name, calibration, self.batch)
        with quiet_quantizer_logs():
            quantize_static(str(self.prepared), str(path), reader, quant_format=QuantFormat.QDQ,
                            per_channel=self.int8.per_channel, activation_type=getattr(QuantType, self.activations),
                            weight_type=QuantType.QInt8, nodes_to_exclude=list(float_layers), calibrate_method=method,
                            extra_options=extra, calibration_cache_path=str(self.ranges))
        proto = load_onnx(path)
        embed_spec(proto, self.spec)
        return atomic_write_bytes(path, proto.SerializeToString())

    def record(self) -> Quantization:
        """The calibration facts for the manifest."""
        percentile = self.int8.percentile if self.int8.method == "percentile" else None
        return Quantization("onnxruntime", self.int8.method, percentile, self.int8.per_channel, self.activations,
                            "QInt8", "QDQ", "int32" if self.activations == "QUInt8" else "float",
                            0 if self.calibration is None else len(self.calibration), METHOD_NOTES[self.int8.method])

    # ------------------------------------------------------------------ the layer fallback's questions

    def layers(self, path: Path) -> list[str]:
        from edgekit.backend.onnxruntime.sensitivity import quantized_nodes

        return quantized_nodes(load_onnx(path).graph)

    def weighted(self, layer: str) -> bool:
        from edgekit.backend.onnxruntime.sensitivity import WEIGHTED_ONNX

        return self.node_types.get(layer) in WEIGHTED_ONNX

    def op_type(self, layer: str) -> str:
        return self.node_types.get(layer, "?")

    def layer_errors(self, path: Path, layers: Sequence[str]) -> dict[str, float]:
        from edgekit.backend.onnxruntime.sensitivity import sqnr_drop, tensor_sqnr

        return sqnr_drop(self, list(layers), tensor_sqnr(self, path, self.calibration[:SQNR_IMAGES], self.work))

    def refused(self, message: str, layers: Sequence[str]) -> list[str]:
        return []  # ONNX Runtime runs every QDQ node it is given

    def label(self, layer: str) -> str:
        return layer


def make_quantizer(ex: Any) -> QdqQuantizer | None:
    """The export's ONNX quantizer: when the target has an int8 section and deploys ONNX (ONNX Runtime, or the
    QDQ file TensorRT builds from); None otherwise."""
    from edgekit.backend.formats import by_name

    if ex.target.int8 is None or ex.target.runtime not in by_name("onnx").runtimes:
        return None
    return QdqQuantizer(ex.folder / "model.onnx", ex.spec, ex.int8, ex.work / "qdq", ex.calibration.calib.tensors,
                        activations_for(ex.target))
