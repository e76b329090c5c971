"""PFLD (Guo et al. 2019; PFLD-pytorch layout): MobileNetV2 inverted residuals, multi-scale fusion of pooled
14x14, 7x7 and 1x1 features, FC -> 2N values in [0, 1] of a 112x112 RGB crop. A training-only auxiliary net on the
28x28 features of the 4th block predicts yaw/pitch/roll for the loss weight.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from edgekit.models.base import FaceModel, make_spec
from edgekit.models.blocks import InvertedResidual, conv_bn_act, depthwise_bn_act, make_divisible
from edgekit.models.losses import pfld_loss
from edgekit.registry import register_model
from edgekit.heads import HeadSpec, RegressionParams

INPUT_SIZE = 112
NUM_POINTS = 68


def repeat_blocks(c_in: int, c_out: int, stride: int, expand: float, count: int) -> nn.Sequential:
    """``count`` inverted residuals; only the first changes channels / stride."""
    return nn.Sequential(*[InvertedResidual(c_in if i == 0 else c_out, c_out, stride if i == 0 else 1, expand)
                           for i in range(count)])  # fmt: skip


class AuxiliaryNet(nn.Module):
    """(B, c, 28, 28) 4th-block features -> (B, 3) yaw, pitch, roll in degrees. Training only, never exported."""

    def __init__(self, c_in: int, width: float):
        super().__init__()
        wide, narrow = make_divisible(128 * width), make_divisible(32 * width)
        self.features = nn.Sequential(
            conv_bn_act(c_in, wide, 3, 2),  # 14x14
            conv_bn_act(wide, wide, 3, 1),
            conv_bn_act(wide, narrow, 3, 2),  # 7x7
            conv_bn_act(narrow, wide, 7, 1),
            nn.AdaptiveMaxPool2d(1),
            nn.Flatten(),
        )
        self.fc = nn.Sequential(nn.Linear(wide, narrow), nn.ReLU(), nn.Linear(narrow, 3))

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.features(x))


class PFLD(FaceModel):
    """``blocks28`` / ``blocks14``: inverted residuals at 28x28 (the first one strides 56 -> 28) and at 14x14 after
    the strided one; PFLD's are 5 and 6."""

    loss_kinds = ("l2", "wing")

    def __init__(self, name: str, width: float, blocks28: int = 5, blocks14: int = 6):
        super().__init__()
        c64, c128 = make_divisible(64 * width), make_divisible(128 * width)
        # The multi-scale head keeps full width for every variant: it costs ~0.3 M MACs, and scaled by 0.25 it left
        # the FC only 48 features for 136 outputs (val NME stalled at ~15% on ytf68 where the backbone could do far
        # better). Only the backbone is thinned.
        t16, t32, t128 = 16, 32, 128
        self.stem = nn.Sequential(conv_bn_act(3, c64, 3, 2), depthwise_bn_act(c64))  # 56x56
        self.block4 = repeat_blocks(c64, c64, 2, 2, blocks28)  # 28x28: the auxiliary net's input
        self.body = nn.Sequential(repeat_blocks(c64, c128, 2, 2, 1), repeat_blocks(c128, c128, 1, 4, blocks14))  # 14x14
        self.scale1 = InvertedResidual(c128, t16, 1, 2)  # 14x14x16
        self.scale2 = conv_bn_act(t16, t32, 3, 2)  # 7x7x32
        self.scale3 = nn.Sequential(nn.Conv2d(t32, t128, 7), nn.ReLU())  # 1x1x128
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(t16 + t32 + t128, 2 * NUM_POINTS)
        self.aux = AuxiliaryNet(c64, width)
        head = HeadSpec("regression", ("landmarks",), RegressionParams(NUM_POINTS))
        self.spec = make_spec(name, INPUT_SIZE, head, f"PFLD {width}x: MobileNetV2 regressor, 68 points, 112 RGB")

    def landmarks_from(self, block4: Tensor) -> Tensor:
        """(B, c, 28, 28) -> (B, 136) x0 y0 x1 y1 ... in [0, 1] crop units."""
        s1 = self.scale1(self.body(block4))
        s2 = self.scale2(s1)
        s3 = self.scale3(s2)
        return self.fc(torch.cat([self.pool(s1), self.pool(s2), self.pool(s3)], dim=1))

    def forward(self, x: Tensor) -> tuple[Tensor]:
        return (self.landmarks_from(self.block4(self.stem(x))),)

    def forward_train(self, x: Tensor) -> dict[str, Tensor]:
        block4 = self.block4(self.stem(x))
        return {"landmarks": self.landmarks_from(block4), "aux_pose": self.aux(block4)}

    def loss(self, train_out: dict[str, Tensor], batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        points = train_out["landmarks"].reshape(-1, NUM_POINTS, 2)
        return pfld_loss(points, train_out["aux_pose"], batch, self.spec.preprocess.input_size, self.loss_config)


@register_model("pfld_0.25x")
def pfld_025x() -> PFLD:
    # 3 + 4 blocks instead of 5 + 6: 27 % less time in LiteRT INT8 (measured with the same export), the cost that
    # brings it to a quarter of MediaPipe's face mesh at 1 thread (docs/BENCHMARKS.md).
    return PFLD("pfld_0.25x", 0.25, blocks28=3, blocks14=4)


@register_model("pfld_1x")
def pfld_1x() -> PFLD:
    return PFLD("pfld_1x", 1.0)
