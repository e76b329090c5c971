"""ai-edge-quantizer variants of an FP32 .tflite: FP16 weights, dynamic-range INT8 and full-integer INT8 (int8
I/O), calibrated min/max like ONNX Runtime's MinMax or clipped to a percentile of each activation's values like
its Percentile (the TFLite counterpart of ``edgekit.export.calibrate``).

ai-edge-quantizer pulls JAX (seconds to import): imported inside the functions."""
from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from edgekit.atomic import atomic_write_bytes
from edgekit.backend.tflite.loader import quiet, rewrite_model, silence_logs
from edgekit.errors import SpecError

SIGNATURE = "serving_default"
INPUT_NAME = "args_0"  # litert-torch's name for forward()'s first argument
INTEGER_TYPES = {2: np.int32, 4: np.int64, 7: np.int16, 9: np.int8}  # TFLite TensorType -> numpy
PERCENTILE_SAMPLES = 1 << 18  # values per tensor the percentile is taken over (sampled evenly over the images)


def quantize_tflite(fp32_path: Path, path: Path, precision: str, calibration: np.ndarray | None = None) -> Path:
    """ai-edge-quantizer on an FP32 file. ``precision``: 'fp16' (FP16 weights), 'dynamic_int8' (int8 weights,
    float activations), 'int8' (static int8 weights and activations, int8 I/O; needs ``calibration``: the float
    batch (N, ...) in the FP32 file's input layout, fed one image at a time)."""
    if precision == "int8":
        return TfliteInt8Quantizer(fp32_path, calibration).quantize(path)
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
    """Full-integer INT8 (``static_wi8_ai8``, int8 I/O) of one FP32 file; calibrates once, then ``quantize`` may be
    called many times with different layers left in float (the sensitivity fallback).

    ``percentile``: None = each activation's min/max over the calibration set; else its range is clipped to that
    two-sided percentile of its values (99.9: 0.05 % cut on each side), never wider than min/max."""

    def __init__(self, fp32_path: Path, calibration: np.ndarray | None, percentile: float | None = None):
        if calibration is None or len(calibration) == 0:
            raise SpecError("full-integer TFLite needs calibration tensors (never random data)")
        silence_logs()
        with quiet():
            from ai_edge_quantizer import recipe
        self.fp32_path, self.calibration, self.percentile = Path(fp32_path), calibration, percentile
        self.recipe = recipe.static_wi8_ai8()
        self._ranges = None
        self._measured: dict = {}  # 'minmax' ranges and 'samples' of every activation: shared by with_percentile

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

    def quantize(self, path: Path, float_layers: Sequence[tuple[str, str]] = ()) -> Path:
        """Writes the INT8 file; ``float_layers``: (TFLite op name, output tensor name) pairs kept in float, with
        (de)quantize ops around them."""
        ranges = self.ranges()
        with quiet():
            from ai_edge_quantizer import quantizer

            tool = quantizer.Quantizer(str(self.fp32_path))
            tool.load_quantization_recipe(self.recipe + [_float_entry(op, tensor) for op, tensor in float_layers])
            quantized = tool.quantize(ranges, enable_progress_bar=False, enable_progress_report=False)
        atomic_write_bytes(path, bytes(quantized.quantized_model))
        rewrite_model(path, flatten_per_axis_vectors)
        return path


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
    from edgekit.export.tflite_sensitivity import all_tensors, open_all_tensors

    interpreter = open_all_tensors(fp32_path)
    graph_input = interpreter.get_input_details()[0]["name"]
    rng = np.random.default_rng(0)
    picks: dict[str, np.ndarray] = {}
    samples: dict[str, list[np.ndarray]] = {}
    per_image = max(PERCENTILE_SAMPLES // len(calibration), 1)
    for image in calibration:
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
