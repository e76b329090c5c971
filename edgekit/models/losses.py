"""Training losses of the zoo. Missing labels are NaN: NaN landmarks (B, N, 2) and NaN pose rows (B, 3) are
masked out, and a batch with nothing labelled gives a loss of exactly 0 (still differentiable).

Units: landmarks in crop pixels, angles in degrees, as in the training batch.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from edgekit.heads import BinsParams, PipParams
from edgekit.models.decode_torch import decode_bins, gather_cells
from edgekit.models.heatmap_targets import gaussian_heatmaps

if TYPE_CHECKING:
    from edgekit.recipe import LossConfig


def visible_points(landmarks: Tensor) -> tuple[Tensor, Tensor]:
    """(B, N, 2) with NaN -> (points with NaN set to 0, (B, N) float mask of the labelled points)."""
    visible = torch.isfinite(landmarks).all(-1)
    return torch.where(visible[..., None], landmarks, 0.0), visible.to(landmarks.dtype)


def known_poses(pose: Tensor) -> tuple[Tensor, Tensor]:
    """(B, 3) degrees with NaN rows -> (poses with NaN set to 0, (B,) float mask of the labelled rows)."""
    known = torch.isfinite(pose).all(-1)
    return torch.where(known[:, None], pose, 0.0), known.to(pose.dtype)


def weighted_mean(values: Tensor, weights: Tensor) -> Tensor:
    """Mean of ``values`` over the entries where ``weights`` (broadcastable 0/1 mask) is set; 0 when none is."""
    weights = weights.expand_as(values)
    return (values * weights).sum() / weights.sum().clamp(min=1.0)


def pose_l1(angles: Tensor, pose: Tensor) -> Tensor:
    """Mean absolute error in degrees over the labelled rows (B, 3)."""
    target, known = known_poses(pose)
    return weighted_mean((angles - target).abs(), known[:, None])


def attribute_weights(attributes: Tensor | None, batch: int, like: Tensor) -> Tensor:
    """PFLD's class weight per sample (B,): 1 + sum_c a_c / frequency_c (rare attributes weigh more); 1 without."""
    if attributes is None:
        return like.new_ones(batch)
    attributes = attributes.to(like.dtype)
    frequency = attributes.mean(0)
    inverse = torch.where(frequency > 0, 1.0 / frequency.clamp(min=1e-6), 0.0)
    return 1.0 + (attributes * inverse).sum(-1)


def squared_distance(diff: Tensor) -> Tensor:
    """(..., 2) point errors -> (...) squared Euclidean distances (PFLD's L2 term)."""
    return (diff**2).sum(-1)


def wing(x: Tensor, width: float = 10.0, curvature: float = 2.0) -> Tensor:
    """Wing loss (Feng et al. 2018), elementwise: w ln(1 + |x|/eps) for |x| < w, else |x| - C with
    C = w - w ln(1 + w/eps), so both pieces meet at |x| = w. ``width`` w and ``curvature`` eps are in the unit of x."""
    size = x.abs()
    joint = width - width * math.log1p(width / curvature)
    return torch.where(size < width, width * torch.log1p(size / curvature), size - joint)


def wing_distance(diff: Tensor, config: LossConfig) -> Tensor:
    """(..., 2) point errors in [0, 1] crop units -> (...) wing(dx) + wing(dy), the errors first scaled to pixels of
    a ``config.wing_scale``-pixel crop (the unit of the paper's w and eps)."""
    return wing(diff * config.wing_scale, config.wing_width, config.wing_curvature).sum(-1)


def pfld_loss(points_unit: Tensor, aux_pose: Tensor, batch: dict[str, Tensor], input_size: tuple[int, int],
              config: LossConfig | None = None) -> tuple[Tensor, dict[str, float]]:  # fmt: skip
    """PFLD: mean over samples of w_attr * (1 + sum_k (1 - cos theta_k)) * sum_n d_n, where d_n = ||error_n||^2
    (``l2``, the default) or wing(error_n) per coordinate (``config.kind == "wing"``).

    points_unit (B, N, 2) in [0, 1] crop units, aux_pose (B, 3) degrees, theta_k = aux - label (radians; 0 for
    unlabelled rows). The ``1 +`` keeps the landmark term alive once the auxiliary net is exact (the paper's weight
    alone vanishes there).
    """
    target, visible = visible_points(batch["landmarks"])
    target = target / target.new_tensor(input_size)
    kind = "l2" if config is None else config.kind
    diff = points_unit - target
    distance = squared_distance(diff) if kind == "l2" else wing_distance(diff, config)
    landmark = (distance * visible).sum(-1)  # (B,)
    pose, known = known_poses(batch.get("pose", torch.full_like(aux_pose, float("nan"))))
    angle_weight = (1 - torch.cos(torch.deg2rad(aux_pose - pose))).sum(-1) * known  # (B,)
    weight = attribute_weights(batch.get("attributes"), landmark.shape[0], landmark) * (1 + angle_weight)
    total = (weight * landmark).mean()
    return total, {"loss": total.item(), kind: landmark.mean().item(), "angle_weight": angle_weight.mean().item()}


