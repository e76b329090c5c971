"""Head pose from 2D landmarks with cv2.solvePnP against a generic 3D face, in the AFLW2000 convention.

Camera: focal = image width (unless given), principal point = image centre, no distortion.
Angles are (yaw, pitch, roll) in degrees, AFLW2000 / 3DDFA convention (``Pose_Para`` = pitch, yaw, roll radians):
with R the model->camera rotation in edgekit's camera frame (x right, y down, z forward), the same rotation
in 3DDFA's frame (y up, z toward the viewer) is D R D, D = diag(1, -1, -1), and 3DDFA writes it as
Rx(pitch) Ry(yaw) Rz(roll) with its own (transposed) elementary matrices.
"""
from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

from edgekit.errors import DataError
from edgekit.runtime.facemodel import MEAN_FACE_14_3D, MEAN_FACE_14_IDX, MEAN_FACE_68_3D

_FLIP_YZ = np.diag([1.0, -1.0, -1.0])  # edgekit camera frame <-> 3DDFA frame


def camera_matrix(image_size: tuple[int, int], focal: float | None = None) -> np.ndarray:
    """(3, 3) pinhole intrinsics: focal = image width by default, principal point at the image centre."""
    width, height = image_size
    f = float(width if focal is None else focal)
    return np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1]], dtype=np.float64)


def rotation_from_angles(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """(3, 3) model->camera rotation (edgekit camera frame) for AFLW2000 angles in degrees."""
    x, y, z = np.deg2rad([pitch, yaw, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(x), np.sin(x)], [0, -np.sin(x), np.cos(x)]])
    ry = np.array([[np.cos(y), 0, -np.sin(y)], [0, 1, 0], [np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(z), np.sin(z), 0], [-np.sin(z), np.cos(z), 0], [0, 0, 1]])
    return _FLIP_YZ @ (rx @ ry @ rz) @ _FLIP_YZ


def angles_from_rotation(rotation: np.ndarray) -> np.ndarray:
    """(3,) yaw, pitch, roll degrees from a model->camera rotation (inverse of ``rotation_from_angles``)."""
    r = _FLIP_YZ @ np.asarray(rotation, dtype=np.float64) @ _FLIP_YZ
    # r = Rx(p) Ry(y) Rz(z) with 3DDFA's matrices: r[0, 2] = -sin(yaw), r[1, 2] / r[2, 2] = tan(pitch) ...
    yaw = np.arcsin(np.clip(-r[0, 2], -1.0, 1.0))
    pitch = np.arctan2(r[1, 2], r[2, 2])
    roll = np.arctan2(r[0, 1], r[0, 0])
    return np.rad2deg([yaw, pitch, roll])


def _model_points(model: str) -> tuple[np.ndarray, list[int] | slice]:
    if model == "68":
        return MEAN_FACE_68_3D, slice(None)
    if model == "14":
        return MEAN_FACE_14_3D, list(MEAN_FACE_14_IDX)
    raise ValueError(f"model must be '68' or '14', got {model!r}")


def pose_from_landmarks(landmarks: np.ndarray, image_size: tuple[int, int], model: Literal["68", "14"] = "68",
                        focal: float | None = None) -> np.ndarray:
    """(68, 2) iBUG-68 image points -> (3,) float64 yaw, pitch, roll degrees (AFLW2000 convention).

    NaN points are left out of the fit; at least 6 finite model points are needed."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.shape != (68, 2):
        raise DataError(f"pose from landmarks needs (68, 2) iBUG-68 points, got shape {landmarks.shape}")
    object_points, rows = _model_points(model)
    image_points = landmarks[rows]
    keep = np.isfinite(image_points).all(axis=1)
    if keep.sum() < 6:
        raise DataError(f"only {int(keep.sum())} finite landmarks, solvePnP needs 6")
    # SQPNP is globally optimal with the head in front of the camera; the default ITERATIVE (DLT start) lands
    # on a mirrored solution behind the camera for 131 of 189 AFLW2000 dev faces. LM then polishes it.
    objects = np.ascontiguousarray(object_points[keep])
    images = np.ascontiguousarray(image_points[keep])
    camera, no_distortion = camera_matrix(image_size, focal), np.zeros(4)
    try:
        ok, rvec, tvec = cv2.solvePnP(objects, images, camera, no_distortion, flags=cv2.SOLVEPNP_SQPNP)
        if ok:
            rvec, tvec = cv2.solvePnPRefineLM(objects, images, camera, no_distortion, rvec, tvec)
    except cv2.error:  # SQPNP asserts on (nearly) coincident points, e.g. a collapsed prediction
        ok = False
    if not ok:
        raise DataError("solvePnP found no pose for these landmarks")
    return angles_from_rotation(cv2.Rodrigues(rvec)[0])


def project_points(points3d: np.ndarray, yaw: float, pitch: float, roll: float,
                   image_size: tuple[int, int] = (256, 256), focal: float | None = None,
                   distance: float = 600.0, centre: tuple[float, float] | None = None) -> np.ndarray:
    """(N, 3) model points (facemodel axes, mm) -> (N, 2) image pixels for a head at AFLW2000 angles (degrees),
    ``distance`` mm in front of the camera. ``centre`` (image px) moves the head so its origin projects there
    (default: the principal point)."""
    camera = camera_matrix(image_size, focal)
    rotated = np.asarray(points3d, dtype=np.float64) @ rotation_from_angles(yaw, pitch, roll).T
    target = camera[:2, 2] if centre is None else np.asarray(centre, dtype=np.float64)
    # origin at depth `distance` that projects onto `target`
    offset = np.array([*((target - camera[:2, 2]) * distance / camera[0, 0]), distance])
    camera_points = rotated + offset
    return camera_points[:, :2] / camera_points[:, 2:] * camera[0, 0] + camera[:2, 2]
