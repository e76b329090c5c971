"""Overlays for people: landmarks, the face box, head-pose axes and a yaw / pitch / roll label drawn on the image."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def write_overlay(out: Path, image: np.ndarray, prediction) -> Path:
    """Points, the face box and pose axes (x red, y green, facing direction blue) with the angles written beside
    the box, written atomically. ``prediction``: a Prediction or a Face, or a list of them."""
    import cv2

    from edgekit.atomic import atomic_write_bytes
    from edgekit.errors import EdgekitError

    canvas = draw_faces(image, prediction if isinstance(prediction, list) else [prediction])
    ok, encoded = cv2.imencode(out.suffix or ".png", canvas)
    if not ok:
        raise EdgekitError(f"cannot encode an image as '{out.suffix}' (use .png or .jpg)", out)
    try:
        return atomic_write_bytes(out, encoded.tobytes())
    except OSError as exc:
        raise EdgekitError(f"cannot write the overlay ({exc.strerror})", out) from None


def draw_overlay(image: np.ndarray, prediction) -> np.ndarray:
    return draw_faces(image, [prediction])


def draw_faces(image: np.ndarray, faces) -> np.ndarray:
    """A copy of ``image`` with each face drawn: box, landmarks, pose axes and a yaw / pitch / roll label. A face
    has ``box`` (a square Box, or x0, y0, x1, y1 corners), ``landmarks`` (N, 2) or None, ``pose`` (3,) or None."""
    canvas = image.copy()
    for face in faces:
        _draw_face(canvas, face)
    return canvas


def square(box) -> tuple[float, float, float]:
    """(cx, cy, side) of a Box, or of corners x0, y0, x1, y1 (side: the longer one)."""
    if len(box) == 3:
        return tuple(box)
    x0, y0, x1, y1 = box
    return (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0)


def _draw_face(canvas: np.ndarray, face) -> None:
    import cv2

    cx, cy, side = square(face.box)
    thickness = max(1, round(side / 150))
    top_left, bottom_right = (round(cx - side / 2), round(cy - side / 2)), (round(cx + side / 2), round(cy + side / 2))
    cv2.rectangle(canvas, top_left, bottom_right, (0, 255, 255), thickness)
    if face.pose is not None:
        _draw_axes(canvas, np.array([cx, cy]), side, face.pose, thickness)
        _draw_label(canvas, pose_label(face.pose), (top_left[0], top_left[1] - 4 * thickness), side)
    points = face.landmarks  # drawn over the axes
    if points is not None:
        for x, y in points[np.isfinite(points).all(axis=1)]:
            cv2.circle(canvas, (round(x), round(y)), thickness + 1, (0, 255, 0), -1, cv2.LINE_AA)


def _draw_axes(canvas: np.ndarray, origin: np.ndarray, side: float, pose: np.ndarray, thickness: int) -> None:
    import cv2

    from edgekit.runtime.pose import rotation_from_angles

    rotation = rotation_from_angles(*pose)
    # model axes: x right, y down, -z toward the viewer (the face's facing direction); orthographic
    for axis, colour in (((1, 0, 0), (0, 0, 255)), ((0, 1, 0), (0, 255, 0)), ((0, 0, -1), (255, 0, 0))):
        tip = origin + (rotation @ np.array(axis, dtype=np.float64))[:2] * side / 2
        cv2.arrowedLine(canvas, tuple(np.round(origin).astype(int)), tuple(np.round(tip).astype(int)), colour,
                        thickness + 1, cv2.LINE_AA, tipLength=0.15)


def pose_label(pose: np.ndarray) -> str:
    yaw, pitch, roll = (float(a) for a in pose)
    return f"yaw {yaw:+.0f}  pitch {pitch:+.0f}  roll {roll:+.0f}"


def _draw_label(canvas: np.ndarray, text: str, corner: tuple[int, int], side: float) -> None:
    """White text on a dark band above the box (below its top edge when the box touches the image top)."""
    import cv2

    scale = float(np.clip(side / 300, 0.4, 1.2))
    (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    x, y = max(0, corner[0]), max(height + baseline, corner[1])
    cv2.rectangle(canvas, (x, y - height - baseline), (x + width, y + baseline), (32, 32, 32), -1)
    cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
