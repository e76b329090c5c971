"""Stacked hourglass (Newell et al. 2016) for face landmarks: K heatmaps at 64x64 of a 256x256 RGB crop.

Layout (the paper's, widths scaled by ``channels`` c; the paper has c = 256):
- stem: 7x7 conv stride 2 (c/4) + BN + ReLU, a residual to c/2 at 128x128, 2x2 max pool, residuals to c/2 and c
  at 64x64;
- per stack: an hourglass of depth 4 (64 -> 4 -> 64; each level a residual skip branch and, below it, max pool,
  residual, the next level, residual, nearest x2 upsampling, added to the skip), a residual, 1x1 conv + BN + ReLU
  and a 1x1 head to K heatmaps. Between stacks the features and the heatmaps (each through a 1x1 conv) are added
  back into the stream the next stack reads;
- residual module: pre-activation bottleneck BN-ReLU-1x1 (c/2), BN-ReLU-3x3 (c/2), BN-ReLU-1x1 (c), plus the input
  (or a 1x1 conv of it when the width changes).

Every stack's heatmaps are supervised (the loss is summed over stacks); ``forward`` (inference, export) returns the
last stack's only, decoded by ``heatmap_dark`` (stride 4, DARK with the training sigma). As a MobileFAN teacher,
``teach`` resizes the student's 128x128 crops to 256 and returns the last hourglass's up-path outputs at
8x8, 16x16 and 32x32 (strides 32, 16, 8 here), the grids of the student's three deconv stages.

``hourglass2`` at 256x256 with 68 maps (ONNX MAC count; training images/s: forward + backward + AdamW, batch 16,
1 thread of the project's EPYC shared with other jobs):
  channels 64 (default): 0.60 G MACs, 0.43 M params, ~6 images/s (a 1800-face epoch in ~5 min);
  channels 128: 2.22 G MACs, 1.67 M params, ~1.7 images/s (~18 min an epoch: for a GPU);
  channels 256 (the paper's width): 8.50 G MACs, 6.59 M params.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edgekit.data.schemes import get_scheme
from edgekit.models.base import FaceModel, Lesson, make_spec, resize_to_input
from edgekit.models.blocks import conv_bn_act
from edgekit.models.losses import heatmap_loss
from edgekit.registry import register_model
from edgekit.heads import HeadSpec, HeatmapParams

INPUT_SIZE = 256
STRIDE = 4  # 64x64 heatmaps
DEPTH = 4  # hourglass levels: 64 -> 32 -> 16 -> 8 -> 4 and back


def bn_relu_conv(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    """Pre-activation unit: BN + ReLU, then a same-padded conv (no bias: a BN follows wherever it is read)."""
    conv = nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False)
    return nn.Sequential(nn.BatchNorm2d(c_in), nn.ReLU(), conv)


class Residual(nn.Module):
    """Pre-activation bottleneck: 1x1 to c_out/2, 3x3, 1x1 to c_out; plus the input (1x1 conv when widths differ)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        mid = c_out // 2
        self.body = nn.Sequential(bn_relu_conv(c_in, mid, 1), bn_relu_conv(mid, mid, 3), bn_relu_conv(mid, c_out, 1))
        self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.skip(x) + self.body(x)


class Hourglass(nn.Module):
    """One level: skip residual at this resolution + (max pool, residual, inner level, residual, x2 upsampling)."""

    def __init__(self, depth: int, channels: int):
        super().__init__()
        self.depth = depth
        self.skip = Residual(channels, channels)
        self.down = Residual(channels, channels)
        self.inner = Hourglass(depth - 1, channels) if depth > 1 else Residual(channels, channels)
        self.up = Residual(channels, channels)

    def levels(self, x: Tensor) -> list[Tensor]:
        """The up-path outputs, coarsest first: x / 2**(depth - 1), ..., x resolution (8, 16, 32, 64 for 64)."""
        low = self.down(F.max_pool2d(x, 2))
        inner = self.inner.levels(low) if self.depth > 1 else [self.inner(low)]
        out = self.skip(x) + F.interpolate(self.up(inner[-1]), scale_factor=2.0, mode="nearest")
        return (inner if self.depth > 1 else []) + [out]


class Stack(nn.Module):
    """Hourglass -> residual -> 1x1 conv + BN + ReLU (the stack's features) -> 1x1 head (K heatmaps)."""

    def __init__(self, channels: int, num_points: int):
        super().__init__()
        self.hourglass = Hourglass(DEPTH, channels)
        self.features = nn.Sequential(Residual(channels, channels), conv_bn_act(channels, channels, 1))
        self.head = nn.Conv2d(channels, num_points, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, list[Tensor]]:
        """(features, heatmaps, hourglass up-path levels) of the stream ``x`` (B, c, 64, 64)."""
        levels = self.hourglass.levels(x)
        features = self.features(levels[-1])
        return features, self.head(features), levels


