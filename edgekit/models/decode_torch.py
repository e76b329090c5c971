"""Torch decoders for training and validation: the same maths as the numpy ``edgekit.runtime.decode`` (the source of
truth; tests check equality). Regression, bins and SSR decodes are differentiable; argmax-based ones are not.
The decoder table (edgekit.heads, rows in edgekit.runtime.decoders) names the twins at the end of this file.

Layouts (docs/ARCHITECTURE.md): landmarks come back as (B, N, 2) crop pixels, angles as (B, 3) degrees.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from edgekit.heads import BinsParams, HeatmapParams, InputSize, PipParams, SsrParams
from edgekit.runtime.decode import heatmap_dark as numpy_heatmap_dark, heatmap_to_crop
from edgekit.specs import ModelSpec


def decode_regression(values: Tensor, input_size: tuple[int, int]) -> Tensor:
    """(B, 2N) x0 y0 x1 y1 ... in [0, 1] of the crop -> (B, N, 2) crop pixels (x times width, y times height)."""
    scale = values.new_tensor(input_size, dtype=values.dtype)  # (width, height)
    return values.reshape(values.shape[0], -1, 2) * scale


def heatmap_peaks(heatmaps: Tensor) -> tuple[Tensor, Tensor]:
    """Integer (col, row) of each map's maximum (first one on ties, as numpy); both (B, N) int64."""
    width = heatmaps.shape[-1]
    index = heatmaps.flatten(2).argmax(-1)
    return index % width, index // width


def decode_heatmap_argmax(heatmaps: Tensor, stride: int) -> Tensor:
    """(B, N, H, W) -> (B, N, 2) crop px: argmax, a quarter-cell step toward the higher neighbour (interior peaks
    only, per axis), then the cell -> crop map ``x = j * stride + (stride - 1) / 2``."""
    _, _, height, width = heatmaps.shape
    col, row = heatmap_peaks(heatmaps)
    flat = heatmaps.flatten(2)

    def value_at(c: Tensor, r: Tensor) -> Tensor:
        return flat.gather(-1, (r.clamp(0, height - 1) * width + c.clamp(0, width - 1)).unsqueeze(-1)).squeeze(-1)

    step_x = torch.sign(value_at(col + 1, row) - value_at(col - 1, row)) * ((col > 0) & (col < width - 1))
    step_y = torch.sign(value_at(col, row + 1) - value_at(col, row - 1)) * ((row > 0) & (row < height - 1))
    cells = torch.stack([col + 0.25 * step_x, row + 0.25 * step_y], dim=-1).to(heatmaps.dtype)
    return cells * stride + (stride - 1) / 2


def decode_heatmap_dark(heatmaps: Tensor, stride: int, sigma: float) -> Tensor:
    """(B, N, H, W) -> (B, N, 2) crop px by DARK: no gradient to carry, so the numpy ``heatmap_dark`` itself runs on
    a host copy of the maps (one implementation; B x N x H x W floats, small next to the step that made them)."""
    cells = numpy_heatmap_dark(heatmaps.detach().float().cpu().numpy(), sigma)
    return torch.from_numpy(heatmap_to_crop(cells, stride)).to(heatmaps.device)


def gather_cells(maps: Tensor, index: Tensor) -> Tensor:
    """maps (B, C, K, h*w) at index (B, C) -> (B, C, K): each landmark's maps at its own peak cell."""
    return maps.gather(-1, index[:, :, None, None].expand(-1, -1, maps.shape[2], 1)).squeeze(-1)


