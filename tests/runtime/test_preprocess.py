import numpy as np
import pytest

from edgekit.errors import DataError
from edgekit.runtime.preprocess import (Box, apply_affine, box_from_detection, box_from_landmarks, crop_matrix,
                                        invert_affine, normalize, preprocess, preprocess_batch, to_image, warp)
from edgekit.specs import PreprocessSpec

SPEC = PreprocessSpec(input_size=(112, 112))


def blob_image(height: int, width: int, x: float, y: float, sigma: float = 3.0) -> np.ndarray:
    """uint8 BGR image, black with one bright Gaussian blob centred at (x, y)."""
    yy, xx = np.mgrid[:height, :width]
    blob = 255 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return np.repeat(np.round(blob).astype(np.uint8)[:, :, None], 3, axis=2)


def centroid(crop: np.ndarray) -> np.ndarray:
    weights = crop[..., 0].astype(np.float64)
    yy, xx = np.mgrid[: weights.shape[0], : weights.shape[1]]
    return np.array([(weights * xx).sum(), (weights * yy).sum()]) / weights.sum()


def test_box_from_landmarks_ignores_nan_and_scales():
    points = np.array([[10, 20], [30, 60], [np.nan, 5.0], [20, 40]])
    assert box_from_landmarks(points, SPEC) == pytest.approx(Box(20, 40, 40 * 1.2))


def test_box_from_landmarks_without_points_is_a_data_error():
    with pytest.raises(DataError, match="no finite landmark"):
        box_from_landmarks(np.full((5, 2), np.nan), SPEC)


def test_box_from_detection_moves_down_by_shift_times_side():
    spec = PreprocessSpec(input_size=(64, 64), detector_box_scale=1.5, detector_box_shift_y=0.1)
    box = box_from_detection(10, 20, 50, 100, spec)  # w 40, h 80 -> side 120, centre (30, 60) + 12
    assert box == pytest.approx(Box(30, 72, 120))


def test_box_maps_onto_crop_edges_with_pixel_centre_rule():
    spec = PreprocessSpec(input_size=(96, 128))
    matrix = crop_matrix(Box(100, 50, 64), spec)
    corners = apply_affine(np.array([[68, 18], [132, 82], [100, 50]]), matrix)
    np.testing.assert_allclose(corners, [[-0.5, -0.5], [95.5, 127.5], [47.5, 63.5]], atol=1e-12)


@pytest.mark.parametrize("rotation, flip", [(0, False), (37.5, False), (-80, True), (180, True)])
def test_crop_then_inverse_returns_the_points(rotation, flip):
    spec = PreprocessSpec(input_size=(96, 128))  # non-square crop
    rng = np.random.default_rng(1)
    points = rng.uniform([0, 0], [640, 360], size=(50, 2))  # a 640x360 image
    matrix = crop_matrix(Box(300.3, 170.7, 151.0), spec, rotation, flip)
    np.testing.assert_allclose(to_image(apply_affine(points, matrix), matrix), points, atol=1e-3)
    np.testing.assert_allclose(invert_affine(invert_affine(matrix)), matrix, atol=1e-9)


def test_apply_affine_batched_and_single_point():
    matrices = np.stack([crop_matrix(Box(50, 50, 40), SPEC, angle) for angle in (0, 30, 60)])
    points = np.random.default_rng(2).uniform(0, 100, size=(3, 7, 2))
    batched = apply_affine(points, matrices)
    for i in range(3):
        np.testing.assert_allclose(batched[i], apply_affine(points[i], matrices[i]))
    np.testing.assert_allclose(apply_affine(points[1, 0], matrices[1]), batched[1, 0])
    np.testing.assert_allclose(to_image(batched, matrices), points, atol=1e-9)


@pytest.mark.parametrize("flip", [False, True])
def test_single_bright_pixel_lands_exactly_on_its_mapped_pixel(flip):
    spec = PreprocessSpec(input_size=(64, 64), color="BGR")
    image = np.zeros((90, 120, 3), np.uint8)
    image[37, 71] = (255, 128, 7)
    matrix = crop_matrix(Box(60.5, 40.5, 64), spec, flip=flip)  # unit scale, integer shift
    x, y = apply_affine(np.array([71.0, 37.0]), matrix)
    assert x == int(x) and y == int(y)
    crop = warp(image, matrix, spec)
    assert tuple(crop[int(y), int(x)]) == (255, 128, 7)
    assert crop.sum() == 255 + 128 + 7


@pytest.mark.parametrize("rotation, flip, interpolation", [(25, False, "linear"), (-60, True, "linear"),
                                                           (10, True, "area")])
def test_blob_appears_where_the_affine_sends_it(rotation, flip, interpolation):
    spec = PreprocessSpec(input_size=(96, 128), interpolation=interpolation)
    point = np.array([143.4, 87.6])
    image = blob_image(200, 300, *point, sigma=6.0 if interpolation == "area" else 3.0)
    box = Box(150, 100, 90 if interpolation == "linear" else 180)
    matrix = crop_matrix(box, spec, rotation, flip)
    found = centroid(warp(image, matrix, spec))
    np.testing.assert_allclose(found, apply_affine(point, matrix), atol=0.1)


def test_warp_converts_colour_and_pads_black():
    image = np.zeros((20, 20, 3), np.uint8)
    image[:] = (10, 20, 30)  # BGR
    box = Box(19.5, 9.5, 20)  # right half of the crop lies outside the image
    rgb = warp(image, crop_matrix(box, PreprocessSpec((20, 20), color="RGB")), PreprocessSpec((20, 20)))
    assert tuple(rgb[10, 2]) == (30, 20, 10) and tuple(rgb[10, 17]) == (0, 0, 0)
    gray_spec = PreprocessSpec((20, 20), color="GRAY", mean=(0.5,), std=(0.25,))
    gray = warp(image, crop_matrix(box, gray_spec), gray_spec)
    assert gray.shape == (20, 20, 1) and gray[10, 2, 0] == round(0.114 * 10 + 0.587 * 20 + 0.299 * 30)


def test_normalize_values_and_layouts():
    crop = np.zeros((4, 6, 3), np.uint8)
    crop[..., 0], crop[..., 1], crop[..., 2] = 0, 51, 255
    spec = PreprocessSpec((6, 4), mean=(0.5, 0.2, 0.0), std=(0.5, 0.1, 2.0))
    chw = normalize(crop, spec)
    assert chw.dtype == np.float32 and chw.shape == (3, 4, 6)
    np.testing.assert_allclose(chw[:, 0, 0], [-1.0, 0.0, 0.5], atol=1e-6)
    hwc = normalize(crop, PreprocessSpec((6, 4), mean=spec.mean, std=spec.std, layout="NHWC"))
    np.testing.assert_array_equal(hwc, chw.transpose(1, 2, 0))


def test_preprocess_batch_stacks_tensors_and_matrices():
    images = [np.full((50, 60, 3), 255, np.uint8), np.zeros((80, 40), np.uint8)]  # BGR and grayscale
    boxes = [Box(30, 25, 40), Box(20, 40, 30)]
    batch, matrices = preprocess_batch(images, boxes, SPEC)
    assert batch.shape == (2, 3, 112, 112) and matrices.shape == (2, 2, 3)
    tensor, matrix = preprocess(images[0], boxes[0], SPEC)
    np.testing.assert_array_equal(batch[0], tensor)
    np.testing.assert_array_equal(matrices[1], crop_matrix(boxes[1], SPEC))
    assert batch[0].min() == 1.0 and batch[1].max() == 0.0
    with pytest.raises(DataError):
        preprocess_batch(images, boxes[:1], SPEC)
