"""Joint augmentation of a face image, its landmarks and its head pose.

Geometry is ONE affine, ``crop_matrix(box scaled and shifted, spec, rotation, flip)``, so the crop, the landmarks
and the pose always agree; photometric changes run on the crop afterwards. Every random number is drawn once per
sample in ``JointAugment.sample`` (a fixed number of draws, so a seed reproduces a whole epoch).

Pose under the geometry (camera frame x right, y down, z forward): turning the crop content counter-clockwise
by t on screen is a camera rotation Rz(-t) about the optical axis, so the new pose is the AFLW2000 angles of
Rz(-t) R(yaw, pitch, roll) -- for a frontal face exactly roll - t. A horizontal flip negates yaw and roll.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edgekit.errors import SpecError
from edgekit.runtime.pose import angles_from_rotation, rotation_from_angles
from edgekit.runtime.preprocess import Box, apply_affine, crop_matrix, warp
from edgekit.specs import PreprocessSpec

_LUMA_RGB = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class AugmentConfig:
    rotation_deg: float = 30.0  # uniform in [-r, r]
    scale: tuple[float, float] = (0.85, 1.15)  # box side multiplier (> 1 zooms out)
    shift: float = 0.08  # box centre shift, uniform in [-s, s] x box side, per axis
    flip_p: float = 0.5
    brightness: float = 0.3  # factors uniform in [1 - b, 1 + b]
    contrast: float = 0.3
    saturation: float = 0.3
    blur_p: float = 0.2  # Gaussian blur, sigma uniform in blur_sigma
    occlusion_p: float = 0.3  # one random-colour rectangle, each side occlusion_size x crop side
    downscale_p: float = 0.0  # low resolution: shrink by downscale_factor, then back up
    grayscale_p: float = 0.05
    blur_sigma: tuple[float, float] = (0.3, 1.5)
    occlusion_size: tuple[float, float] = (0.1, 0.4)
    downscale_factor: tuple[float, float] = (0.25, 0.75)


@dataclass(frozen=True)
class AugParams:
    """Every random draw of one sample. The defaults are the identity."""

    rotation_deg: float = 0.0
    scale: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)  # fractions of the box side
    flip: bool = False
    brightness: float = 1.0
    contrast: float = 1.0
    saturation: float = 1.0
    grayscale: bool = False
    blur_sigma: float = 0.0  # 0 = no blur
    downscale: float = 1.0  # 1 = keep the resolution
    occlusion: tuple[float, float, float, float] | None = None  # x0, y0, w, h as fractions of the crop
    occlusion_color: tuple[float, float, float] = (0.0, 0.0, 0.0)  # 0..255 per channel


class JointAugment:
    def __init__(self, config: AugmentConfig = AugmentConfig(), flip_perm: tuple[int, ...] | None = None):
        self.config = config
        self.flip_perm = None if flip_perm is None else np.asarray(flip_perm, dtype=np.int64)

    def sample(self, rng: np.random.Generator) -> AugParams:
        """Draw one sample's parameters: always the same 19 draws, in the same order."""
        c = self.config
        u = rng.uniform(size=19)

        def spread(value: float, width: float) -> float:  # value in [0, 1) -> 1 +- width
            return float(1.0 + width * (2 * value - 1))

        occlusion = (u[11], u[12], *(c.occlusion_size[0] + u[13:15] * np.ptp(c.occlusion_size)))
        return AugParams(
            rotation_deg=float(c.rotation_deg * (2 * u[0] - 1)),
            scale=float(c.scale[0] + u[1] * (c.scale[1] - c.scale[0])),
            shift=(float(c.shift * (2 * u[2] - 1)), float(c.shift * (2 * u[3] - 1))),
            flip=bool(u[4] < c.flip_p),
            brightness=spread(u[5], c.brightness), contrast=spread(u[6], c.contrast),
            saturation=spread(u[7], c.saturation), grayscale=bool(u[8] < c.grayscale_p),
            blur_sigma=float(c.blur_sigma[0] + u[10] * np.ptp(c.blur_sigma)) if u[9] < c.blur_p else 0.0,
            downscale=float(c.downscale_factor[0] + u[18] * np.ptp(c.downscale_factor))
            if u[17] < c.downscale_p else 1.0,
            occlusion=tuple(float(v) for v in occlusion) if u[15] < c.occlusion_p else None,
            occlusion_color=tuple(float(v) for v in rng.uniform(0, 255, size=3)),
        )

    def matrix(self, box: Box, spec: PreprocessSpec, params: AugParams) -> np.ndarray:
        """(2, 3) image -> augmented crop affine."""
        moved = Box(box.cx + params.shift[0] * box.side, box.cy + params.shift[1] * box.side, box.side * params.scale)
        return crop_matrix(moved, spec, params.rotation_deg, params.flip)

    def __call__(self, image_bgr: np.ndarray, box: Box, spec: PreprocessSpec, landmarks: np.ndarray | None,
                 pose: np.ndarray | None, params: AugParams) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """-> (crop uint8 (H, W, C) in spec.color, landmarks (N, 2) in crop px | None, (3,) pose degrees | None)."""
        matrix = self.matrix(box, spec, params)
        crop = photometric(warp(image_bgr, matrix, spec), spec.color, params)
        return crop, self.landmarks(landmarks, matrix, params), augment_pose(pose, params)

    def landmarks(self, points: np.ndarray | None, matrix: np.ndarray, params: AugParams) -> np.ndarray | None:
        if points is None:
            return None
        moved = apply_affine(np.asarray(points, dtype=np.float64), matrix).astype(np.float32)
        if not params.flip:
            return moved
        if self.flip_perm is None or len(self.flip_perm) != len(moved):
            raise SpecError(f"flipping {len(moved)} landmarks needs their scheme's flip permutation")
        return moved[self.flip_perm]  # the point now on the left is the old right-side partner


