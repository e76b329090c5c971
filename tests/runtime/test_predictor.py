from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from edgekit.backend.torch.runner import TorchRunner
from edgekit.errors import EdgekitError
from edgekit.heads import RegressionParams
from edgekit.runtime.predictor import Predictor
from edgekit.runtime.preprocess import Box
from edgekit.specs import HeadSpec, ModelSpec, PreprocessSpec

SIZE = 64


class Constant(nn.Module):
    """Outputs a fixed tensor per image: landmarks all at one crop point, or fixed angles."""

    def __init__(self, spec: ModelSpec, value: list[float]):
        super().__init__()
        self.spec = spec
        self.register_buffer("value", torch.tensor(value, dtype=torch.float32))
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return (self.value.expand(len(x), -1) + 0 * self.dummy,)


def landmark_model(num_points: int, crop_x: float, crop_y: float) -> Constant:
    head = HeadSpec("regression", ("landmarks",), RegressionParams(num_points))
    spec = ModelSpec("const", "landmarks", PreprocessSpec(input_size=(SIZE, SIZE)), head, scheme="ibug68")
    return Constant(spec, [crop_x / SIZE, crop_y / SIZE] * num_points)


def test_crop_centre_maps_to_the_box_centre():
    centre = (SIZE - 1) / 2  # the box centre lands on the crop's centre pixel
    predictor = Predictor(TorchRunner(landmark_model(5, centre, centre)), landmark_model(5, 0, 0).spec)
    image = np.zeros((300, 400, 3), np.uint8)
    result = predictor.predict(image, box=Box(250.0, 120.0, 90.0))
    np.testing.assert_allclose(result.landmarks, [[250.0, 120.0]] * 5, atol=1e-4)
    assert result.pose is None  # 5 points: no solvePnP


def test_crop_corner_maps_by_scale_and_detector_box_rule():
    model = landmark_model(1, 0.0, 0.0)  # the crop's top-left pixel centre
    predictor = Predictor(TorchRunner(model), model.spec)
    image = np.zeros((200, 200, 3), np.uint8)
    box = Box(100.0, 80.0, 128.0)  # 2 image px per crop px
    (result,) = predictor.predict_batch([image], [box])
    np.testing.assert_allclose(result.landmarks, [[100 - 31.5 * 2, 80 - 31.5 * 2]], atol=1e-4)  # 37, 17
    corners = predictor.predict(image, box=(50, 40, 150, 120)).box  # side 100 x 1.06, centre down 0.14 x side
    assert corners == pytest.approx(Box(100.0, 80.0 + 0.14 * 106.0, 106.0))


def test_landmarks_hint_box_and_missing_box():
    model = landmark_model(3, 10.0, 20.0)
    predictor = Predictor(TorchRunner(model), model.spec)
    image = np.zeros((100, 100, 3), np.uint8)
    hint = np.array([[30.0, 40.0], [70.0, 40.0], [50.0, 60.0]])
    assert predictor.predict(image, landmarks_hint=hint).box == pytest.approx(Box(50.0, 50.0, 48.0))
    with pytest.raises(EdgekitError, match="no face box given"):
        predictor.predict(image)


def test_ibug68_landmarks_give_solvepnp_pose_and_pose_heads_give_angles():
    from edgekit.data.synthetic import draw_face
    from edgekit.runtime.preprocess import apply_affine, box_from_landmarks, crop_matrix

    image, landmarks, _ = draw_face(np.random.default_rng(1), 256, yaw=25.0, pitch=-10.0, roll=5.0)
    spec = landmark_model(68, 0, 0).spec
    box = box_from_landmarks(landmarks, spec.preprocess)
    in_crop = apply_affine(landmarks, crop_matrix(box, spec.preprocess))  # a model that is exactly right
    predictor = Predictor(TorchRunner(Constant(spec, list(in_crop.ravel() / SIZE))), spec)
    result = predictor.predict(image, landmarks_hint=landmarks)
    np.testing.assert_allclose(result.landmarks, landmarks, atol=1e-3)
    np.testing.assert_allclose(result.pose, [25.0, -10.0, 5.0], atol=1.0)  # same 3D face, same camera
    head = HeadSpec("pose_regression", ("pose",))
    spec = ModelSpec("p", "pose", PreprocessSpec(input_size=(SIZE, SIZE)), head)
    pose_predictor = Predictor(TorchRunner(Constant(spec, [12.0, -3.0, 4.5])), spec)
    results = pose_predictor.predict_batch([image, image], [Box(128, 128, 150), Box(100, 100, 80)])
    assert [r.landmarks for r in results] == [None, None]
    np.testing.assert_allclose([r.pose for r in results], [[12.0, -3.0, 4.5]] * 2)
