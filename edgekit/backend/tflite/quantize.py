"""ai-edge-quantizer variants of an FP32 .tflite: FP16 weights, dynamic-range INT8 and full-integer INT8 (int8
I/O), calibrated min/max like ONNX Runtime's MinMax or clipped to a percentile of each activation's values like
its Percentile (the TFLite counterpart of ``edgekit.backend.onnxruntime.quantize``).

ai-edge-quantizer pulls JAX (seconds to import): imported inside the functions."""
from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from edgekit.atomic import atomic_write_bytes
from edgekit.backend.tflite.loader import quiet, rewrite_model, silence_logs
from edgekit.checks import Quantization
from edgekit.errors import SpecError
from edgekit.progress import progress
from edgekit.specs import Int8Section, ModelSpec

SIGNATURE = "serving_default"
INPUT_NAME = "args_0"  # litert-torch's name for forward()'s first argument
INTEGER_TYPES = {2: np.int32, 4: np.int64, 7: np.int16, 9: np.int8}  # TFLite TensorType -> numpy
PERCENTILE_SAMPLES = 1 << 18  # values per tensor the percentile is taken over (sampled evenly over the images)
SQNR_IMAGES = 8  # calibration images the per-layer SQNR is measured on
WEIGHTED_TFLITE = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL",
                             "CONV_2D_TRANSPOSE"})
METHOD_NOTES = {"entropy": "ai-edge-quantizer has no entropy calibration: min/max ranges"}


def quantize_tflite(fp32_path: Path, path: Path, precision: str, calibration: np.ndarray | None = None) -> Path:
    """ai-edge-quantizer on an FP32 file. ``precision``: 'fp16' (FP16 weights), 'dynamic_int8' (int8 weights,
    float activations), 'int8' (static int8 weights and activations, int8 I/O; needs ``calibration``: the float
    batch (N, ...) in the FP32 file's input layout, fed one image at a time)."""
    if precision == "int8":
        return TfliteInt8Quantizer(fp32_path, calibration).quantize(path)  # min/max, per channel
    silence_logs()
    with quiet():
        from ai_edge_quantizer import quantizer, recipe
        from ai_edge_quantizer.algorithm_manager import AlgorithmName

    tool = quantizer.Quantizer(str(fp32_path))
    if precision == "fp16":
        tool.add_weight_only_config(regex=".*", operation_name=recipe.TFLOperationName.ALL_SUPPORTED,
                                    num_bits=16, algorithm_key=AlgorithmName.FLOAT_CASTING)
    elif precision == "dynamic_int8":
        tool.load_quantization_recipe(recipe.dynamic_wi8_afp32())
    else:
        raise SpecError(f"unknown TFLite precision '{precision}' (fp16, dynamic_int8, int8)")
    with quiet():
        quantized = tool.quantize(None, enable_progress_bar=False, enable_progress_report=False)
    return atomic_write_bytes(path, bytes(quantized.quantized_model))


