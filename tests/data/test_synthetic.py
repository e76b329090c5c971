"""Synthetic faces: exact labels, recoverable pose, drawn features where the labels say."""
from __future__ import annotations

import numpy as np
import pytest

from edgekit.data.readers import read_pts_points
from edgekit.data.synthetic import draw_face, random_pose, write_synthetic_folder
from edgekit.runtime.pose import pose_from_landmarks


@pytest.mark.parametrize("pose", [(0, 0, 0), (30, -10, 5), (-40, 20, -15), (10, 15, 25)])
def test_pose_is_recovered_from_the_drawn_landmarks(pose):
    image, landmarks, label = draw_face(np.random.default_rng(3), 256, *pose)
    assert image.shape == (256, 256, 3) and image.dtype == np.uint8
    assert landmarks.shape == (68, 2) and landmarks.dtype == np.float32
    np.testing.assert_allclose(label, pose)
    np.testing.assert_allclose(pose_from_landmarks(landmarks, (256, 256)), pose, atol=0.05)
    assert (landmarks > 0).all() and (landmarks < 255).all()


def test_frontal_face_geometry_and_drawing():
    image, landmarks, _ = draw_face(np.random.default_rng(0), 256)
    assert landmarks[36, 0] < landmarks[45, 0]  # image-left eye corner first (iBUG)
    assert landmarks[8, 1] > landmarks[57, 1] > landmarks[30, 1] > landmarks[27, 1] > landmarks[19, 1]
    face_width = landmarks[16, 0] - landmarks[0, 0]
    assert 0.4 * 256 < face_width < 0.6 * 256
    pupil = np.round(landmarks[36:42].mean(0)).astype(int)
    mouth = np.round(landmarks[60:68].mean(0)).astype(int)
    assert image[pupil[1], pupil[0]].max() < 90  # dark iris at the eye centre
    assert image[mouth[1], mouth[0]].max() < 90  # dark mouth opening


def test_same_seed_same_face():
    a = draw_face(np.random.default_rng(7), 128, 5, 5, 5)
    b = draw_face(np.random.default_rng(7), 128, 5, 5, 5)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_write_synthetic_folder(tmp_path):
    paths = write_synthetic_folder(tmp_path / "faces", 3, np.random.default_rng(0), size=128)
    assert [p.name for p in paths] == ["face_0000.jpg", "face_0001.jpg", "face_0002.jpg"]
    for path in paths:
        points = read_pts_points(path.with_suffix(".pts"))
        assert points.shape == (68, 2) and (points > 0).all() and (points < 127).all()
    first = read_pts_points(paths[0].with_suffix(".pts"))
    rng = np.random.default_rng(0)
    # the folder's first face is draw_face after one random_pose draw from the same generator
    _, expected, _ = draw_face(rng, 128, *random_pose(rng))
    np.testing.assert_allclose(first, expected, atol=1e-5)
