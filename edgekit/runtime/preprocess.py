"""Face box -> crop -> model tensor, and the exact inverse map. The single crop implementation of edgekit:
training, evaluation, calibration and deployment all call these functions.

Points are (x, y) pixels with pixel centres at integer coordinates (OpenCV's warpAffine rule). A square box of
side ``s`` centred at (cx, cy) covers [cx - s/2, cx + s/2]; it maps onto the crop's [-0.5, W - 0.5] x [-0.5, H - 0.5],
so the box centre lands on ((W - 1) / 2, (H - 1) / 2). Outside the image the crop is black (BORDER_CONSTANT 0):
padding with a constant does not invent texture that a landmark model could lock on to.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import cv2
import numpy as np

from edgekit.errors import DataError
from edgekit.specs import PreprocessSpec


class Box(NamedTuple):
    """A square face box in image pixels."""

    cx: float
    cy: float
    side: float


def box_from_landmarks(points: np.ndarray, spec: PreprocessSpec) -> Box:
    """Square box around the finite points of (N, 2): bbox centre, side = max(w, h) x landmark_box_scale."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    finite = points[np.isfinite(points).all(axis=1)]
    if len(finite) == 0:
        raise DataError("no finite landmark to build a face box from")
    lo, hi = finite.min(axis=0), finite.max(axis=0)
    side = float(max(hi - lo)) * spec.landmark_box_scale
    if side <= 0:
        raise DataError("landmarks span zero pixels, cannot build a face box")
    centre = (lo + hi) / 2
    return Box(float(centre[0]), float(centre[1]), side)


def box_from_detection(x0: float, y0: float, x1: float, y1: float, spec: PreprocessSpec) -> Box:
    """Square box from a detector's corners: side = max(w, h) x detector_box_scale, centre moved down by
    detector_box_shift_y x that (scaled) side, because detector boxes sit high on the face."""
    side = max(x1 - x0, y1 - y0) * spec.detector_box_scale
    if not side > 0:
        raise DataError(f"empty detection box ({x0}, {y0}, {x1}, {y1})")
    return Box((x0 + x1) / 2, (y0 + y1) / 2 + spec.detector_box_shift_y * side, float(side))


def detection_from_box(box: Box, spec: PreprocessSpec) -> tuple[float, float, float, float]:
    """The square detector corners (x0, y0, x1, y1) that ``box_from_detection`` turns into ``box``: the one box
    format users see (``predict --box``, JSON, ``Face.box``)."""
    side = box.side / spec.detector_box_scale
    cx, cy = box.cx, box.cy - spec.detector_box_shift_y * box.side
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def crop_matrix(box: Box, spec: PreprocessSpec, rotation_deg: float = 0.0, flip: bool = False) -> np.ndarray:
    """(2, 3) float64 affine image -> crop pixels.

    ``rotation_deg`` rotates the crop content counter-clockwise on screen about the box centre (the sense of
    cv2.getRotationMatrix2D); ``flip`` then mirrors the crop horizontally (x' = W - 1 - x).
    """
    width, height = spec.input_size
    angle = np.deg2rad(rotation_deg)
    cos, sin = np.cos(angle), np.sin(angle)
    rotate = np.array([[cos, sin], [-sin, cos]])  # y points down, so this turns content counter-clockwise
    scale = np.diag([width / box.side, height / box.side])  # square box -> possibly non-square crop
    linear = scale @ rotate
    centre_crop = np.array([(width - 1) / 2, (height - 1) / 2])
    shift = centre_crop - linear @ np.array([box.cx, box.cy])
    matrix = np.hstack([linear, shift[:, None]])
    if flip:
        matrix = np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0]]) @ np.vstack([matrix, [0, 0, 1]])
    return matrix


