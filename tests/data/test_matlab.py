"""MATLAB readers on hostile files: variables of the wrong type and corrupt streams are one DataError."""
from __future__ import annotations

import io

import numpy as np
import pytest
import scipy.io

from edgekit.data.matlab import MAX_FACE_MAT_BYTES, mat_shapes, read_300wlp_mat, read_aflw2000_mat, read_cofw_mat
from edgekit.errors import DataError

PT3D = np.vstack([np.random.default_rng(0).uniform(10, 100, (2, 68)), np.zeros((1, 68))])
POSE = np.array([[0.1, -0.2, 0.05, 0, 0, 0, 1.0]])


def _save(path, variables, compress=False):
    scipy.io.savemat(path, variables, do_compression=compress)
    return path


@pytest.mark.parametrize("pose, kind", [("abcdefg", "text"), ("1234567", "text"), ({"yaw": 1.0}, "a struct"),
                                        (POSE + 1j, "complex numbers")])
def test_pose_para_of_the_wrong_type(tmp_path, pose, kind):
    path = _save(tmp_path / "face.mat", {"pt3d_68": PT3D, "Pose_Para": pose})
    with pytest.raises(DataError, match=f"'Pose_Para' holds {kind}, expected numbers"):
        read_aflw2000_mat(path)


def test_300wlp_roi_and_cofw_images_of_the_wrong_type(tmp_path):
    roi = _save(tmp_path / "roi.mat", {"pt2d": PT3D[:2], "Pose_Para": POSE, "roi": "abcd"})
    with pytest.raises(DataError, match="'roi' holds text"):
        read_300wlp_mat(roi)
    images = np.empty((1, 1), dtype=object)
    images[0, 0] = np.full((8, 8), 0.5)
    cofw = _save(tmp_path / "cofw.mat", {"IsT": images, "phisT": np.zeros((1, 87))})
    with pytest.raises(DataError, match="face 0: image is float64 \\(8, 8\\), expected uint8"):
        read_cofw_mat(cofw)


def test_corrupt_streams(tmp_path):
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"pt3d_68": PT3D, "Pose_Para": POSE}, do_compression=True)
    data = buffer.getvalue()
    body = data.index(b"x\x9c")  # the first zlib stream
    broken = data[: body + 40] + bytes(b ^ 0x5A for b in data[body + 40: body + 90]) + data[body + 90:]
    cases = {"zlib.mat": broken, "cut.mat": data[: body + 60], "half.mat": data[: len(data) // 2],
             "noise.mat": np.random.default_rng(1).integers(0, 256, 2000, np.uint8).tobytes()}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        for read in (read_aflw2000_mat, read_300wlp_mat, read_cofw_mat, mat_shapes):
            try:
                read(tmp_path / name)
            except DataError as exc:
                assert exc.path == str(tmp_path / name)
    for name, message in (("zlib.mat", "corrupt compressed data"), ("cut.mat", "truncated or corrupt file")):
        with pytest.raises(DataError, match=message):
            read_aflw2000_mat(tmp_path / name)


def test_a_face_file_too_large_to_be_one(tmp_path):
    path = _save(tmp_path / "face.mat", {"pt3d_68": PT3D, "Pose_Para": POSE})
    with open(path, "r+b") as f:
        f.truncate(MAX_FACE_MAT_BYTES + 1)  # sparse
    with pytest.raises(DataError, match="too large for one face's .mat file"):
        read_aflw2000_mat(path)
