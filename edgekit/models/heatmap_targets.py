"""Gaussian heatmap targets for heatmap models, on the cell grid of docs/ARCHITECTURE.md.

Cell (j, i) <-> crop px ``x = j * stride + (stride - 1) / 2``; a target is centred at the inverse of that map, so a
landmark between cell centres gets a sub-cell Gaussian and decoding the target returns the landmark (to a quarter
cell with ``heatmap_argmax``).
"""
from __future__ import annotations

import torch
from torch import Tensor


def crop_to_cells(points: Tensor, stride: int) -> Tensor:
    """Crop px (..., 2) -> continuous heatmap cell coordinates (..., 2); the inverse of the decode's cell map."""
    return (points - (stride - 1) / 2) / stride


def gaussian_heatmaps(landmarks: Tensor, size: tuple[int, int], stride: int, sigma: float) -> Tensor:
    """landmarks (B, N, 2) crop px (NaN = missing) -> (B, N, H, W) targets, peak 1 at the landmark, sigma in cells.

    ``size`` is (H, W) of the heatmap. Missing landmarks give all-zero maps (and are masked in the loss anyway).
    """
    height, width = size
    cells = crop_to_cells(torch.nan_to_num(landmarks, nan=-1e4), stride)  # (B, N, 2); far away when missing
    cols = torch.arange(width, dtype=landmarks.dtype, device=landmarks.device)
    rows = torch.arange(height, dtype=landmarks.dtype, device=landmarks.device)
    dx2 = (cols - cells[..., 0:1]) ** 2  # (B, N, W)
    dy2 = (rows - cells[..., 1:2]) ** 2  # (B, N, H)
    return torch.exp(-(dy2[..., :, None] + dx2[..., None, :]) / (2 * sigma**2))