def decode_pip(score: Tensor, offset_x: Tensor, offset_y: Tensor, nb_x: Tensor, nb_y: Tensor, params: PipParams
               ) -> Tensor:
    """PIPNet: own prediction at the score argmax plus neighbour predictions, averaged per landmark.

    score/offset_* (B, N, h, w); nb_* (B, N*nb, h, w) with channel l * nb + k = landmark l's k-th neighbour.
    crop px ``x = (col + offset) * stride``; landmark m = mean of its own prediction and every prediction made
    for it by landmarks that list it in ``params.neighbors``.
    """
    batch, num_points, _, width = score.shape
    col, row = heatmap_peaks(score)
    index = row * width + col
    own = torch.stack([gather_cells(o.flatten(2).unsqueeze(2), index).squeeze(-1) for o in (offset_x, offset_y)], -1)
    own = (own + torch.stack([col, row], -1)) * params.stride  # (B, N, 2)
    nb_maps = [m.reshape(batch, num_points, params.num_neighbors, -1) for m in (nb_x, nb_y)]
    nb = torch.stack([gather_cells(m, index) for m in nb_maps], -1)  # (B, N, nb, 2) cell offsets
    nb = (nb + torch.stack([col, row], -1)[:, :, None]) * params.stride
    targets = torch.as_tensor(params.neighbors, dtype=torch.long, device=score.device).reshape(-1)  # (N*nb,)
    sums = own.index_add(1, targets, nb.reshape(batch, -1, 2))
    counts = torch.ones(num_points, dtype=own.dtype, device=own.device).index_add(
        0, targets, torch.ones(targets.numel(), dtype=own.dtype, device=own.device)
    )
    return sums / counts[:, None]


def decode_bins(logits: Tensor, params: BinsParams) -> Tensor:
    """(B, 3, count) logits -> (B, 3) degrees = width * sum(softmax * i) + start."""
    index = torch.arange(logits.shape[-1], dtype=logits.dtype, device=logits.device)
    return params.width * (logits.softmax(-1) * index).sum(-1) + params.start


def decode_ssr(p: Tensor, eta: Tensor, delta: Tensor, params: SsrParams) -> Tensor:
    """SSR stagewise regression. p, eta (B, K, 3, s) logits / pre-tanh; delta (B, K, 3) pre-tanh -> (B, 3) degrees.

    y = V * sum_k [sum_i softmax(p_k)(i) * (i - s_k // 2 + tanh(eta_k(i)))] / prod_{j<=k} s_j (1 + lambda tanh(delta_j));
    every stage has the same bin count s (``params.stages``).
    """
    stages = p.shape[-1]
    centre = torch.arange(stages, dtype=p.dtype, device=p.device) - stages // 2
    stage_values = (p.softmax(-1) * (centre + torch.tanh(eta))).sum(-1)  # (B, K, 3)
    divisors = torch.cumprod(stages * (1.0 + params.lam * torch.tanh(delta)), dim=1)  # (B, K, 3)
    return params.value_range * (stage_values / divisors).sum(1)


def decode_torch(outputs: Sequence[Tensor], spec: ModelSpec) -> Tensor:
    """Raw outputs in ``spec.head.outputs`` order -> (B, N, 2) crop px or (B, 3) degrees, by the head kind's torch
    twin in the decoder table (ValueError for a kind without one)."""
    twin = spec.head.decoder.torch_decode()
    return twin(outputs, spec.head.params, spec.preprocess.input_size)


# ----------------------------------------------------------------------------- the decoder table's torch twins
# (outputs, params, input size (w, h)) -> (B, N, 2) crop px / (B, 3) degrees, as the numpy rows


def regression(outputs: Sequence[Tensor], params: object, input_size: InputSize) -> Tensor:
    return decode_regression(outputs[0], input_size)


def pose_regression(outputs: Sequence[Tensor], params: object, input_size: InputSize) -> Tensor:
    return outputs[0]


def heatmap_argmax(outputs: Sequence[Tensor], params: HeatmapParams, input_size: InputSize) -> Tensor:
    return decode_heatmap_argmax(outputs[0], params.stride)


def heatmap_dark(outputs: Sequence[Tensor], params: HeatmapParams, input_size: InputSize) -> Tensor:
    return decode_heatmap_dark(outputs[0], params.stride, params.sigma)


def pip(outputs: Sequence[Tensor], params: PipParams, input_size: InputSize) -> Tensor:
    return decode_pip(*outputs, params)


def bins(outputs: Sequence[Tensor], params: BinsParams, input_size: InputSize) -> Tensor:
    return decode_bins(outputs[0], params)


def ssr(outputs: Sequence[Tensor], params: SsrParams, input_size: InputSize) -> Tensor:
    return decode_ssr(*outputs, params)
