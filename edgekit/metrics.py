"""Landmark and head-pose metrics, numpy only: the one implementation used by eval, the export gate and reports.

NME (per image) = mean over annotated points of ||pred - gt|| / d, as a fraction (x100 for %):
- ``inter_ocular``: d = distance between the scheme's outer eye corners (ibug68: points 36 and 45);
- ``inter_pupil``: d = distance between the eye centres (mean of each scheme ``pupils`` group);
- ``box``: d = sqrt(w * h) of the bounding box of the annotated ground-truth points.
FR / AUC follow PIPNet's ``compute_fr_and_auc``. Pose MAE is plain |pred - gt| per angle (not wrapped at +-180,
like Hopenet and FSA-Net), after dropping samples whose ground truth has an angle beyond +-limit.
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Mapping

import numpy as np
from scipy.integrate import simpson

from edgekit.atomic import atomic_write_bytes
from edgekit.data.schemes import get_scheme
from edgekit.errors import DataError

if TYPE_CHECKING:
    from edgekit.specs import ModelSpec

Norm = Literal["inter_ocular", "inter_pupil", "box"]


def _normalizer(gt: np.ndarray, scheme: str, norm: Norm) -> np.ndarray:
    """(B, N, 2) ground truth -> (B,) normalizing distances (NaN where it cannot be computed)."""
    if norm == "box":
        lo, hi = np.nanmin(gt, axis=1), np.nanmax(gt, axis=1)
        return np.sqrt(np.prod(hi - lo, axis=-1))
    spec = get_scheme(scheme)
    if norm == "inter_ocular":
        first, second = gt[:, spec.eye_corners[0]], gt[:, spec.eye_corners[1]]
    elif norm == "inter_pupil":
        if spec.pupils is None:
            raise DataError(f"scheme '{scheme}' defines no pupils for inter_pupil NME")
        first, second = (gt[:, list(group)].mean(axis=1) for group in spec.pupils)
    else:
        raise DataError(f"unknown NME normalization '{norm}' (inter_ocular, inter_pupil, box)")
    return np.linalg.norm(first - second, axis=-1)


def nme(pred: np.ndarray, gt: np.ndarray, scheme: str = "ibug68", norm: Norm = "inter_ocular") -> np.ndarray:
    """(B, N, 2) predictions and ground truth -> (B,) NME fractions. NaN ground-truth points are ignored; an image
    whose normalizer is missing or zero gets NaN."""
    pred, gt = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[-1] != 2:
        raise DataError(f"nme needs matching (B, N, 2) arrays, got {pred.shape} and {gt.shape}")
    if len(gt) == 0:
        return np.zeros(0)
    annotated = np.isfinite(gt).all(axis=-1)  # (B, N); a NaN prediction at an annotated point gives NaN
    distances = np.linalg.norm(np.where(annotated[..., None], pred - gt, 0.0), axis=-1)  # (B, N)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # images without normalizer give NaN, on purpose
        per_image = distances.sum(axis=1) / annotated.sum(axis=1)
        normalizer = _normalizer(gt, scheme, norm)
        return np.where(normalizer > 0, per_image / normalizer, np.nan)


def ced(nmes: np.ndarray, threshold: float = 0.1, step: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative error distribution: xs = arange(0, threshold + step, step), ys = share of images with NME <= x."""
    values = np.sort(np.asarray(nmes, dtype=np.float64).ravel())
    if len(values) == 0:
        raise DataError("no NME values to summarize")
    xs = np.arange(0, threshold + step, step)
    return xs, np.searchsorted(values, xs, side="right") / len(values)


def fr_auc(nmes: np.ndarray, threshold: float = 0.1, step: float = 1e-4) -> tuple[float, float]:
    """PIPNet's compute_fr_and_auc: (failure rate = 1 - CED at the last x, AUC = Simpson integral of CED / threshold),
    both fractions. NaN NMEs count as failures."""
    values = np.asarray(nmes, dtype=np.float64)
    xs, ys = ced(np.where(np.isnan(values), np.inf, values), threshold, step)
    return float(1.0 - ys[-1]), float(simpson(ys, x=xs) / threshold)


def landmark_summary(nmes: np.ndarray, threshold: float = 0.1) -> dict:
    """{nme: mean NME in %, fr: failure rate in %, auc: 0..1, count} over finite NMEs (FR/AUC count NaN as failure)."""
    values = np.asarray(nmes, dtype=np.float64).ravel()
    finite = values[np.isfinite(values)]
    fr, auc = fr_auc(values, threshold)
    return {"nme": float(finite.mean() * 100) if len(finite) else float("nan"), "fr": fr * 100, "auc": auc,
            "count": int(len(values))}


def ced_plot(curves: Mapping[str, np.ndarray], path: str | Path, threshold: float = 0.1) -> Path:
    """CED curves (label -> per-image NMEs) as a PNG, written atomically. Matplotlib's Agg backend, no display."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5, 4), dpi=100)
    axes = figure.add_subplot()
    for label, values in curves.items():
        xs, ys = ced(values, threshold)
        _, auc = fr_auc(values, threshold)
        axes.plot(xs * 100, ys, label=f"{label} (AUC {auc:.3f})")
    axes.set(xlabel="NME (%)", ylabel="share of images", xlim=(0, threshold * 100), ylim=(0, 1))
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return atomic_write_bytes(path, buffer.getvalue())


def pose_mae(pred: np.ndarray, gt: np.ndarray, limit: float = 99.0) -> dict:
    """(B, 3) predicted and true yaw, pitch, roll degrees -> {yaw, pitch, roll, mae, count, dropped}: mean |error|
    per angle and their mean, over samples whose every true angle lies within +-limit (AFLW2000 protocol)."""
    pred, gt = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim != 2 or pred.shape[1] != 3:
        raise DataError(f"pose_mae needs matching (B, 3) arrays, got {pred.shape} and {gt.shape}")
    keep = (np.abs(gt) <= limit).all(axis=1)
    errors = np.abs(pred[keep] - gt[keep])
    per_angle = errors.mean(axis=0) if len(errors) else np.full(3, np.nan)
    return {"yaw": float(per_angle[0]), "pitch": float(per_angle[1]), "roll": float(per_angle[2]),
            "mae": float(per_angle.mean()), "count": int(keep.sum()), "dropped": int((~keep).sum())}


def summarize(spec: ModelSpec, predictions: np.ndarray, truths: np.ndarray) -> dict:
    """Task metrics from decoded predictions and labels (any common frame: crop or image pixels; degrees): what
    eval reports and training validates with."""
    if spec.task == "landmarks":
        return landmark_summary(nme(predictions, truths, spec.scheme))
    return pose_mae(predictions, truths)
