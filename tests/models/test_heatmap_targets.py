"""Gaussian targets sit on the decode's cell grid: decoding a target gives back its landmark."""
from __future__ import annotations

import numpy as np
import torch

from edgekit.models.decode_torch import decode_heatmap_argmax
from edgekit.models.heatmap_targets import crop_to_cells, gaussian_heatmaps
from edgekit.runtime.decode import crop_to_heatmap


def test_crop_to_cells_equals_the_numpy_inverse_map():
    points = torch.tensor([[1.5, 5.5], [0.0, 127.0], [63.2, 17.9]])
    np.testing.assert_allclose(crop_to_cells(points, 4).numpy(), crop_to_heatmap(points.numpy(), 4), atol=1e-6)


def test_target_peak_and_width():
    # crop px (13.5, 9.5) is the centre of cell (col 3, row 2) for stride 4
    target = gaussian_heatmaps(torch.tensor([[[13.5, 9.5]]]), (8, 8), stride=4, sigma=1.0)[0, 0]
    assert target[2, 3] == 1.0 and target.argmax() == 2 * 8 + 3
    assert torch.isclose(target[2, 4], torch.exp(torch.tensor(-0.5)))  # one cell = one sigma
    assert torch.isclose(target[3, 4], torch.exp(torch.tensor(-1.0)))


def test_decoding_targets_recovers_landmarks_to_a_quarter_cell():
    landmarks = torch.tensor([[[13.5, 9.5], [14.6, 21.0], [40.0, 3.7]]])  # on, right of, between cell centres
    decoded = decode_heatmap_argmax(gaussian_heatmaps(landmarks, (16, 16), 4, 1.5), 4)
    assert decoded[0, 0].tolist() == [13.5, 9.5]  # exact on a cell centre
    assert (decoded - landmarks).abs().max() <= 4 * 0.25 + 1e-5


def test_missing_landmark_gives_an_empty_map():
    target = gaussian_heatmaps(torch.tensor([[[float("nan"), float("nan")]]]), (8, 8), 4, 1.5)
    assert torch.isfinite(target).all() and target.max() < 1e-30
