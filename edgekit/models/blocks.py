"""Building blocks shared by the zoo (no torchvision here): conv-BN-act, MobileNetV2/V3 inverted residuals,
ResNet basic block, separable conv, and MobileNetV2/V3 feature extractors.

Every depthwise conv is pure depthwise (groups == in == out): channel-multiplier grouped convs are pathological
in ORT INT8 (toolchain.md §6).
"""
from __future__ import annotations

from typing import Callable

from torch import Tensor, nn

Activation = Callable[[], nn.Module]


def make_divisible(value: float, divisor: int = 8, minimum: int | None = None) -> int:
    """Round channels to a multiple of ``divisor`` without dropping more than 10% (MobileNet's rule)."""
    minimum = minimum or divisor
    rounded = max(minimum, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def conv_bn_act(
    c_in: int, c_out: int, kernel: int = 3, stride: int = 1, groups: int = 1, act: Activation | None = nn.ReLU
) -> nn.Sequential:
    """Conv (same padding, no bias) + BN (+ activation when ``act`` is not None)."""
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
    ]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


def depthwise_bn_act(
    channels: int, kernel: int = 3, stride: int = 1, act: Activation | None = nn.ReLU
) -> nn.Sequential:
    return conv_bn_act(channels, channels, kernel, stride, groups=channels, act=act)


class SeparableConv(nn.Sequential):
    """Keras SeparableConv2D + BN + activation: depthwise k x k, then pointwise 1x1 (no activation in between)."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1, act: Activation = nn.ReLU):
        super().__init__(
            nn.Conv2d(c_in, c_in, kernel, stride, kernel // 2, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
            act(),
        )


class SqueezeExcite(nn.Module):
    """MobileNetV3 SE: global pool -> 1x1 reduce (ReLU) -> 1x1 expand (hard-sigmoid) -> channel scale."""

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        hidden = make_divisible(channels / reduction)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(),
            nn.Conv2d(hidden, channels, 1),
            nn.Hardsigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gate(x)


class InvertedResidual(nn.Module):
    """MobileNetV2 block (expand 1x1 -> depthwise -> project 1x1, linear bottleneck, residual when shapes match).

    With ``se=True, act=nn.Hardswish`` it is the MobileNetV3 block.
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        stride: int = 1,
        expand: float = 6.0,
        kernel: int = 3,
        act: Activation = nn.ReLU6,
        se: bool = False,
    ):
        super().__init__()
        hidden = int(round(c_in * expand))
        layers: list[nn.Module] = []
        if hidden != c_in:
            layers.append(conv_bn_act(c_in, hidden, 1, act=act))
        layers.append(depthwise_bn_act(hidden, kernel, stride, act=act))
        if se:
            layers.append(SqueezeExcite(hidden))
        layers.append(conv_bn_act(hidden, c_out, 1, act=None))
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: Tensor) -> Tensor:
        y = self.body(x)
        return x + y if self.residual else y


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 conv-BN, identity or 1x1-conv shortcut, ReLU after the sum."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(conv_bn_act(c_in, c_out, 3, stride), conv_bn_act(c_out, c_out, 3, act=None))
        self.shortcut = (
            nn.Identity() if stride == 1 and c_in == c_out else conv_bn_act(c_in, c_out, 1, stride, act=None)
        )
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


# MobileNetV2 stages: (expand t, channels c, repeats n, first stride s)
MBV2_SETTINGS = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
)  # fmt: skip

# MobileNetV3-Large blocks: (kernel, expand size, channels, SE, activation, stride)
MBV3_LARGE = (
    (3, 16, 16, False, "RE", 1), (3, 64, 24, False, "RE", 2), (3, 72, 24, False, "RE", 1),
    (5, 72, 40, True, "RE", 2), (5, 120, 40, True, "RE", 1), (5, 120, 40, True, "RE", 1),
    (3, 240, 80, False, "HS", 2), (3, 200, 80, False, "HS", 1), (3, 184, 80, False, "HS", 1),
    (3, 184, 80, False, "HS", 1), (3, 480, 112, True, "HS", 1), (3, 672, 112, True, "HS", 1),
    (5, 672, 160, True, "HS", 2), (5, 960, 160, True, "HS", 1), (5, 960, 160, True, "HS", 1),
)  # fmt: skip


def mobilenet_v2(width: float = 1.0, in_channels: int = 3) -> tuple[nn.Sequential, list[int]]:
    """MobileNetV2 features to stride 32 without the final 1x1 conv.

    Returns the module (an ``nn.Sequential`` of the stem and one ``nn.Sequential`` per stage, so callers can tap
    intermediate stages) and the output channels of each of its children.
    """
    c_prev = make_divisible(32 * width)
    children: list[nn.Module] = [conv_bn_act(in_channels, c_prev, 3, 2, act=nn.ReLU6)]
    channels = [c_prev]
    for t, c, n, s in MBV2_SETTINGS:
        c_out = make_divisible(c * width)
        blocks = [InvertedResidual(c_prev if i == 0 else c_out, c_out, s if i == 0 else 1, t) for i in range(n)]
        children.append(nn.Sequential(*blocks))
        channels.append(c_out)
        c_prev = c_out
    return nn.Sequential(*children), channels


def mobilenet_v3_large(width: float = 1.0, in_channels: int = 3) -> tuple[nn.Sequential, int]:
    """MobileNetV3-Large features to stride 32 (before its last 1x1 conv); returns (module, output channels)."""
    c_prev = make_divisible(16 * width)
    layers: list[nn.Module] = [conv_bn_act(in_channels, c_prev, 3, 2, act=nn.Hardswish)]
    for kernel, expand_size, c, se, act_name, stride in MBV3_LARGE:
        c_out = make_divisible(c * width)
        act = nn.Hardswish if act_name == "HS" else nn.ReLU
        expand = make_divisible(expand_size * width) / c_prev
        layers.append(InvertedResidual(c_prev, c_out, stride, expand, kernel, act, se))
        c_prev = c_out
    return nn.Sequential(*layers), c_prev
