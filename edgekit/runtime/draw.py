"""Overlays for people: landmarks, the square face box and head-pose axes drawn on the image."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def write_overlay(out: Path, image: np.ndarray, prediction) -> Path:
    """Points, the square face box and pose axes (x red, y green, facing direction blue), written atomically."""
    import cv2

    from edgekit.atomic import atomic_write_bytes
    from edgekit.errors import EdgekitError

    canvas = draw_overlay(image, prediction)
    ok, encoded = cv2.imencode(out.suffix or ".png", canvas)
    if not ok:
        raise EdgekitError(f"cannot encode an image as '{out.suffix}' (use .png or .jpg)", out)
    try:
        return atomic_write_bytes(out, encoded.tobytes())
    except OSError as exc:
        raise EdgekitError(f"cannot write the overlay ({exc.strerror})", out) from None


def draw_overlay(image: np.ndarray, prediction) -> np.ndarray:
    import cv2

    from edgekit.runtime.pose import rotation_from_angles

    canvas = image.copy()
    cx, cy, side = prediction.box
    thickness = max(1, round(side / 150))
    cv2.rectangle(canvas, (round(cx - side / 2), round(cy - side / 2)), (round(cx + side / 2), round(cy + side / 2)),
                  (0, 255, 255), thickness)
    points = prediction.landmarks
    if points is not None:
        for x, y in points[np.isfinite(points).all(axis=1)]:
            cv2.circle(canvas, (round(x), round(y)), thickness + 1, (0, 255, 0), -1, cv2.LINE_AA)
    if prediction.pose is not None:
        rotation = rotation_from_angles(*prediction.pose)
        origin = np.array([cx, cy])
        # model axes: x right, y down, -z toward the viewer (the face's facing direction); orthographic
        for axis, colour in (((1, 0, 0), (0, 0, 255)), ((0, 1, 0), (0, 255, 0)), ((0, 0, -1), (255, 0, 0))):
            tip = origin + (rotation @ np.array(axis, dtype=np.float64))[:2] * side / 2
            cv2.arrowedLine(canvas, tuple(np.round(origin).astype(int)), tuple(np.round(tip).astype(int)), colour,
                            thickness + 1, cv2.LINE_AA, tipLength=0.15)
    return canvas