class TfliteInt8Quantizer:
    """The ``Quantizer`` of LiteRT: full-integer INT8 (int8 weights and activations, int8 I/O) of one FP32 file;
    calibrates once, then ``quantize`` may be called many times with different layers left in float. A layer is
    ``"OP tensor"`` (``sensitivity.layer_name``).

    ``int8``: the target's section, honoured as ONNX Runtime's quantizer does: ``method`` minmax (each
    activation's min/max over the calibration set), percentile (its range clipped to that two-sided percentile
    of its values, 99.9: 0.05 % cut on each side, never wider than min/max; entropy has no counterpart here:
    min/max), ``per_channel`` weights (else per tensor). ``spec``: embedded in every file written."""

    suffix = ".tflite"

    def __init__(self, fp32_path: Path, calibration: np.ndarray | None, int8: Int8Section | None = None,
                 spec: ModelSpec | None = None):
        if calibration is None or len(calibration) == 0:
            raise SpecError("full-integer TFLite needs calibration tensors (never random data)")
        silence_logs()
        self.int8 = int8 or Int8Section()
        self.fp32_path, self.calibration, self.spec = Path(fp32_path), calibration, spec
        self.percentile = self.int8.percentile if self.int8.method == "percentile" else None
        self.recipe = static_recipe(self.int8.per_channel)
        self.notes = "spec in TFLite metadata"
        self._ranges = None
        self._measured: dict = {}  # 'minmax' ranges, 'samples', 'inputs' of every layer: shared by with_percentile

    def with_percentile(self, percentile: float) -> "TfliteInt8Quantizer":
        """The same file and calibration images with Percentile ranges (the recalibration fallback); the min/max
        pass and the sampled activations are measured once for all of them."""
        other = copy.copy(self)
        other.percentile, other._ranges = percentile, None
        return other

    def ranges(self) -> dict:
        """{tensor name: {'min', 'max'}} (computed on the first call)."""
        if self._ranges is None:
            if "minmax" not in self._measured:
                with quiet():
                    self._measured["minmax"] = calibrate_min_max(self.fp32_path, self.recipe, self.calibration)
            self._ranges = self._measured["minmax"]
            if self.percentile is not None:
                if "samples" not in self._measured:
                    self._measured["samples"] = sample_values(self.fp32_path, self.calibration)
                self._ranges = clip_to_percentile(self._ranges, self._measured["samples"], self.percentile)
        return self._ranges

    def quantize(self, path: Path, float_layers: Sequence[str] = ()) -> Path:
        """Writes the INT8 file (the spec embedded when given); ``float_layers``: ``"OP tensor"`` layers kept in
        float, with (de)quantize ops around them."""
        from edgekit.backend.tflite.loader import embed_spec
        from edgekit.backend.tflite.sensitivity import split_layer

        ranges = self.ranges()
        entries = [_float_entry(*split_layer(layer)) for layer in float_layers]
        with quiet():
            from ai_edge_quantizer import quantizer

            tool = quantizer.Quantizer(str(self.fp32_path))
            tool.load_quantization_recipe(self.recipe + entries)
            quantized = tool.quantize(ranges, enable_progress_bar=False, enable_progress_report=False)
        atomic_write_bytes(path, bytes(quantized.quantized_model))
        rewrite_model(path, flatten_per_axis_vectors)
        if self.spec is not None and not embed_spec(path, self.spec):
            self.notes = "spec in the manifest only"
        return path

    def record(self) -> Quantization:
        return Quantization("ai-edge-quantizer", self.int8.method, self.percentile, self.int8.per_channel, "int8",
                            "int8", "TFLite full integer", "int32", len(self.calibration),
                            METHOD_NOTES.get(self.int8.method, ""))

    # ------------------------------------------------------------------ the layer fallback's questions

    def layers(self, path: Path) -> list[str]:
        from edgekit.backend.tflite.sensitivity import quantized_layers

        layers, self._measured["inputs"] = quantized_layers(path)
        return layers

    def weighted(self, layer: str) -> bool:
        return self.op_type(layer) in WEIGHTED_TFLITE

    def op_type(self, layer: str) -> str:
        return layer.split(" ", 1)[0]

    def layer_errors(self, path: Path, layers: Sequence[str]) -> dict[str, float]:
        from edgekit.backend.tflite.sensitivity import sqnr_drop, tensor_sqnr

        sqnr = tensor_sqnr(self.fp32_path, path, self.calibration[:SQNR_IMAGES])
        return sqnr_drop(list(layers), self._measured["inputs"], sqnr)

    def refused(self, message: str, layers: Sequence[str]) -> list[str]:
        """An op type whose integer kernel LiteRT refuses on some input (a quantized DIV whose divisor rounds to
        its zero point) stays in float everywhere: the file has to run on every face, not just these."""
        from edgekit.backend.tflite.sensitivity import quantizer_op

        match = re.search(r"\(([A-Z0-9_]+)\) failed to invoke", message)
        op = quantizer_op(match.group(1)) if match else None
        return [layer for layer in layers if self.op_type(layer) == op]

    def label(self, layer: str) -> str:
        from edgekit.backend.tflite.sensitivity import short_name

        return short_name(layer)


def static_recipe(per_channel: bool) -> list:
    """ai-edge-quantizer's ``static_wi8_ai8`` recipe (min/max, int8 activations asymmetric, weights symmetric),
    with per-channel or per-tensor weights."""
    with quiet():
        from ai_edge_quantizer import qtyping, recipe_manager
        from ai_edge_quantizer.algorithm_manager import AlgorithmName

    manager = recipe_manager.RecipeManager()
    granularity = qtyping.QuantGranularity.CHANNELWISE if per_channel else qtyping.QuantGranularity.TENSORWISE
    manager.add_static_config(".*", qtyping.TFLOperationName.ALL_SUPPORTED, 8, 8, granularity,
                              AlgorithmName.MIN_MAX_UNIFORM_QUANT)
    return manager.get_quantization_recipe()


def make_quantizer(ex: Any, base: Path, layout: str) -> TfliteInt8Quantizer:
    """The export's TFLite quantizer on the FP32 file ``base`` (calibration transposed to its ``layout``)."""
    from edgekit.backend.base import to_layout

    calibration = to_layout(ex.calibration.calib.tensors, ex.spec.preprocess.layout, layout)
    return TfliteInt8Quantizer(base, calibration, ex.int8, ex.spec)


def _float_entry(op_name: str, tensor: str) -> dict:
    """A recipe entry leaving the ``op_name`` op whose output is ``tensor`` in float. An op's scope is its output
    names joined by ';'; entries later than the '*' one override it."""
    from ai_edge_quantizer import recipe
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    return {"regex": f"(^|;){re.escape(tensor)}($|;)", "operation": recipe.TFLOperationName(op_name),
            "algorithm_key": AlgorithmName.NO_QUANTIZE}


