"""Drawn faces with exact labels: the 68 iBUG points are the 3D mean face rotated by a known pose and projected
with ``edgekit.runtime.pose.project_points`` (the camera ``pose_from_landmarks`` assumes), so always-on tests and
training smoke tests need no real data and can recover the drawn pose."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edgekit.atomic import atomic_write_bytes, atomic_write_text
from edgekit.data.readers import format_pts
from edgekit.runtime.facemodel import MEAN_FACE_68_3D
from edgekit.runtime.pose import project_points

_SHIFT = 4  # cv2 drawing with 4 fractional bits: sub-pixel accurate features
_FOREHEAD_LIFT = np.array([0.0, -38.0, 8.0])  # mm: brows moved up and back outline the forehead


def _px(points: np.ndarray) -> np.ndarray:
    """(N, 2) float pixels -> int32 points in cv2's fixed-point ``shift`` units."""
    return np.round(points * (1 << _SHIFT)).astype(np.int32)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """(size, size, 3) uint8: a random colour gradient with mild noise."""
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)
    a, b = rng.uniform(30, 220, 3), rng.uniform(30, 220, 3)
    grad = ramp[:, None, None] * a + (1 - ramp[:, None, None]) * b  # (size, 1, 3) vertical gradient
    image = np.broadcast_to(grad, (size, size, 3)) + rng.normal(0, 6, (size, size, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def _draw_features(image: np.ndarray, pts: np.ndarray, head: np.ndarray, rng: np.random.Generator) -> None:
    """Paint a face on ``image`` in place from its (68, 2) landmarks and its head outline points."""
    skin = tuple(float(v) for v in rng.uniform([60, 90, 140], [140, 170, 230]))
    dark = tuple(0.45 * c for c in skin)
    aa = cv2.LINE_AA
    cv2.fillConvexPoly(image, _px(cv2.convexHull(head.astype(np.float32)).reshape(-1, 2)), skin, aa, _SHIFT)
    cv2.polylines(image, [_px(pts[0:17])], False, dark, 2, aa, _SHIFT)  # jaw line
    for brow in (pts[17:22], pts[22:27]):
        cv2.polylines(image, [_px(brow)], False, (40, 40, 50), 3, aa, _SHIFT)
    for eye in (pts[36:42], pts[42:48]):
        cv2.fillPoly(image, [_px(eye)], (245, 245, 245), aa, _SHIFT)
        centre = eye.mean(axis=0)
        radius = 0.22 * np.linalg.norm(eye[3] - eye[0])
        cv2.circle(image, tuple(_px(centre)), int(radius * (1 << _SHIFT)), (60, 40, 20), -1, aa, _SHIFT)
        cv2.polylines(image, [_px(eye)], True, (30, 30, 30), 1, aa, _SHIFT)
    cv2.polylines(image, [_px(pts[27:31])], False, dark, 2, aa, _SHIFT)  # nose bridge
    cv2.polylines(image, [_px(pts[31:36])], False, dark, 2, aa, _SHIFT)  # nose base
    cv2.fillPoly(image, [_px(pts[48:60])], (70, 70, 170), aa, _SHIFT)  # lips
    cv2.fillPoly(image, [_px(pts[60:68])], (40, 30, 60), aa, _SHIFT)  # mouth opening


def draw_face(rng: np.random.Generator, size: int = 256, yaw: float = 0.0, pitch: float = 0.0,
              roll: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A drawn face at a known pose.

    Returns the BGR uint8 image (size, size, 3), its (68, 2) float32 iBUG landmarks in image pixels, and the
    (3,) float32 pose (yaw, pitch, roll degrees, AFLW2000 convention). ``rng`` varies colours, the head's
    distance (face about half the image wide) and a small offset from the image centre.
    """
    distance = rng.uniform(280.0, 330.0)  # mm; focal = size px, so the 145 mm wide face spans ~0.47 size
    centre = (size - 1) / 2 + rng.uniform(-0.04, 0.04, 2) * size
    project = lambda p: project_points(p, yaw, pitch, roll, (size, size), distance=distance, centre=tuple(centre))
    landmarks = project(MEAN_FACE_68_3D)
    forehead = project(MEAN_FACE_68_3D[17:27] + _FOREHEAD_LIFT)
    image = _background(rng, size)
    _draw_features(image, landmarks, np.concatenate([landmarks[:17], forehead]), rng)
    return image, landmarks.astype(np.float32), np.array([yaw, pitch, roll], dtype=np.float32)


def random_pose(rng: np.random.Generator, max_yaw: float = 40.0, max_pitch: float = 20.0,
                max_roll: float = 20.0) -> tuple[float, float, float]:
    return tuple(float(v) for v in rng.uniform(-1, 1, 3) * (max_yaw, max_pitch, max_roll))


def write_synthetic_folder(folder: str | Path, n: int, rng: np.random.Generator, size: int = 256) -> list[Path]:
    """Write ``n`` random-pose faces as ``face_NNNN.jpg`` + ``face_NNNN.pts`` (iBUG header); returns the images."""
    folder = Path(folder)
    paths = []
    for i in range(n):
        image, landmarks, _ = draw_face(rng, size, *random_pose(rng))
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        assert ok, "OpenCV could not encode a JPEG"
        image_path = atomic_write_bytes(folder / f"face_{i:04d}.jpg", jpeg.tobytes())
        atomic_write_text(image_path.with_suffix(".pts"), format_pts(landmarks))
        paths.append(image_path)
    return paths
