import numpy as np
import pytest
import torch

from edgekit.errors import SpecError
from edgekit.heads import HeatmapParams, RegressionParams
from edgekit.runtime.decode import (bins, crop_to_heatmap, decode, blurred_windows, heatmap_argmax, heatmap_dark,
                                    heatmap_to_crop, local_soft_argmax, pip, regression_landmarks, soft_argmax, ssr)
from edgekit.specs import HeadSpec

RNG = np.random.default_rng(0)


def log_gaussian(height: int, width: int, x: float, y: float, sigma: float) -> np.ndarray:
    """A heatmap whose softmax is a sampled Gaussian centred at (x, y) cells."""
    yy, xx = np.mgrid[:height, :width]
    return (-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2)).astype(np.float32)


def test_regression_scales_by_input_size():
    values = np.array([[0.5, 0.25, 1.0, 0.0]], np.float32)
    np.testing.assert_allclose(regression_landmarks(values, (112, 96)), [[[56, 24], [112, 0]]])


def test_heatmap_cell_maps_are_inverse_and_centre_cells():
    assert heatmap_to_crop(np.array([0.0, 1.0]), 4).tolist() == [1.5, 5.5]
    cells = RNG.uniform(-1, 64, size=(3, 5, 2))
    np.testing.assert_allclose(crop_to_heatmap(heatmap_to_crop(cells, 4), 4), cells, atol=1e-5)


def brute_heatmap_argmax(maps: np.ndarray) -> np.ndarray:
    out = np.zeros((*maps.shape[:2], 2))
    for b in range(maps.shape[0]):
        for n in range(maps.shape[1]):
            h = maps[b, n]
            y, x = np.unravel_index(h.argmax(), h.shape)
            dx = 0.25 * np.sign(h[y, x + 1] - h[y, x - 1]) if 0 < x < h.shape[1] - 1 else 0.0
            dy = 0.25 * np.sign(h[y + 1, x] - h[y - 1, x]) if 0 < y < h.shape[0] - 1 else 0.0
            out[b, n] = x + dx, y + dy
    return out


def test_heatmap_argmax_matches_brute_force():
    maps = RNG.normal(size=(3, 7, 6, 9)).astype(np.float32)
    np.testing.assert_array_equal(heatmap_argmax(maps), brute_heatmap_argmax(maps))


@pytest.mark.parametrize("row, col, expected", [
    (0, 0, (0.0, 0.0)),  # corner: no shift in either axis
    (0, 4, (4.25, 0.0)),  # top border: x shifts toward the higher right neighbour, y does not
    (5, 4, (4.25, 5.0)),  # bottom border
    (3, 0, (0.0, 3.25)),  # left border: y shifts toward the higher lower neighbour
    (3, 7, (7.0, 3.25)),  # right border
    (3, 4, (4.25, 3.25)),  # interior
])
def test_quarter_pixel_rule_at_borders(row, col, expected):
    maps = np.zeros((1, 1, 6, 8), np.float32)
    maps[0, 0, row, col] = 10
    if col + 1 < 8:
        maps[0, 0, row, col + 1] = 2  # right neighbour higher than left
    if row + 1 < 6:
        maps[0, 0, row + 1, col] = 2  # lower neighbour higher than upper
    assert tuple(heatmap_argmax(maps)[0, 0]) == expected


def test_quarter_pixel_rule_equal_neighbours_and_left_higher():
    maps = np.zeros((1, 2, 5, 5), np.float32)
    maps[0, 0, 2, 2] = 1  # equal neighbours: no shift
    maps[0, 1, 2, 2], maps[0, 1, 2, 1], maps[0, 1, 1, 2] = 1, 0.5, 0.5  # left and upper higher
    np.testing.assert_array_equal(heatmap_argmax(maps)[0], [[2, 2], [1.75, 1.75]])


def test_soft_argmax_matches_torch_reference():
    maps = RNG.normal(size=(2, 5, 8, 10)).astype(np.float32)
    probs = torch.softmax(2.5 * torch.from_numpy(maps).flatten(2), dim=-1).view(2, 5, 8, 10)
    x = (probs.sum(2) * torch.arange(10.0)).sum(-1)
    y = (probs.sum(3) * torch.arange(8.0)).sum(-1)
    np.testing.assert_allclose(soft_argmax(maps, beta=2.5), torch.stack([x, y], -1).numpy(), atol=1e-5)


