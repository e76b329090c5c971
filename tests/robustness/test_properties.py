"""Property-based tests (hypothesis, bounded): readers, the crop and its inverse, and the decoders' invariants."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edgekit.data.readers import format_pts, read_pts_points
from edgekit.heads import HeatmapParams
from edgekit.runtime.decode import bins, decode, local_soft_argmax, soft_argmax, ssr
from edgekit.runtime.preprocess import Box, apply_affine, crop_matrix, to_image
from edgekit.specs import HeadSpec, PreprocessSpec

BOUNDED = settings(max_examples=50, deadline=None, database=None)  # no .hypothesis/ in the checkout
coordinate = st.floats(-5000, 5000, allow_nan=False, width=32)
logit = st.floats(-30, 30, allow_nan=False, width=32)


@pytest.fixture(scope="module")
def pts_file(tmp_path_factory):
    return tmp_path_factory.mktemp("pts") / "face.pts"


# ----------------------------------------------------------------------------- readers


@BOUNDED
@given(points=arrays(np.float32, st.tuples(st.integers(1, 120), st.just(2)), elements=coordinate),
       header=st.booleans())
def test_pts_round_trip(pts_file, points, header):
    text = format_pts(points)
    if not header:  # bare "x y" lines, as some tools write them
        text = "\n".join(line for line in text.splitlines()[3:-1]) + "\n"
    pts_file.write_text(text)
    read = read_pts_points(pts_file)
    assert read.dtype == np.float32 and read.shape == points.shape
    np.testing.assert_allclose(read, points, rtol=1e-6, atol=1e-6)  # 6 decimals, then float32


# ----------------------------------------------------------------------------- crop and inverse


@BOUNDED
@given(cx=st.floats(-500, 1500), cy=st.floats(-500, 1500), side=st.floats(4, 2000),
       rotation=st.floats(-180, 180), flip=st.booleans(), size=st.sampled_from([(112, 112), (64, 64), (256, 192)]),
       points=arrays(np.float64, (17, 2), elements=st.floats(-3000, 3000)))
def test_crop_then_inverse_is_identity(cx, cy, side, rotation, flip, size, points):
    spec = PreprocessSpec(input_size=size)
    matrix = crop_matrix(Box(cx, cy, side), spec, rotation, flip)
    np.testing.assert_allclose(to_image(apply_affine(points, matrix), matrix), points, atol=1e-6)
    centre = apply_affine(np.array([cx, cy]), matrix)  # the box centre lands on the crop centre
    np.testing.assert_allclose(centre, [(size[0] - 1) / 2, (size[1] - 1) / 2], atol=1e-6)


# ----------------------------------------------------------------------------- decoders


@BOUNDED
@given(shape=st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 32), st.integers(1, 32)),
       stride=st.sampled_from([1, 2, 4, 8]), data=st.data())
def test_one_hot_heatmap_decodes_to_its_cell_centre(shape, stride, data):
    batch, count, height, width = shape
    rows = data.draw(arrays(np.int64, (batch, count), elements=st.integers(0, height - 1)))
    cols = data.draw(arrays(np.int64, (batch, count), elements=st.integers(0, width - 1)))
    maps = np.zeros(shape, np.float32)
    b, n = np.indices((batch, count))
    maps[b, n, rows, cols] = 1.0
    head = HeadSpec("heatmap_argmax", ("heatmaps",), HeatmapParams(count, stride))
    pixels = decode([maps], head)  # (B, N, 2) crop px
    expected = np.stack([cols, rows], axis=-1) * stride + (stride - 1) / 2
    np.testing.assert_array_equal(pixels, expected.astype(np.float32))


@BOUNDED
@given(height=st.integers(1, 24), width=st.integers(1, 24), beta=st.floats(0.1, 20), data=st.data())
def test_soft_argmax_of_a_symmetric_map_is_its_centre(height, width, beta, data):
    """Any map symmetric under a half turn about its centre has its expectation there."""
    half = data.draw(arrays(np.float32, (height, width), elements=st.floats(-3, 3, width=32)))
    maps = (half + half[::-1, ::-1])[None, None]
    cells = soft_argmax(maps, beta)
    np.testing.assert_allclose(cells[0, 0], [(width - 1) / 2, (height - 1) / 2], atol=2e-4 * max(height, width))


@BOUNDED
@given(radius=st.integers(1, 3), sigma=st.floats(0.3, 3), beta=st.floats(0.5, 20), data=st.data())
def test_local_soft_argmax_of_a_centred_blob_is_its_centre(radius, sigma, beta, data):
    """A Gaussian blob on a cell whose whole (2r+1)^2 window lies inside the map decodes to that cell."""
    height, width = data.draw(st.integers(2 * radius + 1, 24)), data.draw(st.integers(2 * radius + 1, 24))
    row, col = data.draw(st.integers(radius, height - 1 - radius)), data.draw(st.integers(radius, width - 1 - radius))
    ys, xs = np.mgrid[:height, :width]
    blob = np.exp(-((xs - col) ** 2 + (ys - row) ** 2) / (2 * sigma**2)).astype(np.float32)
    cells = local_soft_argmax(blob[None, None], beta, radius)
    np.testing.assert_allclose(cells[0, 0], [col, row], atol=1e-4)


@BOUNDED
@given(num_bins=st.integers(1, 120), width=st.floats(0.1, 10), start=st.floats(-180, 0), data=st.data())
def test_bins_decode_stays_within_its_range(num_bins, width, start, data):
    logits = data.draw(arrays(np.float32, (4, 3, num_bins), elements=logit))
    angles = bins(logits, width, start)
    span = width * (num_bins - 1)
    slack = 1e-5 * (abs(start) + span) + 1e-6  # float32 rounding of the weighted sum
    assert angles.shape == (4, 3)
    assert (angles >= start - slack).all() and (angles <= start + span + slack).all()


ssr_outputs = st.integers(1, 4).flatmap(lambda k: st.tuples(
    arrays(np.float32, (2, k, 3, 3), elements=logit),  # p logits, 3 bins per stage (FSA-Net / SSR-Net)
    arrays(np.float32, (2, k, 3, 3), elements=logit),  # eta (pre-tanh)
    arrays(np.float32, (2, k, 3), elements=st.floats(0, 30, width=32))))  # delta (pre-tanh) >= 0, see below


@BOUNDED
@given(outputs=ssr_outputs, value_range=st.floats(1, 180), lam=st.floats(0, 1))
def test_ssr_decode_stays_within_its_range(outputs, value_range, lam):
    """With s = 3 bins per stage, |i - 1 + tanh(eta)| < 2 and each stage divides by 3^k (1 + lam tanh(delta))^k,
    so |angle| < V * 2 (1/3 + 1/9 + ...) = V when every delta >= 0. A negative delta near -1 with lam = 1 drives
    a denominator to 0: then the published SSR formula is unbounded (next test)."""
    p, eta, delta = outputs
    angles = ssr(p, eta, delta, (3,) * p.shape[1], value_range, lam)
    assert np.isfinite(angles).all() and (np.abs(angles) <= value_range).all()


def test_ssr_is_unbounded_when_delta_approaches_minus_one():
    p = np.zeros((1, 1, 3, 3), np.float32)
    p[..., 2] = 30.0  # all mass on the last bin: index +1
    eta = np.full((1, 1, 3, 3), 30.0, np.float32)  # tanh -> 1: stage value -> 2
    delta = np.full((1, 1, 3), -3.0, np.float32)  # tanh(-3) = -0.995: denominator 3 * 0.005
    angles = ssr(p, eta, delta, (3,), 99.0, 1.0)
    assert (angles > 99.0 * 10).all()  # V * 2 / (3 * (1 + tanh(-3))) = 13,300 degrees
