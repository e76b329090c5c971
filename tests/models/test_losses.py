"""Losses: hand-computed values, zero at the target, masking of missing labels."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from edgekit.models.losses import (
    adaptive_wing, awing_weight_map, bins_loss, cosine_affinity, heatmap_awing, heatmap_loss, heatmap_mse,
    kd_heatmap_loss, kd_pair_loss, pfld_loss, pip_loss, pose_l1, visible_points, weighted_mean, wing,
)  # fmt: skip
from edgekit.models.heatmap_targets import gaussian_heatmaps
from edgekit.models.pipnet import pip_head_spec
from edgekit.heads import BinsParams
from edgekit.recipe import LossConfig

NAN = float("nan")
BINS = BinsParams()


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
    head = pip_head_spec().params
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
    loss, parts = bins_loss(logits, angles, BINS, alpha=1.0)
    assert parts["ce"] == pytest.approx(0.0, abs=1e-6)
    # expectation = 3 * bin - 99 -> errors 0, 0 - (3 * 33 - 99) = 0, 98.9 - 96 = 2.9
    assert parts["mse"] == pytest.approx(2.9**2 / 3, rel=1e-4)
    loss, parts = bins_loss(logits, torch.full((1, 3), NAN), BINS, alpha=1.0)
    assert loss.item() == 0.0


def test_cosine_affinity_and_pair_loss():
    features = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]).view(1, 2, 1, 3)  # 3 positions, 2 channels
    affinity = cosine_affinity(features)[0]
    expected = torch.tensor([[1.0, 0.0, 1 / math.sqrt(2)], [0.0, 1.0, 1 / math.sqrt(2)],
                             [1 / math.sqrt(2), 1 / math.sqrt(2), 1.0]])  # fmt: skip
    torch.testing.assert_close(affinity, expected)
    assert kd_pair_loss([features], [3 * features]).item() == pytest.approx(0.0, abs=1e-7)  # scale-free


def test_kd_heatmap_loss_weights_the_teachers_peaks():
    teacher = torch.zeros(1, 1, 2, 2)
    teacher[0, 0, 0, 0] = 1.0  # one peak cell
    student = torch.zeros(1, 1, 2, 2)
    assert kd_heatmap_loss(student, teacher, foreground=10.0).item() == pytest.approx((1 + 10) * 1.0 / 4)
    assert kd_heatmap_loss(student + 0.5, teacher, foreground=0.0).item() == pytest.approx((0.25 * 3 + 0.25) / 4)
    assert kd_heatmap_loss(teacher, teacher, foreground=10.0).item() == 0.0
    negative = -teacher  # a teacher's undershoot weighs 1, not below
    assert kd_heatmap_loss(student, negative, foreground=10.0).item() == pytest.approx(1.0 / 4)


def test_heatmap_mse_foreground_weighting():
    landmarks = torch.tensor([[[13.5, 9.5]]])  # centre of cell (3, 2), stride 4
    zeros = torch.zeros(1, 1, 8, 8)
    target = gaussian_heatmaps(landmarks, (8, 8), 4, 1.0)
    plain = heatmap_mse(zeros, landmarks, 4, 1.0)
    assert plain.item() == pytest.approx((target**2).mean().item(), rel=1e-6)
    weighted = heatmap_mse(zeros, landmarks, 4, 1.0, foreground=10.0)
    assert weighted.item() == pytest.approx(((1 + 10 * target) * target**2).mean().item(), rel=1e-6)
    assert heatmap_mse(target, landmarks, 4, 1.0, foreground=10.0).item() == 0.0


def test_wing_is_logarithmic_inside_w_and_linear_outside():
    x = torch.tensor([0.0, 1.0, -4.0, 9.99, 10.0, 25.0])
    w, eps = 10.0, 2.0
    joint = w - w * math.log(1 + w / eps)  # C
    expected = [0.0, w * math.log(1.5), w * math.log(3.0), w * math.log(1 + 9.99 / 2), 10.0 - joint, 25.0 - joint]
    torch.testing.assert_close(wing(x, w, eps), torch.tensor(expected))
    below, above = wing(torch.tensor([10.0 - 1e-4, 10.0 + 1e-4]), w, eps).tolist()
    assert below == pytest.approx(above, abs=1e-3) and above == pytest.approx(w * math.log(6), abs=1e-3)  # continuous
    x = torch.tensor([1.0, 20.0], requires_grad=True)
    wing(x, w, eps).sum().backward()
    assert x.grad.tolist() == pytest.approx([w / (eps + 1.0), 1.0])  # w / (eps + |x|) inside, slope 1 outside


def test_pfld_loss_with_wing_replaces_the_squared_distance():
    points = torch.tensor([[[0.5, 0.5]]])  # unit crop coordinates
    batch = {"landmarks": torch.tensor([[[61.6, 56.0]]]), "pose": torch.zeros(1, 3)}  # x off by 0.05 unit
    config = LossConfig(kind="wing")  # errors x 64 px: 3.2 px on x, 0 on y
    loss, parts = pfld_loss(points, torch.zeros(1, 3), batch, (112, 112), config)
    assert loss.item() == pytest.approx(10 * math.log(1 + 3.2 / 2), rel=1e-5) and parts["wing"] == loss.item()
    _, parts = pfld_loss(points, torch.zeros(1, 3), batch, (112, 112))
    assert parts["l2"] == pytest.approx(0.05**2, rel=1e-4)


def test_adaptive_wing_value_and_gradient_at_known_points():
    omega, eps, alpha, theta = 14.0, 1.0, 2.1, 0.5
    target = torch.tensor([0.0, 1.0, 0.0, 0.5])
    pred = torch.tensor([0.3, 0.8, 0.9, 0.5], requires_grad=True)
    loss = adaptive_wing(pred, target, alpha, omega, eps, theta)
    small_bg = omega * math.log(1 + 0.3**2.1)  # background, |e| = 0.3 < theta: exponent alpha - 0 = 2.1
    small_fg = omega * math.log(1 + 0.2**1.1)  # foreground y = 1: exponent 1.1
    slope = omega * 2.1 * 0.5**1.1 / (1 + 0.5**2.1)  # A at y = 0
    large_bg = slope * 0.9 - (theta * slope - omega * math.log(1 + 0.5**2.1))  # |e| = 0.9 > theta: A|e| - C
    torch.testing.assert_close(loss.detach(), torch.tensor([small_bg, small_fg, large_bg, 0.0]))
    loss.sum().backward()
    grad_bg = omega * 2.1 * 0.3**1.1 / (1 + 0.3**2.1)
    grad_fg = -omega * 1.1 * 0.2**0.1 / (1 + 0.2**1.1)  # pred below the target: negative
    torch.testing.assert_close(pred.grad, torch.tensor([grad_bg, grad_fg, slope, 0.0]))


def test_adaptive_wing_is_continuous_at_theta():
    target = torch.tensor([0.0, 0.3, 1.0])
    below = adaptive_wing(target + 0.5 - 1e-5, target)
    above = adaptive_wing(target + 0.5 + 1e-5, target)
    torch.testing.assert_close(below, above, atol=1e-3, rtol=0)


def test_awing_weight_map_dilates_the_foreground():
    target = torch.zeros(1, 1, 5, 5)
    target[0, 0, 2, 2], target[0, 0, 0, 4] = 0.9, 0.1  # one cell above the 0.2 threshold, one below
    weights = awing_weight_map(target)
    expected = torch.ones(5, 5)
    expected[1:4, 1:4] = 11.0  # 10 * dilate(target > 0.2, 3x3) + 1
    torch.testing.assert_close(weights[0, 0], expected)


def test_heatmap_awing_is_zero_at_the_target_and_selected_by_kind():
    landmarks = torch.tensor([[[13.5, 9.5]]])
    target = gaussian_heatmaps(landmarks, (8, 8), 4, 1.0)
    config = LossConfig(kind="adaptive_wing")
    assert heatmap_awing(target, landmarks, 4, 1.0, config).item() == pytest.approx(0.0, abs=1e-7)
    zeros = torch.zeros(1, 1, 8, 8)
    expected = (awing_weight_map(target) * adaptive_wing(zeros, target)).mean()
    assert heatmap_loss(zeros, landmarks, 4, 1.0, 10.0, config).item() == pytest.approx(expected.item(), rel=1e-6)
    assert heatmap_loss(zeros, landmarks, 4, 1.0, 10.0).item() == heatmap_mse(zeros, landmarks, 4, 1.0, 10.0).item()
    nothing = torch.full((1, 1, 2), NAN)  # no labelled point: exactly 0
    assert heatmap_awing(zeros, nothing, 4, 1.0, config).item() == 0.0


@pytest.mark.parametrize("field, value", [("wing_width", 0.0), ("awing_alpha", 1.0), ("awing_theta", NAN)])
def test_loss_config_rejects_bad_parameters(field, value):
    with pytest.raises(ValueError, match=field):
        LossConfig(kind="wing", **{field: value})
