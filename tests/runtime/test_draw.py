"""Overlays carry the angles as text: yaw / pitch / roll on a dark band above the face box."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgekit.runtime.draw import draw_faces, pose_label


@dataclass(frozen=True)
class Face:
    box: tuple[float, ...]
    landmarks: np.ndarray | None
    pose: np.ndarray | None


def test_label_text():
    assert pose_label(np.array([12.4, -3.6, 0.2])) == "yaw +12  pitch -4  roll +0"


def test_the_label_band_sits_above_the_box_only_with_a_pose():
    image = np.full((300, 300, 3), 128, np.uint8)
    box = (100.0, 120.0, 220.0, 240.0)  # x0, y0, x1, y1
    plain = draw_faces(image, [Face(box, None, None)])
    labelled = draw_faces(image, [Face(box, None, np.array([20.0, -5.0, 3.0]))])
    above = (slice(0, 118), slice(0, 300))  # everything above the box's top edge
    assert (plain[above] == 128).all()  # nothing above the box without a pose
    rows = np.nonzero((labelled[above] != 128).any(axis=(1, 2)))[0]
    assert 100 <= rows.min() and rows.max() == 117  # a band of text height just above the box
    band = labelled[rows.min():118, 100:280]
    assert (band == 32).all(axis=-1).mean() > 0.5 and (band > 200).all(axis=-1).sum() > 20  # dark band, white text
    assert (image == 128).all()  # the input is not drawn on
