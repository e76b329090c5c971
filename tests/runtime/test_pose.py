import numpy as np
import pytest
import scipy.io

from edgekit.errors import DataError
from edgekit.runtime.facemodel import MEAN_FACE_14_3D, MEAN_FACE_68_3D
from edgekit.runtime.pose import angles_from_rotation, pose_from_landmarks, project_points, rotation_from_angles

POSES = [(0, 0, 0), (30, 10, 5), (-45, -20, 15), (70, 25, -30), (-10, 40, -60)]


@pytest.mark.parametrize("model", ["68", "14"])
@pytest.mark.parametrize("angles", POSES)
def test_projected_face_recovers_its_pose(model, angles):
    points = project_points(MEAN_FACE_68_3D, *angles, image_size=(320, 240))
    np.testing.assert_allclose(pose_from_landmarks(points, (320, 240), model=model), angles, atol=1.0)


@pytest.mark.parametrize("angles", POSES)
def test_rotation_and_angles_are_inverse(angles):
    rotation = rotation_from_angles(*angles)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(angles_from_rotation(rotation), angles, atol=1e-9)


def test_sign_conventions_on_synthetic_faces():
    frontal = project_points(MEAN_FACE_68_3D, 0, 0, 0)
    nose_x = project_points(MEAN_FACE_68_3D, 30, 0, 0)[30, 0] - frontal[30, 0]
    assert nose_x < -5  # positive yaw turns the nose toward the image left (AFLW2000 faces do the same)
    def nose_below_eyes(points):
        return points[30, 1] - points[[36, 45], 1].mean()

    lifted = project_points(MEAN_FACE_68_3D, 0, 20, 0)
    assert nose_below_eyes(lifted) < nose_below_eyes(frontal) - 5  # positive pitch: the head looks up
    eyes = project_points(MEAN_FACE_68_3D, 0, 0, 20)[[36, 45]]
    assert eyes[1, 1] > eyes[0, 1]  # positive roll: the image-right eye sits lower (clockwise on screen)


def test_project_points_centres_the_head():
    points = project_points(MEAN_FACE_14_3D, 0, 0, 0, image_size=(200, 100), centre=(50, 40))
    origin = project_points(np.zeros((1, 3)), 0, 0, 0, image_size=(200, 100), centre=(50, 40))
    np.testing.assert_allclose(origin, [[50, 40]], atol=1e-9)
    assert points[:, 0].min() > 0 and points[:, 0].max() < 100


def test_nan_points_are_left_out_and_bad_input_is_a_data_error():
    points = project_points(MEAN_FACE_68_3D, 20, -10, 5)
    points[[0, 5, 40]] = np.nan
    np.testing.assert_allclose(pose_from_landmarks(points, (256, 256)), (20, -10, 5), atol=1.0)
    with pytest.raises(DataError, match="68, 2"):
        pose_from_landmarks(points[:10], (256, 256))
    points[6:] = np.nan
    with pytest.raises(DataError, match="finite"):
        pose_from_landmarks(points, (256, 256))


@pytest.mark.shared_data
@pytest.mark.parametrize("model, limits", [("68", (3.0, 5.0, 2.0)), ("14", (3.0, 4.0, 1.5))])
def test_matches_aflw2000_pose_para(shared_data, model, limits):
    """Measured on the first 200 dev files (189 within +-99 deg), median |error| yaw / pitch / roll:
    68 points 2.1 / 3.8 / 1.1 deg, 14 points 1.8 / 2.7 / 0.7 deg."""
    files = sorted((shared_data / "aflw2000" / "dev").glob("*.mat"))[:200]
    if len(files) < 100:
        pytest.skip("fewer than 100 AFLW2000 .mat files")
    errors = []
    for path in files:
        mat = scipy.io.loadmat(path, variable_names=["Pose_Para", "pt3d_68"])
        pitch, yaw, roll = np.rad2deg(mat["Pose_Para"][0, :3])
        if max(abs(yaw), abs(pitch), abs(roll)) > 99:
            continue
        errors.append(pose_from_landmarks(mat["pt3d_68"][:2].T, (450, 450), model=model) - (yaw, pitch, roll))
    median = np.median(np.abs(errors), axis=0)
    assert (median < limits).all(), median
