"""Losses: hand-computed values, zero at the target, masking of missing labels."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from edgekit.models.losses import (
    bins_loss, cosine_affinity, heatmap_mse, kd_pair_loss, pfld_loss, pip_loss, pose_l1, visible_points, weighted_mean,
)  # fmt: skip
from edgekit.models.heatmap_targets import gaussian_heatmaps
from edgekit.models.pipnet import pip_head_spec
from edgekit.specs import HeadSpec

NAN = float("nan")
BINS_HEAD = HeadSpec(output="pose", decode="bins", outputs=("bins",))


def test_visible_points_and_weighted_mean():
    points, visible = visible_points(torch.tensor([[[1.0, 2.0], [NAN, 3.0]]]))
    assert points.tolist() == [[[1.0, 2.0], [0.0, 0.0]]] and visible.tolist() == [[1.0, 0.0]]
    assert weighted_mean(torch.tensor([2.0, 100.0]), torch.tensor([1.0, 0.0])) == 2.0
    assert weighted_mean(torch.tensor([2.0]), torch.tensor([0.0])) == 0.0  # nothing labelled -> 0, not NaN


def test_pose_l1_skips_unknown_rows():
    angles = torch.tensor([[10.0, 0.0, -5.0], [1.0, 1.0, 1.0]])
    assert pose_l1(angles, torch.tensor([[7.0, 0.0, -2.0], [NAN, NAN, NAN]])).item() == 2.0


def test_pfld_loss_weights_l2_by_pose_error():
    points = torch.tensor([[[0.5, 0.5], [0.25, 0.25]]])  # unit crop coordinates
    batch = {"landmarks": torch.tensor([[[56.0, 56.0], [28.0, 39.2]]]), "pose": torch.tensor([[0.0, 0.0, 0.0]])}
    # l2 = (0.35 - 0.25)^2 = 0.01; aux yaw off by 60 deg -> weight 1 + (1 - cos 60) = 1.5
    loss, parts = pfld_loss(points, torch.tensor([[60.0, 0.0, 0.0]]), batch, (112, 112))
    assert loss.item() == pytest.approx(0.015, rel=1e-5) and parts["l2"] == pytest.approx(0.01, rel=1e-5)
    batch["pose"] = torch.full((1, 3), NAN)  # unknown pose: weight 1
    assert pfld_loss(points, torch.zeros(1, 3), batch, (112, 112))[0].item() == pytest.approx(0.01, rel=1e-5)


def test_pfld_attribute_weights_favour_rare_attributes():
    points = torch.zeros(2, 1, 2)
    batch = {"landmarks": torch.full((2, 1, 2), 11.2), "attributes": torch.tensor([[1.0], [0.0]])}
    # l2 = 2 * 0.1^2 = 0.02 each; sample 0 has an attribute of frequency 1/2 -> weight 1 + 2 = 3; sample 1 -> 1
    loss, _ = pfld_loss(points, torch.zeros(2, 3), batch, (112, 112))
    assert loss.item() == pytest.approx((3 * 0.02 + 0.02) / 2, rel=1e-5)


def test_pip_loss_is_zero_for_perfect_outputs():
    head = pip_head_spec()
    face = torch.tensor(head.meanface).view(1, 68, 2) * 256
    cells = face / 32
    col, row = cells[..., 0].floor().long(), cells[..., 1].floor().long()
    score = torch.zeros(1, 68, 8, 8)
    score[0, torch.arange(68), row[0], col[0]] = 1.0
    offset_x = (cells[..., 0] - col)[..., None, None].expand(1, 68, 8, 8)  # constant maps: right at every cell
    offset_y = (cells[..., 1] - row)[..., None, None].expand(1, 68, 8, 8)
    neighbors = torch.tensor(head.neighbors)
    nb = cells[:, neighbors] - torch.stack([col, row], -1)[:, :, None].float()  # (1, 68, 10, 2)
    nb_x, nb_y = (nb[..., i].reshape(1, 680, 1, 1).expand(1, 680, 8, 8) for i in (0, 1))
    loss, parts = pip_loss((score, offset_x, offset_y, nb_x, nb_y), face, head)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)
    loss, parts = pip_loss((score, offset_x + 0.5, offset_y, nb_x, nb_y), face, head)
    assert parts["offset"] == pytest.approx(0.25, abs=1e-6)  # |0.5| on x, 0 on y


def test_bins_loss_uses_digitize_bins():
    angles = torch.tensor([[-99.0, 0.0, 98.9]])
    expected = np.digitize(angles.numpy(), np.arange(-99, 102, 3)) - 1  # Hopenet's labels
    logits = torch.full((1, 3, 66), -30.0)
    logits[0, torch.arange(3), torch.as_tensor(expected[0])] = 30.0  # certain of the right bins
    loss, parts = bins_loss(logits, angles, BINS_HEAD, alpha=1.0)
    assert parts["ce"] == pytest.approx(0.0, abs=1e-6)
    # expectation = 3 * bin - 99 -> errors 0, 0 - (3 * 33 - 99) = 0, 98.9 - 96 = 2.9
    assert parts["mse"] == pytest.approx(2.9**2 / 3, rel=1e-4)
    loss, parts = bins_loss(logits, torch.full((1, 3), NAN), BINS_HEAD, alpha=1.0)
    assert loss.item() == 0.0


def test_cosine_affinity_and_pair_loss():
    features = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]).view(1, 2, 1, 3)  # 3 positions, 2 channels
    affinity = cosine_affinity(features)[0]
    expected = torch.tensor([[1.0, 0.0, 1 / math.sqrt(2)], [0.0, 1.0, 1 / math.sqrt(2)],
                             [1 / math.sqrt(2), 1 / math.sqrt(2), 1.0]])  # fmt: skip
    torch.testing.assert_close(affinity, expected)
    assert kd_pair_loss([features], [3 * features]).item() == pytest.approx(0.0, abs=1e-7)  # scale-free


def test_heatmap_mse_foreground_weighting():
    landmarks = torch.tensor([[[13.5, 9.5]]])  # centre of cell (3, 2), stride 4
    zeros = torch.zeros(1, 1, 8, 8)
    target = gaussian_heatmaps(landmarks, (8, 8), 4, 1.0)
    plain = heatmap_mse(zeros, landmarks, 4, 1.0)
    assert plain.item() == pytest.approx((target**2).mean().item(), rel=1e-6)
    weighted = heatmap_mse(zeros, landmarks, 4, 1.0, foreground=10.0)
    assert weighted.item() == pytest.approx(((1 + 10 * target) * target**2).mean().item(), rel=1e-6)
    assert heatmap_mse(target, landmarks, 4, 1.0, foreground=10.0).item() == 0.0
