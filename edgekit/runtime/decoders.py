"""The built-in rows of the decoder table (``edgekit.heads``): per kind, the numpy decode of edgekit.runtime.decode,
its torch twin in edgekit.models.decode_torch, the per-image shape of every output, and the task.

Every numpy decode here takes (float32 outputs in ``HeadSpec.outputs`` order, params, input size (w, h)) and
returns (B, N, 2) crop pixels or (B, 3) degrees yaw, pitch, roll.
"""
from __future__ import annotations

import numpy as np

from edgekit.errors import SpecError
from edgekit.heads import (BinsParams, Decoder, HeatmapParams, InputSize, PipParams, PoseRegressionParams,
                           RegressionParams, Shape, SsrParams, register_decoder)
from edgekit.runtime.decode import (bins, heatmap_argmax, heatmap_dark, heatmap_to_crop, local_soft_argmax, pip,
                                    regression_landmarks, soft_argmax, ssr)

TORCH = "edgekit.models.decode_torch"


def cells(pixels: int, stride: int) -> int:
    """Output cells along an input side of ``pixels``: stride-2 convolutions with padding round up."""
    return -(-pixels // stride)


def _regression(tensors: list[np.ndarray], params: RegressionParams, input_size: InputSize | None) -> np.ndarray:
    if input_size is None:
        raise SpecError("regression landmarks need the crop input_size to decode")
    return regression_landmarks(tensors[0], input_size)


def _pose_regression(tensors: list[np.ndarray], params: PoseRegressionParams, input_size: InputSize | None
                     ) -> np.ndarray:
    return tensors[0].reshape(len(tensors[0]), 3)


def _heatmap_argmax(tensors: list[np.ndarray], params: HeatmapParams, input_size: InputSize | None) -> np.ndarray:
    return heatmap_to_crop(heatmap_argmax(tensors[0]), params.stride)


def _heatmap_dark(tensors: list[np.ndarray], params: HeatmapParams, input_size: InputSize | None) -> np.ndarray:
    return heatmap_to_crop(heatmap_dark(tensors[0], params.sigma), params.stride)


def _soft_argmax(tensors: list[np.ndarray], params: HeatmapParams, input_size: InputSize | None) -> np.ndarray:
    return heatmap_to_crop(soft_argmax(tensors[0], params.beta), params.stride)


def _local_soft_argmax(tensors: list[np.ndarray], params: HeatmapParams, input_size: InputSize | None
                       ) -> np.ndarray:
    cells_found = local_soft_argmax(tensors[0], params.beta, params.radius)
    return heatmap_to_crop(cells_found, params.stride)


def _pip(tensors: list[np.ndarray], params: PipParams, input_size: InputSize | None) -> np.ndarray:
    return pip(*tensors, params.stride, params.neighbors)


def _bins(tensors: list[np.ndarray], params: BinsParams, input_size: InputSize | None) -> np.ndarray:
    return bins(tensors[0], params.width, params.start)


def _ssr(tensors: list[np.ndarray], params: SsrParams, input_size: InputSize | None) -> np.ndarray:
    return ssr(*tensors, params.stages, params.value_range, params.lam)


def _heatmap_shapes(params: HeatmapParams, input_size: InputSize) -> list[Shape]:
    width, height = input_size
    return [(params.num_points, cells(height, params.stride), cells(width, params.stride))]


def _pip_shapes(params: PipParams, input_size: InputSize) -> list[Shape]:
    width, height = input_size
    grid = (cells(height, params.stride), cells(width, params.stride))
    return [(params.num_points, *grid)] * 3 + [(params.num_points * params.num_neighbors, *grid)] * 2


def _ssr_shapes(params: SsrParams, input_size: InputSize) -> list[Shape]:
    stages, size = len(params.stages), params.stages[0]
    return [(stages, 3, size), (stages, 3, size), (stages, 3)]


HEATMAP_DECODES = {"heatmap_argmax": (_heatmap_argmax, f"{TORCH}:heatmap_argmax"),
                   "heatmap_dark": (_heatmap_dark, f"{TORCH}:heatmap_dark"),
                   "soft_argmax": (_soft_argmax, None), "local_soft_argmax": (_local_soft_argmax, None)}
BUILT_IN = (
    Decoder("regression", "landmarks", RegressionParams, ("points",), _regression,
            lambda params, size: [(2 * params.num_points,)], f"{TORCH}:regression"),
    Decoder("pose_regression", "pose", PoseRegressionParams, ("angles",), _pose_regression,
            lambda params, size: [(3,)], f"{TORCH}:pose_regression"),
    *(Decoder(kind, "landmarks", HeatmapParams, ("heatmaps",), numpy, _heatmap_shapes, torch)
      for kind, (numpy, torch) in HEATMAP_DECODES.items()),
    Decoder("pip", "landmarks", PipParams, ("score", "offset_x", "offset_y", "nb_x", "nb_y"), _pip, _pip_shapes,
            f"{TORCH}:pip"),
    Decoder("bins", "pose", BinsParams, ("logits",), _bins, lambda params, size: [(3, params.count)],
            f"{TORCH}:bins"),
    Decoder("ssr", "pose", SsrParams, ("p", "eta", "delta"), _ssr, _ssr_shapes, f"{TORCH}:ssr"),
)
for _decoder in BUILT_IN:
    register_decoder(_decoder)
