"""Every decoder of edgekit, in numpy (float32 in/out, batch first). The single source of truth: torch decoders
used in training are tested against these. Layouts and coordinate maps are in docs/ARCHITECTURE.md; which decode a
head runs is its kind's row of the decoder table (edgekit.heads, rows in edgekit.runtime.decoders).

Heatmap decoders return *cells* (x = column, y = row, float); ``heatmap_to_crop`` maps them to crop pixels.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from edgekit.errors import SpecError

if TYPE_CHECKING:
    from edgekit.heads import HeadSpec

F32 = np.float32


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax in float32 (-inf entries get probability 0)."""
    logits = np.asarray(logits, dtype=F32)
    shifted = logits - logits.max(axis=axis, keepdims=True)
    weights = np.exp(shifted)
    return weights / weights.sum(axis=axis, keepdims=True)


def heatmap_to_crop(cells: np.ndarray, stride: int) -> np.ndarray:
    """Heatmap cell -> crop pixel: x = j * stride + (stride - 1) / 2 (cell centres; same for y)."""
    return (np.asarray(cells, dtype=F32) * F32(stride) + F32((stride - 1) / 2)).astype(F32)


def crop_to_heatmap(pixels: np.ndarray, stride: int) -> np.ndarray:
    """Crop pixel -> heatmap cell, the inverse of ``heatmap_to_crop`` (used for training targets)."""
    return ((np.asarray(pixels, dtype=F32) - F32((stride - 1) / 2)) / F32(stride)).astype(F32)


