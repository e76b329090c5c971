"""Building blocks: channel rounding, residual wiring, backbone strides."""
from __future__ import annotations

import torch

from edgekit.models.blocks import (
    BasicBlock, InvertedResidual, SeparableConv, SqueezeExcite, make_divisible, mobilenet_v2, mobilenet_v3_large,
)  # fmt: skip


def test_make_divisible():
    assert [make_divisible(v) for v in (32 * 0.35, 16, 24 * 0.5, 320 * 0.35, 3.0)] == [16, 16, 16, 112, 8]


def test_inverted_residual_wiring():
    assert InvertedResidual(16, 16, 1, 6).residual and not InvertedResidual(16, 24, 1, 6).residual
    assert not InvertedResidual(16, 16, 2, 6).residual
    block = InvertedResidual(16, 16, 1, 1)  # expand 1: no expansion conv
    assert len(block.body) == 2
    mbv3_block = InvertedResidual(16, 24, 2, 4, 5, torch.nn.Hardswish, se=True)
    assert any(isinstance(m, SqueezeExcite) for m in mbv3_block.modules())


def test_shapes_and_strides():
    x = torch.zeros(1, 16, 32, 32)
    assert BasicBlock(16, 32, 2)(x).shape == (1, 32, 16, 16)
    assert SeparableConv(16, 8)(x).shape == (1, 8, 32, 32)
    v2, channels = mobilenet_v2(0.5)
    assert v2(torch.zeros(1, 3, 64, 64)).shape == (1, channels[-1], 2, 2) and channels[-1] == 160
    v3, c_out = mobilenet_v3_large(0.5)
    assert v3(torch.zeros(1, 3, 64, 64)).shape == (1, c_out, 2, 2) and c_out == 80
