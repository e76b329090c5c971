"""The specs that travel with every model and artifact. Frozen dataclasses; YAML/JSON is only their serialization.

Conventions (every module relies on them):
- Image points are (x, y) in pixels, 0-based, pixel centres at integer coordinates (OpenCV's warpAffine rule).
- A face box is a square (cx, cy, side) in image pixels; the crop maps it onto ``input_size``.
- Normalization: ``x = (pixel / 255 - mean) / std`` per channel, in the channel order of ``color``.
- Models output raw tensors (logits, heatmaps, offsets) named by ``HeadSpec.outputs`` (edgekit.heads, the decoder
  table); every nonlinearity of a decode (softmax over bins, SSR's softmax/tanh, soft-argmax) runs on the host in
  numpy, in float32, so INT8 files never quantize a decode-sensitive tail.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from edgekit import serial
from edgekit.errors import SpecError
from edgekit.heads import HeadSpec  # noqa: F401  (re-exported: a ModelSpec part, imported from here)
from edgekit.serial import check, finite

MAX_INPUT_SIDE = 4096  # pixels of the model input: the zoo's largest is 256
MAX_IMAGES = 4096  # calibration / parity / held-out images: every one is decoded into memory
ONNX_OPSETS = (13, 20)  # per-channel QDQ (ORT static INT8) needs 13; torch 2.13's exporter and the TensorRT
# parsers edgekit targets read up to 20 (toolchain notes, docs/TENSORRT.md)
MAX_WORKSPACE_MB = 1 << 20  # 1 TiB: far above any GPU
MAX_BATCH = 4096
MAX_SPEC_JSON = 1 << 20  # bytes of a spec embedded in a model file (a PIP spec with its meanface: ~10 KB)

Color = Literal["RGB", "BGR", "GRAY"]
Layout = Literal["NCHW", "NHWC"]


@dataclass(frozen=True)
class PreprocessSpec:
    """How an image and a face box become the model's input tensor."""

    input_size: tuple[int, int]  # (width, height) of the crop fed to the model
    color: Color = "RGB"
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)  # in [0, 1] units, per channel of ``color``
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    layout: Layout = "NCHW"
    landmark_box_scale: float = 1.2  # box from landmarks: square, side = max(w, h) of their bbox x this
    # Box from a detector: side = max(w, h) x detector_box_scale, centre moved down by shift x that side. The
    # defaults make the Haar cascade's box frame the face as the landmark box does: on 221 real faces (AFLW2000,
    # YouTube-Faces) the landmark side is 0.88 x the Haar side (median) and its centre 0.15 Haar sides lower, so
    # 0.88 x 1.2 = 1.06 and 0.15 / 1.06 = 0.14. The BlazeFace detectors (the default) give boxes in this convention
    # through their own fit (edgekit/runtime/detector_boxes.json, docs/DETECTORS.md).
    detector_box_scale: float = 1.06
    detector_box_shift_y: float = 0.14
    interpolation: Literal["linear", "area"] = "linear"

    def __post_init__(self) -> None:
        check(all(0 < side <= MAX_INPUT_SIDE for side in self.input_size), "input_size",
              f"be positive and at most {MAX_INPUT_SIDE}", self.input_size)
        channels = 1 if self.color == "GRAY" else 3
        if len(self.mean) != channels or len(self.std) != channels:
            raise ValueError(f"mean and std need {channels} values for color {self.color}")
        check(all(finite(m) for m in self.mean), "mean", "be finite", self.mean)
        check(all(finite(s) and s > 0 for s in self.std), "std", "be positive and finite", self.std)
        for key in ("landmark_box_scale", "detector_box_scale"):
            check(finite(getattr(self, key), 0.01, 100), key, "be in [0.01, 100]", getattr(self, key))
        check(finite(self.detector_box_shift_y, -1, 1), "detector_box_shift_y", "be in [-1, 1]",
              self.detector_box_shift_y)

    @property
    def channels(self) -> int:
        return 1 if self.color == "GRAY" else 3


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to turn an image into an answer with this model, minus the weights."""

    name: str
    task: Literal["landmarks", "pose"]
    preprocess: PreprocessSpec
    head: HeadSpec
    scheme: str = "ibug68"  # landmark scheme of the outputs (landmark models) or of the box source (pose)
    description: str = ""

    def __post_init__(self) -> None:
        check(self.task == self.head.task, "task", f"match the head's task ({self.head.task})", self.task)

    def to_dict(self) -> dict:
        return serial.to_dict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelSpec":
        return serial.from_dict(cls, data, "model")

    @classmethod
    def from_json(cls, text: str | bytes) -> "ModelSpec":
        """The spec embedded in a model file's metadata; SpecError for anything else (huge, not UTF-8, not JSON,
        too deep, wrong types)."""
        import json

        if len(text) > MAX_SPEC_JSON:
            raise SpecError(f"spec metadata of {len(text)} bytes (at most {MAX_SPEC_JSON})")
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:  # not JSON / UTF-8, a 5000-digit number, deep nesting
            raise SpecError(f"spec metadata is not valid JSON ({type(exc).__name__})") from None
        return cls.from_dict(data)


# ----------------------------------------------------------------------------- targets
# A target holds one section per format; each export stage reads only its own section.


@dataclass(frozen=True)
class OnnxSection:
    opset: int = 17  # accepted by ORT static quantization and TensorRT 8.5+
    dynamic_batch: bool = False
    simplify: Literal["onnxslim", "onnxsim", "none"] = "onnxslim"
    parity_max_px: float = 0.05  # max decoded landmark difference vs torch, image pixels
    parity_max_deg: float = 0.05  # max decoded angle difference vs torch
    parity_images: int = 16  # real faces used for the parity check

    def __post_init__(self) -> None:
        low, high = ONNX_OPSETS
        check(low <= self.opset <= high, "opset", f"be in {low}..{high}, what the exporter and ORT INT8 support",
              self.opset)
        for key in ("parity_max_px", "parity_max_deg"):
            check(finite(getattr(self, key), 0), key, "be finite and >= 0", getattr(self, key))
        check(1 <= self.parity_images <= MAX_IMAGES, "parity_images", f"be in [1, {MAX_IMAGES}]", self.parity_images)


@dataclass(frozen=True)
class Int8Section:
    method: Literal["minmax", "entropy", "percentile"] = "minmax"
    percentile: float = 99.999
    per_channel: bool = True
    calibration: str = "calibration/default.yaml"  # folder, glob or calibration YAML
    min_images: int = 32  # refuse to calibrate on fewer
    max_images: int = 256
    holdout_images: int = 32  # real images held back from calibration for the label-free gate
    budget_nme: float = 0.10  # allowed NME increase, percentage points
    budget_mae: float = 0.2  # allowed MAE increase, degrees
    recalibrate: tuple[float, ...] = (99.99, 99.9, 99.5)  # over budget: Percentile ranges tried first, in order
    fallback: bool = True  # then keep the most sensitive layers in float until the budget holds
    max_float_layers: int = 12

    def __post_init__(self) -> None:
        percentiles = (self.percentile, *self.recalibrate)
        check(all(finite(p) and 0 < p <= 100 for p in percentiles), "percentile and recalibrate", "be in (0, 100]",
              percentiles)
        check(1 <= self.min_images <= self.max_images <= MAX_IMAGES, "min_images and max_images",
              f"satisfy 1 <= min_images <= max_images <= {MAX_IMAGES}", (self.min_images, self.max_images))
        check(0 <= self.holdout_images <= MAX_IMAGES, "holdout_images", f"be in [0, {MAX_IMAGES}]",
              self.holdout_images)
        for key in ("budget_nme", "budget_mae"):  # negative: the INT8 file must beat FP32 (a strict gate)
            check(finite(getattr(self, key)), key, "be finite", getattr(self, key))
        check(0 <= self.max_float_layers <= 10_000, "max_float_layers", "be in [0, 10000]", self.max_float_layers)


@dataclass(frozen=True)
class TfliteSection:
    precisions: tuple[Literal["fp32", "fp16", "dynamic_int8", "int8"], ...] = ("fp32", "int8")
    layout: Layout = "NHWC"
    parity_max_px: float = 0.05
    parity_max_deg: float = 0.05


@dataclass(frozen=True)
class TensorrtSection:
    version: str = "10.3"  # TensorRT on the device: 8.5, 8.6, 10.x or 11.x (picks the API generation)
    precision: Literal["fp32", "fp16", "int8"] = "fp16"
    workspace_mb: int = 1024
    timing_cache: bool = True
    batch: tuple[int, int, int] = (1, 1, 1)  # min, opt, max of the optimization profile
    dla_core: int | None = None  # Xavier / Orin DLA; layers it cannot run fall back to the GPU
    gpu_fallback: bool = True
    version_compatible: bool = False
    builder_optimization_level: int | None = None

    def __post_init__(self) -> None:
        check(0 < self.workspace_mb <= MAX_WORKSPACE_MB, "workspace_mb", f"be in [1, {MAX_WORKSPACE_MB}]",
              self.workspace_mb)
        low, opt, high = self.batch
        check(1 <= low <= opt <= high <= MAX_BATCH, "batch", f"satisfy 1 <= min <= opt <= max <= {MAX_BATCH}",
              self.batch)
        check(self.dla_core is None or 0 <= self.dla_core <= 15, "dla_core", "be in [0, 15]", self.dla_core)


@dataclass(frozen=True)
class SelectSection:
    """Which file an artifact deploys by default, of those within the accuracy budget on the target's runtime:
    ``latency`` the fastest (an INT8 file slower than FP32 is never chosen), ``size`` the smallest."""

    prefer: Literal["latency", "size"] = "latency"


@dataclass(frozen=True)
class JetsonSection:
    device: str  # e.g. "Jetson Orin Nano"
    jetpack: str  # e.g. "6.1"
    compute_capability: str  # e.g. "8.7"
    deepstream: bool = True  # write an nvinfer config beside the ONNX


@dataclass(frozen=True)
class Target:
    name: str
    runtime: Literal["onnxruntime", "tflite", "tensorrt", "openvino"]
    description: str = ""
    onnx: OnnxSection = field(default_factory=OnnxSection)
    int8: Int8Section | None = None
    tflite: TfliteSection | None = None
    tensorrt: TensorrtSection | None = None
    jetson: JetsonSection | None = None
    select: SelectSection = field(default_factory=SelectSection)

    def __post_init__(self) -> None:
        if self.runtime == "tflite" and self.tflite is None:
            raise ValueError("a tflite target needs a 'tflite' section")
        if self.runtime == "tensorrt" and self.tensorrt is None:
            raise ValueError("a tensorrt target needs a 'tensorrt' section")


def load_target(path_or_name: str) -> Target:
    """A target from a YAML path, or by name from ``./targets`` or the project's ``targets/`` folder."""
    from edgekit.paths import find_target

    path = find_target(path_or_name)
    target = serial.load_yaml(Target, path)
    if target.name != path.stem:
        raise SpecError(f"target name {serial.excerpt(target.name)} does not match the file name "
                        f"'{path.stem}'", path)
    check_target(target, path)
    return target


def check_target(target: Target, where: str | Path | None = None) -> None:
    """SpecError naming ``where`` (the target file or the artifact holding it) when ``validate_target`` finds
    the sections inconsistent (TensorRT version, opset for it, DLA, JetPack)."""
    from edgekit.backend.tensorrt.targets import validate_target

    problems = validate_target(target)
    if problems:
        raise SpecError(f"target {target.name}: " + "; ".join(problems), where)
