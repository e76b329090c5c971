"""The specs that travel with every model and artifact. Frozen dataclasses; YAML/JSON is only their serialization.

Conventions (every module relies on them):
- Image points are (x, y) in pixels, 0-based, pixel centres at integer coordinates (OpenCV's warpAffine rule).
- A face box is a square (cx, cy, side) in image pixels; the crop maps it onto ``input_size``.
- Normalization: ``x = (pixel / 255 - mean) / std`` per channel, in the channel order of ``color``.
- Models output raw tensors (logits, heatmaps, offsets) named by ``HeadSpec.outputs``; every nonlinearity of a
  decode (softmax over bins, SSR's softmax/tanh, soft-argmax) runs on the host in numpy, in float32, so INT8
  files never quantize a decode-sensitive tail.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from edgekit import serial

Color = Literal["RGB", "BGR", "GRAY"]
Layout = Literal["NCHW", "NHWC"]
Decode = Literal[
    "regression",         # landmarks: (B, 2N) in [0, 1] crop units; pose: (B, 3) degrees yaw, pitch, roll
    "heatmap_argmax",     # (B, N, H, W) heatmaps, argmax + quarter-pixel shift toward the higher neighbour
    "soft_argmax",        # (B, N, H, W) global soft-argmax with temperature beta
    "local_soft_argmax",  # (B, N, H, W) soft-argmax in a (2r+1)^2 window around the peak
    "pip",                # score (B,N,h,w), offset x/y (B,N,h,w), neighbour x/y (B,N*nb,h,w)
    "bins",               # (B, 3, num_bins) logits; angle = width * sum(p_i * i) + start
    "ssr",                # p logits (B,K,3,s), eta (B,K,3,s), delta (B,K,3); SSR stagewise regression
]


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
    # defaults make the default (Haar) detector's box frame the face as the landmark box does: on 221 real faces
    # (AFLW2000, YouTube-Faces) the landmark side is 0.88 x the Haar side (median) and its centre 0.15 Haar sides
    # lower, so 0.88 x 1.2 = 1.06 and 0.15 / 1.06 = 0.14.
    detector_box_scale: float = 1.06
    detector_box_shift_y: float = 0.14
    interpolation: Literal["linear", "area"] = "linear"

    def __post_init__(self) -> None:
        if min(self.input_size) <= 0:
            raise ValueError(f"input_size must be positive, got {self.input_size}")
        channels = 1 if self.color == "GRAY" else 3
        if len(self.mean) != channels or len(self.std) != channels:
            raise ValueError(f"mean and std need {channels} values for color {self.color}")
        if any(s <= 0 for s in self.std):
            raise ValueError("std values must be positive")
        if self.landmark_box_scale <= 0 or self.detector_box_scale <= 0:
            raise ValueError("box scales must be positive")

    @property
    def channels(self) -> int:
        return 1 if self.color == "GRAY" else 3


@dataclass(frozen=True)
class HeadSpec:
    """What the model outputs and how those outputs decode into landmarks or angles."""

    output: Literal["landmarks", "pose"]
    decode: Decode
    outputs: tuple[str, ...]  # output tensor names, in forward() order (also the ONNX output names)
    num_points: int = 0  # landmarks per face (landmark heads)
    # heatmap decodes
    heatmap_stride: int = 4  # input pixels per heatmap cell
    soft_argmax_beta: float = 1.0
    local_radius: int = 2
    # PIP decode; meanface and neighbours belong to the spec so no side file is needed
    pip_stride: int = 32
    num_neighbors: int = 10
    meanface: tuple[float, ...] = ()  # 2N values, x0 y0 x1 y1 ..., in [0, 1] crop units
    neighbors: tuple[tuple[int, ...], ...] = ()  # N rows of num_neighbors landmark indices
    # bins decode (Hopenet: 66 bins of 3 degrees, angle = 3 * sum(p_i * i) - 99)
    num_bins: int = 66
    bin_width: float = 3.0
    bin_start: float = -99.0
    # SSR decode (FSA-Net, SSR-Net): stages s_k, range V, lambda for the scale term
    ssr_stages: tuple[int, ...] = (3, 3, 3)
    ssr_range: float = 99.0
    ssr_lambda: float = 1.0

    def __post_init__(self) -> None:
        if self.output == "landmarks" and self.num_points <= 0:
            raise ValueError("a landmark head needs num_points > 0")
        if self.decode == "pip":
            if len(self.meanface) != 2 * self.num_points:
                raise ValueError(f"meanface needs {2 * self.num_points} values, has {len(self.meanface)}")
            if len(self.neighbors) != self.num_points:
                raise ValueError(f"neighbors needs {self.num_points} rows, has {len(self.neighbors)}")
            if any(len(row) != self.num_neighbors for row in self.neighbors):
                raise ValueError(f"every neighbors row needs {self.num_neighbors} indices")


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to turn an image into an answer with this model, minus the weights."""

    name: str
    task: Literal["landmarks", "pose"]
    preprocess: PreprocessSpec
    head: HeadSpec
    scheme: str = "ibug68"  # landmark scheme of the outputs (landmark models) or of the box source (pose)
    description: str = ""

    def to_dict(self) -> dict:
        return serial.to_dict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelSpec":
        return serial.from_dict(cls, data, "model")


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
    select: Literal["int8", "fastest_within_budget"] = "int8"

    def __post_init__(self) -> None:
        if not all(0 < p <= 100 for p in (self.percentile, *self.recalibrate)):
            raise ValueError("percentiles must be in (0, 100]")


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


@dataclass(frozen=True)
class JetsonSection:
    device: str  # e.g. "Jetson Orin Nano"
    jetpack: str  # e.g. "6.1"
    compute_capability: str  # e.g. "8.7"
    deepstream: bool = True  # write an nvinfer config beside the ONNX


@dataclass(frozen=True)
class Target:
    name: str
    runtime: Literal["onnxruntime", "tflite", "tensorrt"]
    description: str = ""
    onnx: OnnxSection = field(default_factory=OnnxSection)
    int8: Int8Section | None = None
    tflite: TfliteSection | None = None
    tensorrt: TensorrtSection | None = None
    jetson: JetsonSection | None = None

    def __post_init__(self) -> None:
        if self.runtime == "tflite" and self.tflite is None:
            raise ValueError("a tflite target needs a 'tflite' section")
        if self.runtime == "tensorrt" and self.tensorrt is None:
            raise ValueError("a tensorrt target needs a 'tensorrt' section")


def load_target(path_or_name: str) -> Target:
    """A target from a YAML path, or by name from ``./targets`` or the project's ``targets/`` folder."""
    from edgekit.errors import SpecError
    from edgekit.paths import find_target

    path = find_target(path_or_name)
    target = serial.load_yaml(Target, path)
    if target.name != path.stem:
        raise SpecError(f"target name '{target.name}' does not match the file name '{path.stem}'", path)
    return target
