"""PIPNet (Jin et al. 2021): a MobileNetV2 / V3 backbone to stride 32 (256x256 input -> 8x8 grid) and five 1x1
heads: score, offset x/y, neighbour offset x/y (10 neighbours). The mean face and neighbour table live in the
HeadSpec, so an exported model needs no side file.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from torch import Tensor, nn

from edgekit.models.base import FaceModel, make_spec
from edgekit.models.blocks import conv_bn_act, mobilenet_v2, mobilenet_v3_large
from edgekit.models.losses import pip_loss
from edgekit.models.pipnet_meanface import MEANFACE_68
from edgekit.registry import register_model
from edgekit.heads import HeadSpec, PipParams

INPUT_SIZE = 256
STRIDE = 32
NUM_NEIGHBORS = 10
HEAD_CHANNELS = 256
OUTPUTS = ("score", "offset_x", "offset_y", "nb_x", "nb_y")


def nearest_neighbors(meanface: tuple[float, ...], count: int) -> tuple[tuple[int, ...], ...]:
    """For each landmark the ``count`` nearest other landmarks of the mean face (2N values), nearest first."""
    points = np.asarray(meanface, dtype=np.float64).reshape(-1, 2)
    distances = np.linalg.norm(points[:, None] - points[None], axis=-1)
    np.fill_diagonal(distances, np.inf)  # never your own neighbour
    order = np.argsort(distances, axis=1, kind="stable")[:, :count]
    return tuple(tuple(int(i) for i in row) for row in order)


def pip_head_spec(meanface: tuple[float, ...] = MEANFACE_68) -> HeadSpec:
    return HeadSpec("pip", OUTPUTS, PipParams(STRIDE, meanface, nearest_neighbors(meanface, NUM_NEIGHBORS)))


class PIPNet(FaceModel):
    def __init__(self, name: str, description: str, backbone: nn.Module, c_out: int, act: Callable[[], nn.Module]):
        super().__init__()
        head = pip_head_spec()
        points = head.num_points
        self.backbone = nn.Sequential(backbone, conv_bn_act(c_out, HEAD_CHANNELS, 1, act=act))  # (B, 256, 8, 8)
        widths = (points, points, points, points * NUM_NEIGHBORS, points * NUM_NEIGHBORS)
        self.heads = nn.ModuleList([nn.Conv2d(HEAD_CHANNELS, c, 1) for c in widths])
        self.spec = make_spec(name, INPUT_SIZE, head, description)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        features = self.backbone(x)
        return tuple(head(features) for head in self.heads)

    def loss(self, train_out: dict[str, Tensor], batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        return pip_loss(self.outputs_of(train_out), batch["landmarks"], self.spec.head.params)


@register_model("pipnet_mbv2")
def pipnet_mbv2(width: float = 0.35) -> PIPNet:
    backbone, channels = mobilenet_v2(width)
    description = f"PIPNet: MobileNetV2 {width}x, 8x8 grid, 68 points + 10 neighbours, 256 RGB"
    return PIPNet("pipnet_mbv2", description, backbone, channels[-1], nn.ReLU6)


@register_model("pipnet_mbv3")
def pipnet_mbv3(width: float = 0.5) -> PIPNet:
    backbone, channels = mobilenet_v3_large(width)
    description = f"PIPNet: MobileNetV3-Large {width}x, 8x8 grid, 68 points + 10 neighbours, 256 RGB"
    return PIPNet("pipnet_mbv3", description, backbone, channels, nn.Hardswish)
