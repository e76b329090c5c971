"""Parts shared by the SSR head-pose nets (FSA-Net, SSR-Net-MD): the two-stream backbone, the per-stage SSR head
and the common spec / loss. Outputs follow docs/ARCHITECTURE.md: ``p`` (B, K, 3, s) logits, ``eta`` (B, K, 3, s)
and ``delta`` (B, K, 3) pre-tanh; softmax / tanh / the SSR formula run in the decode.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from edgekit.models.base import FaceModel, make_spec
from edgekit.models.blocks import SeparableConv, conv_bn_act
from edgekit.models.decode_torch import decode_ssr
from edgekit.models.losses import pose_l1
from edgekit.heads import HeadSpec, SsrParams

INPUT_SIZE = 64
STAGES = (3, 3, 3)
ANGLES = 3  # yaw, pitch, roll
SSR_OUTPUTS = ("p", "eta", "delta")


def ssr_head_spec() -> HeadSpec:
    return HeadSpec("ssr", SSR_OUTPUTS, SsrParams(stages=STAGES, value_range=99.0, lam=1.0))


def stream_conv(c_in: int, c_out: int, act: type[nn.Module], separable: bool) -> nn.Module:
    return SeparableConv(c_in, c_out, act=act) if separable else conv_bn_act(c_in, c_out, 3, act=act)


class TwoStreamBackbone(nn.Module):
    """Two streams (ReLU + average pooling vs Tanh + max pooling), fused by multiplication at three stages.

    64x64 input; streams: conv c0, pool (32x32), 2 x conv c1 -> stage 1 (32x32), pool, 2 x conv c2 -> stage 2
    (16x16), pool, 2 x conv c3 -> stage 3 (8x8). Each stage: 1x1 conv to ``fused`` channels (ReLU on stream 1,
    Tanh on stream 2), product, average-pooled to 8x8. Returns the three maps deepest first (SSR stage 1 = coarsest
    decision = deepest features), each (B, fused, 8, 8).
    """

    def __init__(self, channels: Sequence[int], fused: int, separable: bool):
        super().__init__()
        self.streams = nn.ModuleList()
        self.projections = nn.ModuleList()
        for act, pool in ((nn.ReLU, nn.AvgPool2d), (nn.Tanh, nn.MaxPool2d)):
            c0, c1, c2, c3 = channels
            stages = nn.ModuleList([
                nn.Sequential(stream_conv(3, c0, act, separable), pool(2), stream_conv(c0, c1, act, separable),
                              stream_conv(c1, c1, act, separable)),
                nn.Sequential(pool(2), stream_conv(c1, c2, act, separable), stream_conv(c2, c2, act, separable)),
                nn.Sequential(pool(2), stream_conv(c2, c3, act, separable), stream_conv(c3, c3, act, separable)),
            ])  # fmt: skip
            self.streams.append(stages)
            self.projections.append(nn.ModuleList([nn.Sequential(nn.Conv2d(c, fused, 1), act()) for c in (c1, c2, c3)]))
        self.pools = nn.ModuleList([nn.AvgPool2d(4), nn.AvgPool2d(2), nn.Identity()])

    def forward(self, x: Tensor) -> list[Tensor]:
        outputs: list[list[Tensor]] = []
        for stages, projections in zip(self.streams, self.projections):
            y, maps = x, []
            for stage, projection in zip(stages, projections):
                y = stage(y)
                maps.append(projection(y))
            outputs.append(maps)
        fused = [pool(a * b) for pool, a, b in zip(self.pools, *outputs)]
        return fused[::-1]


class SSRStageHead(nn.Module):
    """One SSR stage from a feature vector: p logits (B, 3, s), eta pre-tanh (B, 3, s), delta pre-tanh (B, 3)."""

    def __init__(self, in_features: int, bins: int, hidden: int = 32):
        super().__init__()
        self.bins = bins
        self.hidden = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU())
        self.p = nn.Linear(hidden, ANGLES * bins)
        self.eta = nn.Linear(hidden, ANGLES * bins)
        self.delta = nn.Linear(hidden, ANGLES)

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        h = self.hidden(features)
        return self.p(h).view(-1, ANGLES, self.bins), self.eta(h).view(-1, ANGLES, self.bins), self.delta(h)


def stack_stages(per_stage: Sequence[tuple[Tensor, Tensor, Tensor]]) -> tuple[Tensor, Tensor, Tensor]:
    """K stage triples -> p (B, K, 3, s), eta (B, K, 3, s), delta (B, K, 3)."""
    return tuple(torch.stack(parts, dim=1) for parts in zip(*per_stage))  # type: ignore[return-value]


class SSRModel(FaceModel):
    """Spec and loss shared by the SSR nets; subclasses build the graph and ``forward`` -> (p, eta, delta)."""

    def __init__(self, name: str, description: str):
        super().__init__()
        self.spec = make_spec(name, INPUT_SIZE, ssr_head_spec(), description)

    def loss(self, train_out: dict[str, Tensor], batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        """L1 on the decoded angles (degrees), over the rows with a known pose."""
        angles = decode_ssr(*self.outputs_of(train_out), self.spec.head.params)
        total = pose_l1(angles, batch["pose"])
        return total, {"loss": total.item(), "mae": total.item()}
