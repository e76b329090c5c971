import numpy as np

from edgekit.data.schemes import get_scheme
from edgekit.runtime.facemodel import MEAN_FACE_14_3D, MEAN_FACE_14_IDX, MEAN_FACE_68_3D


def test_shapes_and_subset():
    assert MEAN_FACE_68_3D.shape == (68, 3) and MEAN_FACE_68_3D.dtype == np.float64
    assert MEAN_FACE_14_3D.shape == (14, 3) and len(set(MEAN_FACE_14_IDX)) == 14
    np.testing.assert_array_equal(MEAN_FACE_14_3D, MEAN_FACE_68_3D[list(MEAN_FACE_14_IDX)])
    assert not MEAN_FACE_68_3D.flags.writeable


def test_axes_are_camera_like():
    face = MEAN_FACE_68_3D
    assert face[36, 0] < 0 < face[45, 0]  # the subject's right eye is on the image left
    assert face[8, 1] > face[27, 1]  # y down: chin below the nose bridge
    assert face[30, 2] < face[0, 2] and face[30, 2] < face[16, 2]  # z away: nose tip nearer than the jaw ends


def test_mirror_symmetric_within_a_few_mm():
    perm = list(get_scheme("ibug68").flip_perm)
    mirrored = MEAN_FACE_68_3D[perm] * [-1, 1, 1]
    assert np.abs(mirrored - MEAN_FACE_68_3D).max() < 4.0
