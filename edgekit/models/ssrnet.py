"""SSR-Net-MD (Yang et al. 2018, as run for head pose in the FSA-Net paper): two plain-conv streams fused at three
stages, one SSR stage head per fused map (flattened), 64x64 RGB -> (p, eta, delta), decode ``ssr`` with V = 99.
"""
from __future__ import annotations

from torch import Tensor, nn

from edgekit.models.ssr_common import STAGES, SSRModel, SSRStageHead, TwoStreamBackbone, stack_stages
from edgekit.registry import register_model

FUSED = 16
MAP_CELLS = 8 * 8


class SSRNetMD(SSRModel):
    def __init__(self):
        super().__init__("ssrnet_md", "SSR-Net-MD: two-stream SSR head pose, 3x3 stages, 64 RGB")
        self.backbone = TwoStreamBackbone((16, 16, 32, 32), FUSED, separable=False)
        self.flatten = nn.Flatten()
        self.heads = nn.ModuleList([SSRStageHead(FUSED * MAP_CELLS, bins) for bins in STAGES])

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        maps = self.backbone(x)  # 3 x (B, 16, 8, 8), deepest first
        return stack_stages([head(self.flatten(m)) for head, m in zip(self.heads, maps)])


@register_model("ssrnet_md")
def ssrnet_md() -> SSRNetMD:
    return SSRNetMD()