def heatmap_mse(heatmaps: Tensor, landmarks: Tensor, stride: int, sigma: float, foreground: float = 0.0) -> Tensor:
    """Mean squared error vs Gaussian targets (peak 1, sigma in cells), over the maps of labelled landmarks.

    Each cell's error is weighted by ``1 + foreground * target``: with 0 this is plain MSE, which sits on the
    all-zero plateau for hundreds of steps (the Gaussian covers ~1% of a 32x32 map); 10 escapes it in ~50.
    """
    target = gaussian_heatmaps(landmarks, heatmaps.shape[-2:], stride, sigma)
    _, visible = visible_points(landmarks)
    return weighted_mean(((1 + foreground * target) * (heatmaps - target) ** 2).mean((-2, -1)), visible)


def adaptive_wing(pred: Tensor, target: Tensor, alpha: float = 2.1, omega: float = 14.0, epsilon: float = 1.0,
                  theta: float = 0.5) -> Tensor:  # fmt: skip
    """Adaptive Wing loss (Wang et al. 2019), elementwise on heatmap cells, target y in [0, 1]:
    omega ln(1 + |(y - p)/epsilon|^(alpha - y)) for |y - p| < theta, else A |y - p| - C, with A and C making value and
    slope continuous at theta. The exponent alpha - y > 1 lets the loss (and its gradient) fade on foreground cells
    near the target while background cells keep an L2-like shape."""
    error = (pred - target).abs()
    power = alpha - target
    ratio = theta / epsilon
    slope = omega * power * ratio ** (power - 1) / (epsilon * (1 + ratio**power))  # A
    offset = theta * slope - omega * torch.log1p(ratio**power)  # C
    return torch.where(error < theta, omega * torch.log1p((error / epsilon) ** power), slope * error - offset)


def awing_weight_map(target: Tensor, threshold: float = 0.2, weight: float = 10.0) -> Tensor:
    """The paper's weighted loss map W = weight * dilate(target > threshold, 3x3) + 1, per map (B, N, H, W)."""
    foreground = (target > threshold).to(target.dtype)
    return weight * F.max_pool2d(foreground, 3, stride=1, padding=1) + 1


def heatmap_awing(heatmaps: Tensor, landmarks: Tensor, stride: int, sigma: float, config: LossConfig) -> Tensor:
    """Mean of W * AWing(heatmap, Gaussian target) over the cells of the labelled landmarks' maps."""
    target = gaussian_heatmaps(landmarks, heatmaps.shape[-2:], stride, sigma)
    loss = adaptive_wing(heatmaps, target, config.awing_alpha, config.awing_omega, config.awing_epsilon,
                         config.awing_theta)  # fmt: skip
    weights = awing_weight_map(target, config.awing_threshold, config.awing_weight)
    _, visible = visible_points(landmarks)
    return weighted_mean((weights * loss).mean((-2, -1)), visible)


def heatmap_loss(heatmaps: Tensor, landmarks: Tensor, stride: int, sigma: float, foreground: float,
                 config: LossConfig | None = None) -> Tensor:  # fmt: skip
    """The heatmap models' loss: ``heatmap_mse`` (kind ``mse``, the default) or ``heatmap_awing``."""
    if config is None or config.kind == "mse":
        return heatmap_mse(heatmaps, landmarks, stride, sigma, foreground)
    return heatmap_awing(heatmaps, landmarks, stride, sigma, config)


def cosine_affinity(features: Tensor) -> Tensor:
    """(B, C, H, W) -> (B, HW, HW) cosine similarity between every pair of spatial positions (no softmax)."""
    flat = F.normalize(features.flatten(2), dim=1, eps=1e-6)
    return flat.transpose(1, 2) @ flat


