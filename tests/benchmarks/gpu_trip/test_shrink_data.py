"""benchmarks/gpu_trip/shrink_data.py: smaller images, same names, points and poses that still match them."""
from __future__ import annotations

import sys
import tarfile

import cv2
import numpy as np
import scipy.io as sio

from edgekit.data.readers import read_pts_points
from edgekit.data.synthetic import write_synthetic_folder
from edgekit.paths import PROJECT_DIR

sys.path.insert(0, str(PROJECT_DIR / "benchmarks" / "gpu_trip"))
from shrink_data import POSE_SIZE, main, pose_crop_matrix, resized_points  # noqa: E402


def test_resized_points_map_pixel_centres():
    points = np.array([[-0.5, -0.5], [319.5, 319.5], [159.5, 0.0]])
    assert np.allclose(resized_points(points, 0.7), [[-0.5, -0.5], [223.5, 223.5], [111.5, -0.15]])


def test_pose_crop_centres_the_landmark_box_at_its_margin():
    xy = np.array([[100.0, 300.0, 200.0], [150.0, 250.0, 400.0]])  # box 200 x 250, centre (200, 275)
    matrix = pose_crop_matrix(xy)
    moved = matrix[:, :2] @ xy + matrix[:, 2:]
    assert np.allclose((moved.min(1) + moved.max(1)) / 2, POSE_SIZE / 2)
    assert np.isclose((moved.max(1) - moved.min(1)).max(), POSE_SIZE / 1.8)


def write_aflw_like(folder, rng):
    """Two 450x450 photos with AFLW2000-3D .mat files (pt3d_68, pt2d with one invisible point, Pose_Para)."""
    folder.mkdir(parents=True)
    for k in range(2):
        cv2.imwrite(str(folder / f"image{k:05d}.jpg"), rng.integers(0, 255, (450, 450, 3), dtype=np.uint8))
        pt3d = np.vstack([rng.uniform(150, 300, (2, 68)), rng.uniform(-50, 50, (1, 68))])
        pt2d = rng.uniform(150, 300, (2, 21))
        pt2d[:, 3] = -1
        sio.savemat(str(folder / f"image{k:05d}.mat"),
                    {"Pose_Para": np.array([[0.1, -0.2, 0.3, 1, 2, 3, 0.001]]), "pt3d_68": pt3d, "pt2d": pt2d})


def test_shrinks_both_sets_into_one_archive_with_the_same_names(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "data"
    write_synthetic_folder(data / "300w-train", 2, rng, size=320)
    write_aflw_like(data / "aflw2000" / "dev", rng)
    assert main(["--out", str(tmp_path / "out"), "--data", str(data), "--pose"]) == 0
    with tarfile.open(tmp_path / "out" / "data.tgz") as tar:
        tar.extractall(tmp_path / "x", filter="data")
    faces = sorted(p.name for p in (tmp_path / "x" / "300w-train").iterdir())
    assert faces == sorted(p.name for p in (data / "300w-train").iterdir())
    pts = next((data / "300w-train").glob("*.pts"))
    assert cv2.imread(str(tmp_path / "x" / "300w-train" / pts.with_suffix(".jpg").name)).shape == (224, 224, 3)
    assert np.allclose(read_pts_points(tmp_path / "x" / "300w-train" / pts.name),
                       resized_points(read_pts_points(pts), 0.7), atol=1e-3)
    before = sio.loadmat(str(data / "aflw2000" / "dev" / "image00001.mat"))
    after = sio.loadmat(str(tmp_path / "x" / "aflw2000" / "dev" / "image00001.mat"))
    assert np.array_equal(after["Pose_Para"], before["Pose_Para"])
    assert np.allclose(after["pt2d"][:, 3], -1)  # invisible stays invisible
    assert cv2.imread(str(tmp_path / "x" / "aflw2000" / "dev" / "image00001.jpg")).shape == (POSE_SIZE, POSE_SIZE, 3)


def test_an_existing_out_folder_is_refused(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--data", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip() == f"shrink_data.py: error: {tmp_path}: exists; give a new folder"



def test_a_broken_image_is_one_line_and_writes_nothing(tmp_path, capsys):
    faces = tmp_path / "data" / "300w-train"
    write_synthetic_folder(faces, 1, np.random.default_rng(0), size=320)
    broken = next(faces.glob("*.jpg"))
    broken.write_bytes(b"not a jpeg")
    assert main(["--out", str(tmp_path / "out"), "--data", str(tmp_path / "data")]) == 1
    unreadable = "not an image edgekit reads (JPEG, PNG, BMP, PNM, TIFF or WebP)"
    assert capsys.readouterr().err.strip() == f"shrink_data.py: error: {broken}: {unreadable}"
    assert not (tmp_path / "out").exists()