def brute_local(maps: np.ndarray, beta: float, radius: int) -> np.ndarray:
    out = np.zeros((*maps.shape[:2], 2))
    for b in range(maps.shape[0]):
        for n in range(maps.shape[1]):
            h = maps[b, n].astype(np.float64)
            y0, x0 = np.unravel_index(h.argmax(), h.shape)
            rows = range(max(0, y0 - radius), min(h.shape[0], y0 + radius + 1))
            cols = range(max(0, x0 - radius), min(h.shape[1], x0 + radius + 1))
            cells = [(r, c) for r in rows for c in cols]
            weights = np.exp([beta * h[r, c] for r, c in cells])
            weights /= weights.sum()
            out[b, n] = sum(w * c for w, (_, c) in zip(weights, cells)), sum(w * r for w, (r, _) in zip(weights, cells))
    return out


def test_local_soft_argmax_matches_brute_force_including_borders():
    maps = RNG.normal(size=(2, 6, 7, 9)).astype(np.float32)
    maps[0, 0, 0, 0] = maps[0, 1, 6, 8] = maps[1, 2, 0, 5] = maps[1, 3, 3, 8] = 9.0  # peaks on borders
    np.testing.assert_allclose(local_soft_argmax(maps, 1.7, 2), brute_local(maps, 1.7, 2), atol=1e-5)


@pytest.mark.parametrize("x, y", [(10.3, 7.6), (20.8, 15.15)])
def test_soft_argmaxes_recover_a_subpixel_gaussian(x, y):
    maps = log_gaussian(32, 32, x, y, sigma=1.5)[None, None]
    np.testing.assert_allclose(soft_argmax(maps)[0, 0], [x, y], atol=0.05)
    np.testing.assert_allclose(local_soft_argmax(maps, radius=5)[0, 0], [x, y], atol=0.05)
    # an ordinary (non-log) Gaussian blob: the window ignores the flat background that biases the global version
    blob = np.exp(log_gaussian(32, 32, x, y, sigma=2.0))[None, None] * 8
    np.testing.assert_allclose(local_soft_argmax(blob, beta=1.0, radius=4)[0, 0], [x, y], atol=0.05)


@pytest.mark.parametrize("x, y, sigma", [(10.45, 7.6, 1.5), (20.4, 15.1, 1.0), (5.5, 25.9, 2.0)])
def test_dark_recovers_a_subcell_gaussian_where_the_quarter_step_cannot(x, y, sigma):
    """A training-target blob (peak 1, ``sigma`` cells) with noise: DARK within 0.05 cell, the quarter step off by
    up to a quarter cell per axis."""
    noisy = np.exp(log_gaussian(32, 32, x, y, sigma)) + RNG.normal(0, 0.01, (32, 32)).astype(np.float32)
    maps = noisy[None, None].astype(np.float32)
    np.testing.assert_allclose(heatmap_dark(maps, sigma)[0, 0], [x, y], atol=0.05)
    assert np.abs(heatmap_argmax(maps)[0, 0] - [x, y]).max() > 0.1


def test_dark_keeps_the_argmax_decode_at_the_border_and_on_flat_maps():
    maps = np.zeros((1, 3, 16, 16), np.float32)
    maps[0, 0, 1, 8] = 1.0  # peak one cell from the top: no room for the second differences
    maps[0, 1, 8, 15], maps[0, 1, 8, 14] = 1.0, 0.5  # on the right border
    # map 2 all zero: no maximum at all
    np.testing.assert_array_equal(heatmap_dark(maps, 1.5), heatmap_argmax(maps))