def as_bgr(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 BGR from a BGR, single-channel (H, W) / (H, W, 1) or BGRA image."""
    if image.dtype != np.uint8:
        raise DataError(f"images must be uint8, got {image.dtype}")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise DataError(f"an image must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got shape {image.shape}")


def to_color(crop_bgr: np.ndarray, color: str) -> np.ndarray:
    """(H, W, 3) BGR -> (H, W, C) in ``color`` order (C = 1 for GRAY)."""
    if color == "RGB":
        return cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2RGB)
    if color == "GRAY":
        return cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2GRAY)[:, :, None]
    return crop_bgr


def _area_prescale(image: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For 'area' interpolation: shrink the image with INTER_AREA first (anti-aliasing), fold the resize into M."""
    factor = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))  # crop px per image px
    if factor >= 1.0:
        return image, matrix
    height, width = image.shape[:2]
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    fx, fy = size[0] / width, size[1] / height
    # resize maps x -> (x + 0.5) * f - 0.5; M must now start from the small image
    small_to_image = np.array([[1 / fx, 0, 0.5 / fx - 0.5], [0, 1 / fy, 0.5 / fy - 0.5], [0, 0, 1]])
    return small, matrix @ small_to_image


def warp(image_bgr: np.ndarray, matrix: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """The crop: uint8 (H, W, C) in ``spec.color`` order; black outside the image."""
    image = as_bgr(image_bgr)
    matrix = np.asarray(matrix, dtype=np.float64)
    if spec.interpolation == "area":
        image, matrix = _area_prescale(image, matrix)
    crop = cv2.warpAffine(image, matrix, tuple(spec.input_size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return to_color(crop, spec.color)


def normalize(crop: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """uint8 (H, W, C) -> float32 (pixel / 255 - mean) / std, (C, H, W) for NCHW or (H, W, C) for NHWC.

    As pixel * scale + offset per channel, on channel planes made while the values are still uint8: one in-place
    multiply and add over contiguous planes, ~10x faster than broadcasting over a last axis of 3 (a training
    cost per face)."""
    crop = crop.reshape(crop.shape[0], crop.shape[1], -1)
    std = np.asarray(spec.std, dtype=np.float64)
    scale = (1.0 / (255.0 * std)).astype(np.float32)[:, None, None]  # (C, 1, 1)
    offset = (-np.asarray(spec.mean, dtype=np.float64) / std).astype(np.float32)[:, None, None]
    planes = np.ascontiguousarray(crop.transpose(2, 0, 1)).astype(np.float32)  # (C, H, W)
    planes *= scale
    planes += offset
    return planes if spec.layout == "NCHW" else np.ascontiguousarray(planes.transpose(1, 2, 0))


def preprocess(image_bgr: np.ndarray, box: Box, spec: PreprocessSpec) -> tuple[np.ndarray, np.ndarray]:
    """One face -> (model tensor without batch axis, (2, 3) image->crop matrix)."""
    matrix = crop_matrix(box, spec)
    return normalize(warp(image_bgr, matrix, spec), spec), matrix


def preprocess_batch(images: Sequence[np.ndarray], boxes: Sequence[Box],
                     spec: PreprocessSpec) -> tuple[np.ndarray, np.ndarray]:
    """Faces -> (batch (B, ...) float32, matrices (B, 2, 3) float64). One image per box."""
    if len(images) != len(boxes):
        raise DataError(f"{len(images)} images but {len(boxes)} boxes")
    pairs = [preprocess(image, box, spec) for image, box in zip(images, boxes)]
    if not pairs:
        width, height = spec.input_size
        shape = (0, spec.channels, height, width) if spec.layout == "NCHW" else (0, height, width, spec.channels)
        return np.zeros(shape, np.float32), np.zeros((0, 2, 3))
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def apply_affine(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Map (..., N, 2) points (or one (2,) point) with a (2, 3) or batched (..., 2, 3) affine. NaN stays NaN."""
    points = np.asarray(points, dtype=np.float64)
    matrix = np.asarray(matrix, dtype=np.float64)
    if points.ndim == 1:
        return apply_affine(points[None], matrix)[0]
    return np.einsum("...ij,...nj->...ni", matrix[..., :2], points) + matrix[..., None, :, 2]


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a (2, 3) or batched (..., 2, 3) affine."""
    matrix = np.asarray(matrix, dtype=np.float64)
    linear_inv = np.linalg.inv(matrix[..., :2])
    shift = -np.einsum("...ij,...j->...i", linear_inv, matrix[..., 2])
    return np.concatenate([linear_inv, shift[..., None]], axis=-1)


def to_image(points_crop: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Crop pixels -> image pixels: the exact inverse of the crop ``matrix``."""
    return apply_affine(points_crop, invert_affine(matrix))