def regression_landmarks(values: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    """(B, 2N) in [0, 1] crop units, x0 y0 x1 y1 ... -> (B, N, 2) crop pixels (x * width, y * height)."""
    values = np.asarray(values, dtype=F32)
    return values.reshape(len(values), -1, 2) * np.asarray(input_size, dtype=F32)


def _peak_cells(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(B, N, H, W) -> integer (row, col) of the argmax per map, each (B, N)."""
    height, width = heatmaps.shape[-2:]
    flat = heatmaps.reshape(*heatmaps.shape[:-2], height * width).argmax(axis=-1)
    return flat // width, flat % width


def heatmap_argmax(heatmaps: np.ndarray) -> np.ndarray:
    """(B, N, H, W) -> (B, N, 2) cells: argmax, then 0.25 toward the higher neighbour in each axis where the peak
    is not on that axis' border (Simple Baselines / MobileFAN ``final_preds``)."""
    heatmaps = np.asarray(heatmaps, dtype=F32)
    height, width = heatmaps.shape[-2:]
    rows, cols = _peak_cells(heatmaps)
    b, n = np.indices(rows.shape)
    inner_x = (cols > 0) & (cols < width - 1)
    inner_y = (rows > 0) & (rows < height - 1)
    right = heatmaps[b, n, rows, np.minimum(cols + 1, width - 1)]
    left = heatmaps[b, n, rows, np.maximum(cols - 1, 0)]
    down = heatmaps[b, n, np.minimum(rows + 1, height - 1), cols]
    up = heatmaps[b, n, np.maximum(rows - 1, 0), cols]
    x = cols + np.where(inner_x, 0.25 * np.sign(right - left), 0.0)
    y = rows + np.where(inner_y, 0.25 * np.sign(down - up), 0.0)
    return np.stack([x, y], axis=-1).astype(F32)


def blurred_windows(heatmaps: np.ndarray, rows: np.ndarray, cols: np.ndarray, sigma: float, half: int = 2
                    ) -> np.ndarray:
    """(B, N, H, W) maps convolved with a Gaussian of ``sigma`` cells (radius ceil(3 sigma), zeros outside the
    map), evaluated only in the (2 half + 1)^2 window centred on each map's cell (rows, cols) (B, N): float64
    (B, N, 2 half + 1, 2 half + 1): the whole maps are never blurred."""
    radius = max(1, int(np.ceil(3 * sigma)))
    taps = np.exp(-np.arange(-radius, radius + 1, dtype=np.float64) ** 2 / (2 * sigma**2))
    taps /= taps.sum()
    reach = radius + half  # the patch every window value reads
    batch, count, height, width = heatmaps.shape
    patch_rows = rows[..., None] + np.arange(-reach, reach + 1)  # (B, N, P), P = 2 reach + 1
    patch_cols = cols[..., None] + np.arange(-reach, reach + 1)
    inside = (((patch_rows >= 0) & (patch_rows < height))[..., :, None]
              & ((patch_cols >= 0) & (patch_cols < width))[..., None, :])  # (B, N, P, P): zeros outside the map
    flat_index = (np.clip(patch_rows, 0, height - 1)[..., :, None] * width
                  + np.clip(patch_cols, 0, width - 1)[..., None, :]).reshape(batch, count, -1)
    values = np.take_along_axis(np.asarray(heatmaps).reshape(batch, count, -1), flat_index, axis=-1)
    patch = np.where(inside, values.reshape(inside.shape), 0.0).astype(np.float64)
    span = patch_rows.shape[-1]
    band = np.zeros((2 * half + 1, span))  # row i: the taps over patch cells i .. i + 2 radius
    for i in range(2 * half + 1):
        band[i, i : i + 2 * radius + 1] = taps
    return band @ patch @ band.T  # (B, N, 2 half + 1, 2 half + 1)


def heatmap_dark(heatmaps: np.ndarray, sigma: float) -> np.ndarray:
    """(B, N, H, W) -> (B, N, 2) cells by DARK (Zhang et al. 2020, distribution-aware coordinates): blur each map
    with the training Gaussian (``sigma`` cells), take the log, and move from the argmax by one Newton step of that
    log (-Hessian^-1 gradient, central differences over +-2 cells, so only that window is blurred; the paper's
    rescaling of the blurred map to its old peak adds a constant to the log and changes no derivative). Peaks
    within 2 cells of the border, a Hessian that is not a maximum's, or a step longer than a cell keep
    ``heatmap_argmax``'s answer. The step is computed in float64: second differences of nearly flat logs lose too
    much in float32. Training's validation runs this very function (``decode_torch.decode_heatmap_dark``)."""
    heatmaps = np.asarray(heatmaps, dtype=F32)
    height, width = heatmaps.shape[-2:]
    rows, cols = _peak_cells(heatmaps)
    logs = np.log(np.maximum(blurred_windows(heatmaps, rows, cols, sigma), 1e-10))  # (B, N, 5, 5), peak at [2, 2]

    def at(dy: int, dx: int) -> np.ndarray:  # (B, N) log-map values at the peak shifted by (dy, dx)
        return logs[..., 2 + dy, 2 + dx]

    centre = at(0, 0)
    dx, dy = 0.5 * (at(0, 1) - at(0, -1)), 0.5 * (at(1, 0) - at(-1, 0))
    dxx, dyy = 0.25 * (at(0, 2) - 2 * centre + at(0, -2)), 0.25 * (at(2, 0) - 2 * centre + at(-2, 0))
    dxy = 0.25 * (at(1, 1) - at(-1, 1) - at(1, -1) + at(-1, -1))
    det = dxx * dyy - dxy**2
    safe = np.where(det > 0, det, 1.0)
    step_x, step_y = -(dyy * dx - dxy * dy) / safe, -(dxx * dy - dxy * dx) / safe
    newton = ((det > 0) & (dxx < 0) & (np.abs(step_x) <= 1) & (np.abs(step_y) <= 1)
              & (cols >= 2) & (cols < width - 2) & (rows >= 2) & (rows < height - 2))
    refined = np.stack([cols + step_x, rows + step_y], axis=-1)
    return np.where(newton[..., None], refined, heatmap_argmax(heatmaps)).astype(F32)


def soft_argmax(heatmaps: np.ndarray, beta: float = 1.0) -> np.ndarray:
    """(B, N, H, W) -> (B, N, 2) cells: expectation of (col, row) under softmax(beta * h) over all H*W cells."""
    heatmaps = np.asarray(heatmaps, dtype=F32)
    height, width = heatmaps.shape[-2:]
    probs = softmax(F32(beta) * heatmaps.reshape(*heatmaps.shape[:-2], -1)).reshape(heatmaps.shape)
    x = (probs.sum(axis=-2) * np.arange(width, dtype=F32)).sum(axis=-1)
    y = (probs.sum(axis=-1) * np.arange(height, dtype=F32)).sum(axis=-1)
    return np.stack([x, y], axis=-1).astype(F32)


def local_soft_argmax(heatmaps: np.ndarray, beta: float = 1.0, radius: int = 2) -> np.ndarray:
    """(B, N, H, W) -> (B, N, 2) cells: softmax(beta * h) inside the (2r+1)^2 window around the argmax, the window
    clipped at the map borders, then the expected (col, row)."""
    heatmaps = np.asarray(heatmaps, dtype=F32)
    height, width = heatmaps.shape[-2:]
    rows, cols = _peak_cells(heatmaps)
    offsets = np.arange(-radius, radius + 1)
    win_rows = rows[..., None, None] + offsets[:, None]  # (B, N, 2r+1, 1)
    win_cols = cols[..., None, None] + offsets[None, :]  # (B, N, 1, 2r+1)
    inside = (win_rows >= 0) & (win_rows < height) & (win_cols >= 0) & (win_cols < width)
    b, n = np.indices(rows.shape)
    values = heatmaps[b[..., None, None], n[..., None, None],
                      np.clip(win_rows, 0, height - 1), np.clip(win_cols, 0, width - 1)]
    logits = np.where(inside, F32(beta) * values, -np.inf)
    probs = softmax(logits.reshape(*rows.shape, -1)).reshape(logits.shape)
    x = (probs * win_cols).sum(axis=(-2, -1))
    y = (probs * win_rows).sum(axis=(-2, -1))
    return np.stack([x, y], axis=-1).astype(F32)


def reverse_neighbors(neighbors: Sequence[Sequence[int]]) -> np.ndarray:
    """(N, N*nb) 0/1 matrix: entry [m, l*nb + k] = 1 when landmark l lists m as its k-th neighbour."""
    table = np.asarray(neighbors, dtype=np.int64)
    count, per_row = table.shape
    incidence = np.zeros((count, count * per_row), dtype=F32)
    incidence[table.ravel(), np.arange(count * per_row)] = 1.0
    return incidence


def pip(score: np.ndarray, offset_x: np.ndarray, offset_y: np.ndarray, nb_x: np.ndarray, nb_y: np.ndarray,
        stride: int, neighbors: Sequence[Sequence[int]]) -> np.ndarray:
    """PIPNet decode -> (B, N, 2) crop pixels.

    score, offset_x/y: (B, N, h, w); nb_x/y: (B, N*nb, h, w), channel l*nb + k = landmark l's k-th neighbour.
    Each landmark takes its score argmax cell (row, col): own point (col + off, row + off) * stride, and predicts
    its neighbours from the same cell. A landmark's final point is the mean of its own prediction and every
    prediction made for it by the landmarks listing it as a neighbour. No half-cell centre (PIPNet's rule).
    """
    score = np.asarray(score, dtype=F32)
    batch, count, height, width = score.shape
    per_row = len(neighbors[0])
    rows, cols = _peak_cells(score)  # (B, N)

    def pick(maps: np.ndarray, repeat: int) -> np.ndarray:  # (B, N*repeat, h, w) at each landmark's cell
        flat = np.asarray(maps, dtype=F32).reshape(batch, count, repeat, height * width)
        index = np.broadcast_to((rows * width + cols)[..., None, None], (batch, count, repeat, 1))
        return np.take_along_axis(flat, index, axis=-1)[..., 0]  # (B, N, repeat)

    base = np.stack([cols, rows], axis=-1).astype(F32)  # (B, N, 2)
    own = (base + np.stack([pick(offset_x, 1)[..., 0], pick(offset_y, 1)[..., 0]], axis=-1)) * F32(stride)
    nb_off = np.stack([pick(nb_x, per_row), pick(nb_y, per_row)], axis=-1)  # (B, N, nb, 2)
    nb_pred = (base[:, :, None, :] + nb_off) * F32(stride)
    incidence = reverse_neighbors(neighbors)  # (N, N*nb)
    total = own + np.einsum("mj,bjc->bmc", incidence, nb_pred.reshape(batch, count * per_row, 2))
    return (total / (1.0 + incidence.sum(axis=1))[None, :, None]).astype(F32)


def bins(logits: np.ndarray, width: float = 3.0, start: float = -99.0) -> np.ndarray:
    """(B, 3, num_bins) logits -> (B, 3) degrees: width * sum(softmax * i) + start (Hopenet keeps -99)."""
    probs = softmax(logits)
    index = np.arange(probs.shape[-1], dtype=F32)
    return (F32(width) * (probs * index).sum(axis=-1) + F32(start)).astype(F32)


def ssr(p_logits: np.ndarray, eta: np.ndarray, delta: np.ndarray, stages: Sequence[int],
        value_range: float = 99.0, lam: float = 1.0) -> np.ndarray:
    """SSR stagewise regression (FSA-Net / SSR-Net) -> (B, 3) degrees.

    p_logits, eta: (B, K, 3, s) pre-softmax / pre-tanh; delta: (B, K, 3) pre-tanh. Stage k contributes
    sum_i p_k(i) (i - floor(s_k / 2) + eta_k(i)) / prod_{j<=k} s_j (1 + lam * delta_j); the sum is times V.
    """
    probs = softmax(p_logits)
    shift, scale = np.tanh(np.asarray(eta, dtype=F32)), np.tanh(np.asarray(delta, dtype=F32))
    size = probs.shape[-1]
    if probs.shape[1] != len(stages) or any(s != size for s in stages):
        raise SpecError(f"ssr outputs have {probs.shape[1]} stages of {size} bins, the head says {tuple(stages)}")
    index = np.arange(size, dtype=F32) - F32(size // 2)
    stage_values = (probs * (index + shift)).sum(axis=-1)  # (B, K, 3)
    denominators = np.cumprod(F32(size) * (1.0 + F32(lam) * scale), axis=1)  # (B, K, 3)
    return (F32(value_range) * (stage_values / denominators).sum(axis=1)).astype(F32)


def _ordered(outputs: Sequence[np.ndarray] | Mapping[str, np.ndarray], head: HeadSpec) -> list[np.ndarray]:
    if isinstance(outputs, Mapping):
        missing = [name for name in head.outputs if name not in outputs]
        if missing:
            raise SpecError(f"model outputs {sorted(outputs)} lack {missing} named by the head spec")
        outputs = [outputs[name] for name in head.outputs]
    if len(outputs) != len(head.outputs):
        raise SpecError(f"decode '{head.kind}' needs {len(head.outputs)} output tensors, got {len(outputs)}")
    return [np.asarray(o, dtype=F32) for o in outputs]


def decode(outputs: Sequence[np.ndarray] | Mapping[str, np.ndarray], head: HeadSpec,
           input_size: tuple[int, int] | None = None) -> np.ndarray:
    """Raw model outputs (in ``head.outputs`` order, or a dict by name) -> (B, N, 2) crop pixels for landmark heads,
    (B, 3) degrees (yaw, pitch, roll) for pose heads, by the head kind's row of the decoder table
    (``edgekit.runtime.decoders``). ``input_size`` (w, h) is needed by regression landmarks."""
    return head.decoder.numpy(_ordered(outputs, head), head.params, input_size)