def brute_blur(maps: np.ndarray, sigma: float) -> np.ndarray:
    """The whole maps convolved with the sampled Gaussian (radius ceil(3 sigma), zeros outside), loop by loop."""
    radius = int(np.ceil(3 * sigma))
    taps = np.exp(-np.arange(-radius, radius + 1) ** 2 / (2 * sigma**2))
    kernel = np.outer(taps, taps) / taps.sum() ** 2
    padded = np.pad(maps.astype(np.float64), [(0, 0), (0, 0), (radius, radius), (radius, radius)])
    out = np.zeros(maps.shape)
    for i in range(maps.shape[-2]):
        for j in range(maps.shape[-1]):
            out[..., i, j] = (padded[..., i : i + 2 * radius + 1, j : j + 2 * radius + 1] * kernel).sum((-2, -1))
    return out


def test_blurred_windows_are_the_whole_blurred_maps_there_even_at_the_border():
    maps = RNG.normal(size=(2, 3, 12, 10)).astype(np.float32)
    rows, cols = np.array([[0, 5, 11], [3, 6, 9]]), np.array([[0, 4, 9], [8, 1, 5]])
    windows = blurred_windows(maps, rows, cols, 1.5)  # (2, 3, 5, 5) around each (row, col)
    full = np.pad(brute_blur(maps, 1.5), [(0, 0), (0, 0), (2, 2), (2, 2)], constant_values=np.nan)
    for b in range(2):
        for n in range(3):
            r, c = rows[b, n] + 2, cols[b, n] + 2
            expected = full[b, n, r - 2 : r + 3, c - 2 : c + 3]
            inside = np.isfinite(expected)
            np.testing.assert_allclose(windows[b, n][inside], expected[inside], atol=1e-9)


def brute_pip(score, off_x, off_y, nb_x, nb_y, stride, neighbors):
    batch, count, height, width = score.shape
    per = len(neighbors[0])
    out = np.zeros((batch, count, 2))
    for b in range(batch):
        sums = {m: [] for m in range(count)}
        for lm in range(count):
            r, c = np.unravel_index(score[b, lm].argmax(), (height, width))
            sums[lm].append(((c + off_x[b, lm, r, c]) * stride, (r + off_y[b, lm, r, c]) * stride))
            for k, m in enumerate(neighbors[lm]):
                sums[m].append(((c + nb_x[b, lm * per + k, r, c]) * stride, (r + nb_y[b, lm * per + k, r, c]) * stride))
        for m in range(count):
            out[b, m] = np.mean(sums[m], axis=0)
    return out


def test_pip_matches_brute_force():
    count, per = 6, 3
    neighbors = [tuple(int(v) for v in RNG.choice([j for j in range(count) if j != i], per, replace=False))
                 for i in range(count)]
    score = RNG.normal(size=(2, count, 4, 5)).astype(np.float32)
    maps = [RNG.normal(size=(2, n, 4, 5)).astype(np.float32) for n in (count, count, count * per, count * per)]
    np.testing.assert_allclose(pip(score, *maps, 32, neighbors), brute_pip(score, *maps, 32, neighbors), atol=1e-4)


def test_pip_on_a_hand_built_grid():
    # 2 landmarks on a 4x4 grid, stride 8, each the other's only neighbour
    score = np.zeros((1, 2, 4, 4), np.float32)
    score[0, 0, 1, 2] = score[0, 1, 3, 0] = 1  # landmark 0 at (row 1, col 2), landmark 1 at (row 3, col 0)
    off_x, off_y = np.zeros_like(score), np.zeros_like(score)
    off_x[0, 0, 1, 2], off_y[0, 0, 1, 2] = 0.5, 0.25  # own 0: ((2.5) * 8, (1.25) * 8) = (20, 10)
    off_x[0, 1, 3, 0], off_y[0, 1, 3, 0] = 0.0, 0.5  # own 1: (0, 28)
    nb_x, nb_y = np.zeros_like(score), np.zeros_like(score)
    nb_x[0, 0, 1, 2], nb_y[0, 0, 1, 2] = -2.0, 2.0  # landmark 0 says 1 is at (0 * 8, 3 * 8) = (0, 24)
    nb_x[0, 1, 3, 0], nb_y[0, 1, 3, 0] = 2.0, -2.0  # landmark 1 says 0 is at (16, 8)
    result = pip(score, off_x, off_y, nb_x, nb_y, 8, ((1,), (0,)))
    np.testing.assert_allclose(result[0], [[18, 9], [0, 26]])


