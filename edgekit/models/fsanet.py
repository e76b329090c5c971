"""FSA-Net (Yang et al. CVPR 2019), compact: two separable-conv streams fused at three stages (8x8 maps), fine-grained
structure mapping driven by pixel-level scores, capsule aggregation (dynamic routing) into one capsule per SSR stage,
SSR heads. Three scoring variants (1x1 conv, channel variance, none) share the backbone; their raw outputs are
averaged before the decode (late fusion). Depthwise convs are pure depthwise (toolchain.md §6).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from edgekit.models.ssr_common import STAGES, SSRModel, SSRStageHead, TwoStreamBackbone, stack_stages
from edgekit.registry import register_model

FUSED = 64  # channels of a fused stage map (C)
CELLS = 3 * 8 * 8  # pixels of the three 8x8 stage maps (n)
MAPPED = 4  # pixels each stage's mapping selects (m); 3 m primary capsules
CAPSULE_DIM = 16
ROUTINGS = 3


class PixelScore(nn.Module):
    """Per-pixel importance (B, 1, 8, 8) of a stage map: ``conv`` (1x1 conv + sigmoid), ``var`` (variance over
    channels) or ``none`` (uniform)."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind
        self.conv = nn.Sequential(nn.Conv2d(FUSED, 1, 1), nn.Sigmoid()) if kind == "conv" else None

    def forward(self, x: Tensor) -> Tensor:
        if self.conv is not None:
            return self.conv(x)
        if self.kind == "var":
            return ((x - x.mean(1, keepdim=True)) ** 2).mean(1, keepdim=True)
        return torch.ones_like(x[:, :1])


def squash(s: Tensor) -> Tensor:
    """Capsule non-linearity along the last axis: s |s| / (1 + |s|^2)."""
    norm2 = (s**2).sum(-1, keepdim=True)
    return s * torch.sqrt(norm2 + 1e-7) / (1.0 + norm2)


class CapsuleRouting(nn.Module):
    """Dynamic routing: primary capsules (B, I, C) -> output capsules (B, J, D)."""

    def __init__(self, inputs: int, in_dim: int, outputs: int, out_dim: int):
        super().__init__()
        self.weight = nn.Parameter(0.05 * torch.randn(outputs, inputs, out_dim, in_dim))

    def forward(self, u: Tensor) -> Tensor:
        u_hat = (self.weight * u[:, None, :, None, :]).sum(-1)  # (B, J, I, D); broadcast, friendly to converters
        logits = torch.zeros_like(u_hat[..., 0])  # (B, J, I)
        for iteration in range(ROUTINGS):
            coupling = logits.softmax(dim=1)
            v = squash((coupling[..., None] * u_hat).sum(2))  # (B, J, D)
            if iteration < ROUTINGS - 1:
                logits = logits + (u_hat * v[:, :, None]).sum(-1)
        return v


class FSAHead(nn.Module):
    """One scoring variant: scores -> per-stage (m x n) maps -> 3m primary capsules -> routing -> SSR heads."""

    def __init__(self, kind: str):
        super().__init__()
        self.scores = nn.ModuleList([PixelScore(kind) for _ in STAGES])
        self.mappings = nn.ModuleList([nn.Linear(CELLS, MAPPED * CELLS) for _ in STAGES])
        self.routing = CapsuleRouting(len(STAGES) * MAPPED, FUSED, len(STAGES), CAPSULE_DIM)
        self.ssr = nn.ModuleList([SSRStageHead(CAPSULE_DIM, bins) for bins in STAGES])

    def forward(self, maps: list[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        pixels = torch.cat([m.flatten(2) for m in maps], dim=2).transpose(1, 2)  # (B, n, C)
        scores = torch.cat([score(m).flatten(1) for score, m in zip(self.scores, maps)], dim=1)  # (B, n)
        primary = []
        for mapping in self.mappings:
            weights = torch.sigmoid(mapping(scores)).view(-1, MAPPED, CELLS)  # (B, m, n)
            weights = weights / weights.sum(-1, keepdim=True)
            primary.append(weights @ pixels)  # (B, m, C)
        capsules = self.routing(torch.cat(primary, dim=1))  # (B, 3, D): one per SSR stage
        return stack_stages([head(capsules[:, k]) for k, head in enumerate(self.ssr)])


class FSANet(SSRModel):
    def __init__(self, variants: tuple[str, ...] = ("conv", "var", "none")):
        super().__init__("fsanet", f"FSA-Net: two-stream capsule SSR head pose, fusion of {'/'.join(variants)}, 64 RGB")
        self.backbone = TwoStreamBackbone((16, 32, 64, 128), FUSED, separable=True)
        self.variants = nn.ModuleList([FSAHead(kind) for kind in variants])

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        maps = self.backbone(x)  # 3 x (B, 64, 8, 8), deepest first
        outputs = [head(maps) for head in self.variants]
        return tuple(torch.stack(parts).mean(0) for parts in zip(*outputs))  # type: ignore[return-value]


@register_model("fsanet")
def fsanet() -> FSANet:
    return FSANet()