def flatten_per_axis_vectors(model) -> None:
    """Repair per-axis quantized vectors whose quantized dimension is not the one holding the channels.

    litert-torch gives TRANSPOSE_CONV a (1, 1, 1, C) bias (BatchNorm folded in). ai-edge-quantizer 0.10 quantizes
    it along dimension 0 (size 1) with C scales, broadcasting: it stores C x C int32 values, entry [i, c] = bias[c] /
    scale[i], and LiteRT 2.3 refuses the file ("num_scales must be 1 ..., but got 64"). The right values are the
    diagonal (bias[c] / scale[c]); the tensor becomes the (C,) vector the kernel reads."""
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            params = tensor.quantization
            scales = 0 if params is None or params.scale is None else len(params.scale)
            shape = [int(d) for d in tensor.shape] if tensor.shape is not None else []
            if scales > 1 and shape and shape[params.quantizedDimension] != scales and np.prod(shape) == scales:
                buffer = model.buffers[tensor.buffer]
                values = np.asarray(buffer.data, np.uint8).view(INTEGER_TYPES[tensor.type])
                if values.size == scales * scales:
                    values = np.ascontiguousarray(np.diagonal(values.reshape(scales, scales)))
                buffer.data = values.view(np.uint8)
                tensor.shape = np.array([scales], np.int32)
                params.quantizedDimension = 0


def calibrate_min_max(fp32_path: Path, quantization_recipe: list, calibration: np.ndarray) -> dict:
    """{tensor name: {min, max}} over every calibration image: the global range, like ONNX Runtime's MinMax.

    ``Quantizer.calibrate`` merges the per-image ranges with a moving average (weight 0.95 on the past): fed one
    image at a time, a range ends up near a typical image's range, not the set's, and the int8 input and output
    clip (PFLD: the landmark output range [-0.05, 1.06] became [0, 0.94], landmarks near the crop border were
    cut off, tens of pixels of error). ``calibration``: (N, ...) float32 in the file's input layout."""
    from ai_edge_quantizer import calibrator, recipe_manager
    from ai_edge_quantizer.utils import qsv_utils

    manager = recipe_manager.RecipeManager()
    manager.load_quantization_recipe(quantization_recipe)
    tool = calibrator.Calibrator(Path(fp32_path).read_bytes(), num_threads=1,
                                 qsv_update_func=qsv_utils.min_max_update)
    samples = [{INPUT_NAME: image[None].astype(np.float32)} for image in calibration]
    tool.calibrate({SIGNATURE: samples}, manager)
    return tool.get_model_qsvs()


def clip_to_percentile(ranges: dict, samples: dict[str, np.ndarray], percentile: float) -> dict:
    """``ranges`` with every activation's [min, max] narrowed to the (100 - p) / 2 and (100 + p) / 2 percentiles
    of its ``samples`` (``sample_values``; ONNX Runtime's asymmetric Percentile), still holding 0. The input keeps
    its full range: it is the exact preprocessed image, and clipping it loses real pixels."""
    clipped = {}
    for name, qsv in ranges.items():
        if name not in samples or "min" not in qsv:
            clipped[name] = qsv
            continue
        low, high = np.percentile(samples[name], [(100.0 - percentile) / 2, (100.0 + percentile) / 2])
        clipped[name] = {**qsv, "min": np.maximum(qsv["min"], min(low, 0.0)).astype(np.float32),
                         "max": np.minimum(qsv["max"], max(high, 0.0)).astype(np.float32)}
    return clipped


def sample_values(fp32_path: Path, calibration: np.ndarray) -> dict[str, np.ndarray]:
    """{tensor name: its finite values} from LiteRT runs of the FP32 file over ``calibration`` (every tensor kept
    but the input), sampled at the same fixed positions in every image, PERCENTILE_SAMPLES per tensor at most."""
    from edgekit.backend.tflite.sensitivity import all_tensors, open_all_tensors

    interpreter = open_all_tensors(fp32_path)
    graph_input = interpreter.get_input_details()[0]["name"]
    rng = np.random.default_rng(0)
    picks: dict[str, np.ndarray] = {}
    samples: dict[str, list[np.ndarray]] = {}
    per_image = max(PERCENTILE_SAMPLES // len(calibration), 1)
    for image in progress(calibration, "calibration ranges", unit="image"):
        for name, value in (all_tensors(interpreter, image) or {}).items():
            if name == graph_input:
                continue
            flat = value.reshape(-1)
            if name not in picks:
                picks[name] = rng.choice(flat.size, per_image) if flat.size > per_image else np.arange(flat.size)
            samples.setdefault(name, []).append(flat[picks[name]])
    values = {name: np.concatenate(parts) for name, parts in samples.items()}
    finite = {name: v[np.isfinite(v)] for name, v in values.items()}  # an inf (x / 0 on some face) has no percentile
    return {name: v for name, v in finite.items() if v.size}
