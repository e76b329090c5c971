import dataclasses

import numpy as np
import pytest

from edgekit.data.augment import AugmentConfig, AugParams, JointAugment, augment_pose, photometric
from edgekit.data.schemes import get_scheme
from edgekit.errors import SpecError
from edgekit.runtime.facemodel import MEAN_FACE_68_3D
from edgekit.runtime.pose import pose_from_landmarks, project_points
from edgekit.runtime.preprocess import Box, apply_affine, box_from_landmarks, crop_matrix, warp
from edgekit.specs import PreprocessSpec

SPEC = PreprocessSpec(input_size=(112, 112))
PERM = get_scheme("ibug68").flip_perm
AUGMENT = JointAugment(AugmentConfig(), PERM)


def symmetric_face(size: int = 256) -> np.ndarray:
    """A frontal ibug68 face made exactly mirror-symmetric about x = (size - 1) / 2."""
    points = project_points(MEAN_FACE_68_3D, 0, 0, 0, image_size=(size, size))
    mirrored = points[list(PERM)] * [-1, 1] + [size - 1, 0]
    return (points + mirrored) / 2


def dots(points: np.ndarray, shape=(240, 320), sigma=2.5) -> np.ndarray:
    """Black BGR image with one Gaussian dot per point."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    image = sum(np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2)) for x, y in points)
    return np.repeat(np.round(255 * np.minimum(image, 1)).astype(np.uint8)[:, :, None], 3, axis=2)


def test_same_seed_same_sample_and_output():
    image = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    outputs = []
    for _ in range(2):
        params = AUGMENT.sample(np.random.default_rng(42))
        outputs.append(AUGMENT(image, Box(80, 60, 90), SPEC, symmetric_face()[:68] / 2, np.array([10, 5, 3.0]),
                               params))
    for a, b in zip(*outputs):
        np.testing.assert_array_equal(a, b)
    assert AUGMENT.sample(np.random.default_rng(1)) != AUGMENT.sample(np.random.default_rng(2))


def test_identity_params_equal_plain_crop():
    image = np.random.default_rng(1).integers(0, 256, (100, 100, 3), dtype=np.uint8)
    box = Box(50, 50, 60)
    crop, points, pose = AUGMENT(image, box, SPEC, np.array([[50.0, 50.0]]), np.array([1, 2, 3.0]), AugParams())
    np.testing.assert_array_equal(crop, warp(image, crop_matrix(box, SPEC), SPEC))
    np.testing.assert_allclose(points, [[55.5, 55.5]])
    np.testing.assert_allclose(pose, [1, 2, 3])


def test_flip_twice_is_identity():
    image = np.random.default_rng(2).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    face = symmetric_face(200) + np.random.default_rng(3).normal(0, 2, (68, 2))  # not symmetric any more
    box = box_from_landmarks(face, SPEC)
    plain, plain_points, _ = AUGMENT(image, box, SPEC, face, None, AugParams())
    flip = AugParams(flip=True)
    once = AUGMENT(image, box, SPEC, face, np.array([20, 5, 10.0]), flip)
    whole = Box(55.5, 55.5, 112)  # the crop itself, at unit scale
    rgb_as_bgr = dataclasses.replace(SPEC, color="BGR")  # keep channels as they are on the second pass
    twice = AUGMENT(once[0], whole, rgb_as_bgr, once[1], once[2], flip)
    np.testing.assert_array_equal(twice[0], once[0][:, ::-1])  # the second flip is on the pixel grid: exact
    # the first samples the image at the mirrored positions; warpAffine's 1/32 px fixed point rounds a few apart
    assert np.abs(twice[0].astype(int) - plain).mean() < 0.1
    np.testing.assert_allclose(twice[1], plain_points, atol=1e-4)
    np.testing.assert_allclose(once[2], [-20, 5, -10])
    np.testing.assert_allclose(twice[2], [20, 5, 10])


def test_flip_puts_left_eye_points_on_right_eye_positions():
    face = symmetric_face()
    box = box_from_landmarks(face, SPEC)  # centred on the symmetry axis
    matrix = crop_matrix(box, SPEC)
    unflipped = apply_affine(face, matrix)
    mirrored = apply_affine(face, crop_matrix(box, SPEC, flip=True))  # before the permutation
    np.testing.assert_allclose(mirrored[36], unflipped[45], atol=1e-3)
    _, flipped, _ = AUGMENT(np.zeros((256, 256, 3), np.uint8), box, SPEC, face, None, AugParams(flip=True))
    np.testing.assert_allclose(flipped, unflipped, atol=1e-3)  # after the permutation: same face again


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_landmarks_follow_the_image(seed):
    points = np.array([[100.3, 80.7], [190.2, 120.6], [140.5, 170.1]])
    image = dots(points)
    params = dataclasses.replace(AUGMENT.sample(np.random.default_rng(seed)), flip=seed % 2 == 1, brightness=1.0,
                                 contrast=1.0, saturation=1.0, grayscale=False, blur_sigma=0.0, occlusion=None)
    augment = JointAugment(AugmentConfig(), flip_perm=(1, 0, 2))
    crop, moved, _ = augment(image, Box(145, 125, 140), SPEC, points, None, params)
    original_order = moved[list(augment.flip_perm)] if params.flip else moved
    weights = crop[..., 0].astype(float)
    yy, xx = np.mgrid[:112, :112]
    inside = ((original_order > 6) & (original_order < 105)).all(axis=1)  # dots cut by the crop edge move
    assert inside.sum() >= 2
    for x, y in original_order[inside]:
        near = weights * ((xx - x) ** 2 + (yy - y) ** 2 < 36)
        found = np.array([(near * xx).sum(), (near * yy).sum()]) / near.sum()
        np.testing.assert_allclose(found, (x, y), atol=0.15)


@pytest.mark.parametrize("angles", [(0, 0, 0), (35, -15, 10)])
@pytest.mark.parametrize("rotation, flip", [(20, False), (-25, True)])
def test_pose_labels_agree_with_the_augmented_landmarks(angles, rotation, flip):
    symmetric = (MEAN_FACE_68_3D + MEAN_FACE_68_3D[list(PERM)] * [-1, 1, 1]) / 2  # a mirror image of itself
    face = project_points(symmetric, *angles, image_size=(400, 400), distance=4000)  # nearly orthographic
    params = AugParams(rotation_deg=rotation, flip=flip)
    _, points, pose = AUGMENT(np.zeros((400, 400, 3), np.uint8), box_from_landmarks(face, SPEC), SPEC, face,
                              np.array(angles, float), params)
    measured = pose_from_landmarks(points, (112, 112), focal=112 * 20)
    np.testing.assert_allclose(pose, measured, atol=1.5)
    if angles == (0, 0, 0):  # frontal: roll moves by exactly the rotation (counter-clockwise = negative roll)
        assert pose[2] == pytest.approx(-rotation if not flip else rotation, abs=1e-4)


def test_augment_pose_none_and_flip_only():
    assert augment_pose(None, AugParams(flip=True)) is None
    np.testing.assert_allclose(augment_pose(np.array([30, -10, 5.0]), AugParams(flip=True)), [-30, -10, -5])


def test_flip_without_permutation_is_a_spec_error():
    with pytest.raises(SpecError, match="flip permutation"):
        JointAugment()(np.zeros((50, 50, 3), np.uint8), Box(25, 25, 40), SPEC, np.zeros((5, 2)), None,
                       AugParams(flip=True))


def test_photometric_hand_values():
    crop = np.full((10, 10, 3), 100, np.uint8)
    np.testing.assert_array_equal(photometric(crop, "RGB", AugParams(brightness=1.5)), 150)
    np.testing.assert_array_equal(photometric(crop, "RGB", AugParams(contrast=3.0)), 100)  # flat image: no change
    colour = crop.copy()
    colour[..., 0] = 200
    gray = photometric(colour, "BGR", AugParams(grayscale=True))
    assert (gray[..., 0] == gray[..., 1]).all() and gray[0, 0, 0] == round(0.114 * 200 + 0.886 * 100)
    desaturated = photometric(colour, "RGB", AugParams(saturation=0.0))
    assert (desaturated[..., 0] == desaturated[..., 2]).all()
    occluded = photometric(crop, "RGB", AugParams(occlusion=(0.2, 0.3, 0.5, 0.4), occlusion_color=(1, 2, 3)))
    assert (occluded[3:7, 2:7] == (1, 2, 3)).all() and (occluded[0, 0] == 100).all()
    assert (occluded != 100).any(axis=2).sum() == 4 * 5
    edge = np.zeros((20, 20, 1), np.uint8)
    edge[:, 10:] = 255
    assert 0 < photometric(edge, "GRAY", AugParams(blur_sigma=1.0))[5, 10, 0] < 255
    assert 0 < photometric(edge, "GRAY", AugParams(downscale=0.25))[5, 9, 0] < 255


def test_sample_respects_the_config():
    config = AugmentConfig(rotation_deg=10, scale=(0.9, 1.1), shift=0.05, flip_p=0.0, blur_p=1.0, occlusion_p=0.0,
                           downscale_p=1.0, grayscale_p=0.0)
    draws = [JointAugment(config).sample(np.random.default_rng(seed)) for seed in range(50)]
    assert all(abs(d.rotation_deg) <= 10 and 0.9 <= d.scale <= 1.1 and max(map(abs, d.shift)) <= 0.05 for d in draws)
    assert not any(d.flip or d.grayscale or d.occlusion for d in draws)
    assert all(0.3 <= d.blur_sigma <= 1.5 and 0.25 <= d.downscale <= 0.75 for d in draws)
