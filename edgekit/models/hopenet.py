"""Hopenet-style head pose (Ruiz et al. 2018) on MobileNetV2: three 66-bin classifiers (yaw, pitch, roll) on the
pooled features of a 112x112 RGB crop; output (B, 3, 66) logits, decode ``bins`` (3 degrees, start -99).
Loss: cross-entropy on the bin + alpha * MSE of the expected angle (field.md §2.5).
"""
from __future__ import annotations

from torch import Tensor, nn

from edgekit.heads import BinsParams, HeadSpec
from edgekit.models.base import FaceModel, make_spec
from edgekit.models.blocks import conv_bn_act, mobilenet_v2
from edgekit.models.losses import bins_loss
from edgekit.registry import register_model

INPUT_SIZE = 112
NUM_BINS = 66
LAST_CHANNELS = 1280


class HopenetMBV2(FaceModel):
    def __init__(self, width: float = 1.0, alpha: float = 1.0, input_size: int = INPUT_SIZE):
        super().__init__()
        if input_size not in (112, 160, 224):
            raise ValueError(f"input_size must be 112, 160 or 224, got {input_size}")
        backbone, channels = mobilenet_v2(width)
        self.features = nn.Sequential(
            backbone, conv_bn_act(channels[-1], LAST_CHANNELS, 1, act=nn.ReLU6), nn.AdaptiveAvgPool2d(1), nn.Flatten()
        )
        self.fc = nn.Linear(LAST_CHANNELS, 3 * NUM_BINS)
        self.alpha = alpha
        head = HeadSpec("bins", ("bins",), BinsParams(count=NUM_BINS, width=3.0, start=-99.0))
        description = f"Hopenet: MobileNetV2 {width}x, 3 x 66 bins, {input_size} RGB"
        self.spec = make_spec("hopenet_mbv2", input_size, head, description)

    def forward(self, x: Tensor) -> tuple[Tensor]:
        return (self.fc(self.features(x)).view(-1, 3, NUM_BINS),)

    def loss(self, train_out: dict[str, Tensor], batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        return bins_loss(train_out["bins"], batch["pose"], self.spec.head.params, self.alpha)


@register_model("hopenet_mbv2")
def hopenet_mbv2(**kwargs) -> HopenetMBV2:
    return HopenetMBV2(**kwargs)