def kd_pixel_loss(student: Sequence[Tensor], teacher: Sequence[Tensor]) -> Tensor:
    """Feature-aligned distillation: sum over stages of MSE(lifted student feature, teacher feature)."""
    return sum(F.mse_loss(s, t) for s, t in zip(student, teacher, strict=True))


def kd_pair_loss(student: Sequence[Tensor], teacher: Sequence[Tensor]) -> Tensor:
    """Feature-similarity distillation: sum over stages of MSE between the cosine affinity graphs."""
    return sum(F.mse_loss(cosine_affinity(s), cosine_affinity(t)) for s, t in zip(student, teacher, strict=True))


def kd_heatmap_loss(student: Tensor, teacher: Tensor, foreground: float) -> Tensor:
    """Output distillation: MSE between (B, N, H, W) student and teacher heatmaps, each cell weighted by
    ``1 + foreground * teacher`` (clamped to [0, 1]) as ``heatmap_mse`` weights its Gaussian targets."""
    return ((1 + foreground * teacher.clamp(0, 1)) * (student - teacher) ** 2).mean()


def pip_loss(outputs: Sequence[Tensor], landmarks: Tensor, params: PipParams, score_weight: float = 10.0) -> tuple[
    Tensor, dict[str, float]
]:
    """PIPNet: score_weight * MSE(score maps, one-hot GT cell) + L1 on own and neighbour offsets at the GT cell.

    Offsets are in cells: GT cell col = floor(x / stride) (clamped), offset = x / stride - col, so that the decode
    ``x = (col + offset) * stride`` inverts it; a neighbour's offset is taken from the landmark's own GT cell.
    """
    score, offset_x, offset_y, nb_x, nb_y = outputs
    batch, num_points, height, width = score.shape
    points, visible = visible_points(landmarks)
    cells = points / params.stride  # (B, N, 2) continuous cell coordinates
    col = cells[..., 0].floor().clamp(0, width - 1).long()
    row = cells[..., 1].floor().clamp(0, height - 1).long()
    index = row * width + col  # (B, N)
    one_hot = torch.zeros_like(score.flatten(2)).scatter_(-1, index[..., None], 1.0)
    score_loss = weighted_mean(((score.flatten(2) - one_hot) ** 2).mean(-1), visible)
    origin = torch.stack([col, row], -1).to(points.dtype)  # (B, N, 2)
    own = torch.cat([gather_cells(m.flatten(2).unsqueeze(2), index) for m in (offset_x, offset_y)], -1)
    own_loss = weighted_mean((own - (cells - origin)).abs(), visible[..., None])
    neighbors = torch.as_tensor(params.neighbors, dtype=torch.long, device=score.device)  # (N, nb)
    nb_pred = torch.stack(
        [gather_cells(m.reshape(batch, num_points, params.num_neighbors, -1), index) for m in (nb_x, nb_y)], -1
    )  # (B, N, nb, 2)
    nb_target = cells[:, neighbors] - origin[:, :, None]
    nb_mask = (visible[:, :, None] * visible[:, neighbors])[..., None]
    nb_loss = weighted_mean((nb_pred - nb_target).abs(), nb_mask)
    total = score_weight * score_loss + own_loss + nb_loss
    parts = {"loss": total.item(), "score": score_loss.item(), "offset": own_loss.item(), "nb": nb_loss.item()}
    return total, parts


def bins_loss(logits: Tensor, pose: Tensor, params: BinsParams, alpha: float) -> tuple[Tensor, dict[str, float]]:
    """Hopenet: cross-entropy on the bin (``digitize(angle, bins) - 1``, clamped) + alpha * MSE of the expectation."""
    target, known = known_poses(pose)
    num_bins = logits.shape[-1]
    bins = torch.floor((target - params.start) / params.width).clamp(0, num_bins - 1).long()
    ce = F.cross_entropy(logits.reshape(-1, num_bins), bins.reshape(-1), reduction="none").view_as(target)
    squared = (decode_bins(logits, params) - target) ** 2
    ce_mean, mse_mean = weighted_mean(ce, known[:, None]), weighted_mean(squared, known[:, None])
    total = ce_mean + alpha * mse_mean
    return total, {"loss": total.item(), "ce": ce_mean.item(), "mse": mse_mean.item()}