def test_hopenet_bins_hand_cases():
    one_hot = np.full((1, 3, 66), -1e4, np.float32)
    one_hot[0, :, 33] = 0
    np.testing.assert_allclose(bins(one_hot), [[0, 0, 0]], atol=1e-4)
    np.testing.assert_allclose(bins(np.zeros((2, 3, 66), np.float32)), np.full((2, 3), -1.5), atol=1e-4)
    logits = RNG.normal(size=(4, 3, 66)).astype(np.float32)
    expected = 3 * (torch.softmax(torch.from_numpy(logits), -1) * torch.arange(66.0)).sum(-1) - 99
    np.testing.assert_allclose(bins(logits), expected.numpy(), atol=1e-4)


def test_ssr_hand_computed_case():
    p = np.zeros((1, 3, 3, 3), np.float32)
    p[0, 0, :, 2] = 30  # stage 1 certain of bin 2: (2 - 1) = 1
    eta = np.zeros_like(p)
    eta[0, 1] = np.arctanh(0.5)  # stage 2 uniform with shift 0.5: sum = 0.5
    delta = np.zeros((1, 3, 3), np.float32)
    delta[0, 0] = np.arctanh(0.5)  # stage-1 scale: 3 * (1 + 0.5) = 4.5
    # 99 * (1 / 4.5 + 0.5 / (4.5 * 3) + 0 / (4.5 * 9)) = 22 + 3.6667
    np.testing.assert_allclose(ssr(p, eta, delta, (3, 3, 3)), np.full((1, 3), 22 + 99 * 0.5 / 13.5), atol=1e-3)


def fsanet_ssr(p, eta, delta, stages, value_range, lam):
    """FSA-Net's SSRLayer written as its loops, in torch."""
    p, eta, delta = torch.softmax(torch.from_numpy(p), -1), torch.tanh(torch.from_numpy(eta)), torch.tanh(
        torch.from_numpy(delta))
    total, denominator = 0, 1
    for k, size in enumerate(stages):
        stage = sum((i - size // 2 + eta[:, k, :, i]) * p[:, k, :, i] for i in range(size))
        denominator = denominator * (size * (1 + lam * delta[:, k]))
        total = total + stage / denominator
    return (total * value_range).numpy()


def test_ssr_matches_fsanet_loops():
    p, eta = RNG.normal(size=(2, 4, 3, 3, 3)).astype(np.float32)
    delta = RNG.normal(size=(4, 3, 3)).astype(np.float32)
    np.testing.assert_allclose(ssr(p, eta, delta, (3, 3, 3), 99, 0.7),
                               fsanet_ssr(p, eta, delta, (3, 3, 3), 99, 0.7), atol=1e-3)
    with pytest.raises(SpecError):
        ssr(p, eta, delta, (3, 3))


def test_decode_dispatch_by_order_or_name():
    head = HeadSpec("soft_argmax", ("hm",), HeatmapParams(2, stride=4))
    maps = RNG.normal(size=(1, 2, 8, 8)).astype(np.float32)
    expected = heatmap_to_crop(soft_argmax(maps), 4)
    np.testing.assert_allclose(decode([maps], head), expected)
    np.testing.assert_allclose(decode({"hm": maps, "extra": maps}, head), expected)
    pose = HeadSpec("bins", ("logits",))
    assert decode([np.zeros((3, 3, 66))], pose).shape == (3, 3)
    regression = HeadSpec("regression", ("out",), RegressionParams(2))
    np.testing.assert_allclose(decode([np.full((1, 4), 0.5)], regression, (112, 112)), [[[56, 56], [56, 56]]])


def test_decode_rejects_mismatched_outputs():
    head = HeadSpec("ssr", ("p", "eta", "delta"))
    with pytest.raises(SpecError, match="needs 3 output tensors"):
        decode([np.zeros((1, 3, 3, 3))], head)
    with pytest.raises(SpecError, match="lack"):
        decode({"p": np.zeros(1)}, head)
    regression = HeadSpec("regression", ("out",), RegressionParams(2))
    with pytest.raises(SpecError, match="input_size"):
        decode([np.zeros((1, 4))], regression)