class Remap(nn.Module):
    """Between stacks: stream + 1x1(features) + 1x1(heatmaps), so the next stack sees the previous estimate."""

    def __init__(self, channels: int, num_points: int):
        super().__init__()
        self.features = nn.Conv2d(channels, channels, 1)
        self.heatmaps = nn.Conv2d(num_points, channels, 1)

    def forward(self, stream: Tensor, features: Tensor, heatmaps: Tensor) -> Tensor:
        return stream + self.features(features) + self.heatmaps(heatmaps)


class StackedHourglass(FaceModel):
    """``stacks`` hourglasses of width ``channels`` on a 256 crop; K = the ``scheme``'s point count heatmaps.

    ``sigma``: target Gaussian width in heatmap cells (the paper's 1 px at 64x64); ``foreground``: the heatmap MSE's
    foreground weight (edgekit's escape from the all-zero plateau, see ``heatmap_mse``)."""

    loss_kinds = ("mse", "adaptive_wing")

    def __init__(self, name: str, stacks: int, channels: int = 64, scheme: str = "ibug68", sigma: float = 1.0,
                 foreground: float = 10.0):  # fmt: skip
        super().__init__()
        if stacks < 1 or channels < 8 or channels % 4:
            raise ValueError(f"{name} needs stacks >= 1 and channels a multiple of 4, at least 8 (got {channels})")
        num_points = get_scheme(scheme).num_points
        self.stem = nn.Sequential(
            conv_bn_act(3, channels // 4, 7, 2),  # 128x128
            Residual(channels // 4, channels // 2),
            nn.MaxPool2d(2),  # 64x64
            Residual(channels // 2, channels // 2),
            Residual(channels // 2, channels),
        )
        self.stacks = nn.ModuleList([Stack(channels, num_points) for _ in range(stacks)])
        self.remaps = nn.ModuleList([Remap(channels, num_points) for _ in range(stacks - 1)])
        self.channels, self.sigma, self.foreground = channels, sigma, foreground
        head = HeadSpec("heatmap_dark", ("heatmaps",), HeatmapParams(num_points, STRIDE, sigma=sigma))
        description = f"Stacked hourglass: {stacks} stacks x {channels} ch, {num_points} heatmaps 64x64, 256 RGB"
        self.spec = make_spec(name, INPUT_SIZE, head, description, scheme)

    def run_stacks(self, x: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        """(every stack's heatmaps (B, K, 64, 64), first to last; the last hourglass's up-path levels)."""
        stream = self.stem(x)
        heatmaps: list[Tensor] = []
        for index, stack in enumerate(self.stacks):
            features, maps, levels = stack(stream)
            heatmaps.append(maps)
            if index < len(self.remaps):
                stream = self.remaps[index](stream, features, maps)
        return heatmaps, levels

    def forward(self, x: Tensor) -> tuple[Tensor]:
        return (self.run_stacks(x)[0][-1],)

    def forward_train(self, x: Tensor) -> dict:
        heatmaps, _ = self.run_stacks(x)
        return {"heatmaps": heatmaps[-1], "stack_heatmaps": heatmaps}

    @property
    def feature_channels(self) -> tuple[int, ...]:
        return (self.channels,) * 3

    def teach(self, x: Tensor) -> Lesson:
        """For images of any size (resized to 256): the last hourglass's up-path outputs at 8x8, 16x16, 32x32 and
        its 64x64 heatmaps."""
        heatmaps, levels = self.run_stacks(resize_to_input(x, self.spec))
        return Lesson(levels[-4:-1], heatmaps[-1])

    def loss(self, train_out: dict, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        """Intermediate supervision: the heatmap loss (MSE or the recipe's) of every stack, summed."""
        per_stack = [heatmap_loss(maps, batch["landmarks"], STRIDE, self.sigma, self.foreground, self.loss_config)
                     for maps in train_out["stack_heatmaps"]]  # fmt: skip
        total = torch.stack(per_stack).sum()
        parts = {f"stack{index + 1}": value.item() for index, value in enumerate(per_stack)}
        return total, {"loss": total.item(), "heatmap": per_stack[-1].item(), **parts}


@register_model("hourglass2")
def hourglass2(**kwargs) -> StackedHourglass:
    return StackedHourglass("hourglass2", stacks=2, **kwargs)