def augment_pose(pose: np.ndarray | None, params: AugParams) -> np.ndarray | None:
    """(3,) yaw, pitch, roll degrees after the in-plane rotation and the flip of ``params``."""
    if pose is None:
        return None
    yaw, pitch, roll = np.asarray(pose, dtype=np.float64)
    if params.rotation_deg:
        t = np.deg2rad(params.rotation_deg)
        camera_roll = np.array([[np.cos(t), np.sin(t), 0], [-np.sin(t), np.cos(t), 0], [0, 0, 1]])  # Rz(-t)
        yaw, pitch, roll = angles_from_rotation(camera_roll @ rotation_from_angles(yaw, pitch, roll))
    if params.flip:
        yaw, roll = -yaw, -roll
    return np.array([yaw, pitch, roll], dtype=np.float32)


def _gray(image: np.ndarray, color: str) -> np.ndarray:
    """(H, W, 3) float32 -> (H, W, 1) luma, whatever the channel order."""
    weights = _LUMA_RGB if color == "RGB" else _LUMA_RGB[::-1]
    return image @ weights[:, None]


def photometric(crop: np.ndarray, color: str, params: AugParams) -> np.ndarray:
    """Brightness, contrast, saturation, grayscale, low resolution, blur, occlusion on a uint8 (H, W, C) crop."""
    image = crop.astype(np.float32)
    colour = image.shape[2] == 3
    image = image * params.brightness
    luma = _gray(image, color) if colour else image
    image = (image - luma.mean()) * params.contrast + luma.mean()
    if colour:
        luma = _gray(image, color)
        image = luma + (image - luma) * params.saturation
        if params.grayscale:
            image = np.repeat(_gray(image, color), 3, axis=2)
    image = np.clip(image, 0, 255)
    height, width = image.shape[:2]
    if params.downscale < 1.0:
        small = (max(1, round(width * params.downscale)), max(1, round(height * params.downscale)))
        image = cv2.resize(cv2.resize(image, small, interpolation=cv2.INTER_AREA), (width, height),
                           interpolation=cv2.INTER_LINEAR).reshape(height, width, -1)
    if params.blur_sigma > 0:
        image = cv2.GaussianBlur(image, (0, 0), params.blur_sigma).reshape(height, width, -1)
    if params.occlusion is not None:
        x0, y0, w, h = params.occlusion
        left, top = int(x0 * width), int(y0 * height)
        image[top:top + max(1, int(h * height)), left:left + max(1, int(w * width))] = \
            params.occlusion_color[:image.shape[2]] if colour else np.mean(params.occlusion_color)
    return np.round(image).astype(np.uint8)
