"""Checks on exported files: output parity against a reference, the accuracy gate (task metric through the
runtime Predictor, against an INT8 budget) and host latency.

Gate: the budget (``int8.budget_nme`` / ``budget_mae``) is an allowed *increase of the task error*, so files are
scored against labels: an annotated eval folder, else the annotations beside the real images held back from
calibration (the default calibration set is annotated). Only when too few held-out images carry labels is each
file compared with the FP32 file's own predictions (label-free NME / MAE vs FP32, FP32 baseline 0,
``label_free: true``). That deviation is an upper bound of the error increase, loose by a large factor: a
deviation d on a model with error e raises the error by about d^2 / 2e when the two are uncorrelated (PFLD 0.25x:
deviation 2.97 NME points, labeled increase -0.07). Labeled results also carry it as ``vs_fp32``."""
from __future__ import annotations

import math
import statistics
import time
from pathlib import Path

import numpy as np

from edgekit.backend.base import Runner
from edgekit.checks import GateResult, Parity
from edgekit.errors import EdgekitError
from edgekit.runtime.decode import decode
from edgekit.runtime.predictor import Predictor
from edgekit.runtime.preprocess import to_image
from edgekit.specs import Int8Section, ModelSpec

# ----------------------------------------------------------------------------- parity


def image_space(outputs: list[np.ndarray], spec: ModelSpec, matrices: np.ndarray) -> np.ndarray:
    """Raw outputs -> (B, N, 2) image pixels (landmarks) or (B, 3) degrees (pose), as the Predictor decodes."""
    decoded = decode(outputs, spec.head, spec.preprocess.input_size)
    return decoded if spec.task == "pose" else to_image(decoded, matrices)


def parity(reference: list[np.ndarray], outputs: list[np.ndarray], spec: ModelSpec, matrices: np.ndarray,
           against: str = "torch") -> Parity:
    """Max |difference| of raw outputs, relative L2, and the max decoded difference: image pixels (Euclidean,
    per landmark) or degrees (per angle). ``against``: what ``reference`` came from (torch, onnx fp32)."""
    max_abs = max(float(np.abs(r - o).max()) for r, o in zip(reference, outputs))
    norm = math.sqrt(sum(float(np.square(r).sum()) for r in reference)) or 1.0
    rel_l2 = math.sqrt(sum(float(np.square(r - o).sum()) for r, o in zip(reference, outputs))) / norm
    ref, got = image_space(reference, spec, matrices), image_space(outputs, spec, matrices)
    if spec.task == "pose":
        return Parity(against, int(len(matrices)), max_abs, rel_l2, max_deg=float(np.abs(ref - got).max()))
    worst_px = float(np.linalg.norm(ref - got, axis=-1).max())
    return Parity(against, int(len(matrices)), max_abs, rel_l2, max_px=worst_px)


def require_parity(result: Parity, max_px: float, max_deg: float, path: Path, against: str) -> None:
    """EdgekitError when the decoded difference exceeds the target's limit."""
    value, limit, unit = (result.max_deg, max_deg, "deg") if result.max_deg is not None else \
        (result.max_px, max_px, "px")
    if value > limit:
        raise EdgekitError(f"parity vs {against} failed: decoded outputs differ by up to {value:.4g} {unit} "
                           f"on {result.images} real faces (limit {limit} {unit})", path)


# ----------------------------------------------------------------------------- latency


def latency_ms(runner: Runner, sample: np.ndarray, runs: int = 50, warmup: int = 5) -> float:
    """Median wall time of ``runner.infer`` on one image (batch 1), warm-up excluded; milliseconds."""
    one = sample[:1]
    for _ in range(warmup):
        runner.infer(one)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        runner.infer(one)
        times.append((time.perf_counter() - start) * 1000)
    return float(statistics.median(times))


# ----------------------------------------------------------------------------- the accuracy gate


MIN_LABELED = 8  # held-out images with labels needed to gate on labels (and at least half of them)


class Gate:
    """Scores runners with the task metric through ``Predictor`` and checks deltas against the INT8 budget.

    ``eval_dir``: an annotated folder (labels); else ``holdout_paths`` + ``holdout_boxes``: real images held
    back from calibration, scored on the annotations beside them when enough have one (``use_labels``), else
    compared label-free with the FP32 file's predictions."""

    def __init__(self, spec: ModelSpec, int8: Int8Section, eval_dir: str | Path | None = None,
                 holdout_paths: tuple[str, ...] = (), holdout_boxes: tuple = (), limit: int | None = 200,
                 use_labels: bool = True):
        self.spec, self.int8 = spec, int8
        self.metric = "mae" if spec.task == "pose" else "nme"
        self.budget = int8.budget_mae if spec.task == "pose" else int8.budget_nme
        self.reference = None  # the FP32 file's predictions
        self.baseline = 0.0
        self.truths = None  # labels of the held-out images, when the gate uses them
        if eval_dir is not None:
            self.label_free, self.labels = False, "eval folder"
            self.samples = _annotated(eval_dir, spec, limit)
            return
        if not holdout_paths:
            raise EdgekitError("the INT8 gate needs an annotated eval folder (--eval) or held-out real images "
                               "(int8.holdout_images > 0 with enough calibration images)")
        from edgekit.data import load_image

        self.images = [load_image(p) for p in holdout_paths]
        self.boxes = list(holdout_boxes)
        truths = holdout_labels(holdout_paths, self.images, spec) if use_labels else None
        labeled = np.isfinite(truths).all(axis=tuple(range(1, truths.ndim))) if truths is not None else None
        if labeled is not None and labeled.sum() >= max(MIN_LABELED, len(labeled) / 2):
            self.images = [image for image, keep in zip(self.images, labeled) if keep]
            self.boxes = [box for box, keep in zip(self.boxes, labeled) if keep]
            self.truths, self.label_free, self.labels = truths[labeled], False, "held-out annotations"
        else:
            self.label_free, self.labels = True, None

    def _predict(self, runner: Runner) -> tuple[np.ndarray, np.ndarray | None]:
        predictor = Predictor(runner, self.spec)
        if self.truths is None and not self.label_free:
            from edgekit.eval.evaluate import predict_samples

            return predict_samples(predictor, self.samples)
        results = predictor.predict_batch(self.images, self.boxes)
        values = [r.pose if self.spec.task == "pose" else r.landmarks for r in results]
        return np.stack(values), self.truths

    def _score(self, predictions: np.ndarray, truths: np.ndarray, limit: float = 99.0) -> float:
        from edgekit.metrics import landmark_summary, nme, pose_mae

        if self.spec.task == "pose":
            return pose_mae(predictions, truths, limit=limit)["mae"]
        return landmark_summary(nme(predictions, truths, self.spec.scheme))["nme"]

    def set_baseline(self, runner: Runner) -> float:
        """Score the FP32 file: its metric on labels, or (label-free) its predictions become the reference."""
        predictions, truths = self._predict(runner)
        self.reference = predictions
        self.baseline = 0.0 if self.label_free else self._score(predictions, truths)
        return self.baseline

    def baseline_result(self) -> GateResult:
        """The FP32 file's own row (delta 0), after ``set_baseline``."""
        return GateResult(self.metric, self.baseline, 0.0, self.budget, True, self.label_free)

    def check(self, runner: Runner) -> GateResult:
        """The metric of one file (baseline set first); with labels also ``labels`` (their source) and
        ``vs_fp32`` (the label-free deviation from the FP32 file)."""
        predictions, truths = self._predict(runner)
        deviation = self._score(predictions, self.reference, limit=math.inf)
        value = deviation if self.label_free else self._score(predictions, truths)
        delta = value - self.baseline
        return GateResult(self.metric, value, delta, self.budget, bool(delta <= self.budget), self.label_free,
                          len(predictions), "" if self.label_free else self.labels,
                          None if self.label_free else deviation)


def holdout_labels(paths: tuple[str, ...], images: list[np.ndarray], spec: ModelSpec) -> np.ndarray:
    """(N, points, 2) image px or (N, 3) degrees from the annotation beside each image; NaN where there is none,
    where its scheme is not the model's, or (pose) where an angle lies outside +-99 degrees."""
    from edgekit.export.calibset import annotation_beside
    from edgekit.data.selection import label_points, landmarks_for, pose_label

    count = label_points(spec)
    labels = []
    for path, image in zip(paths, images):
        sample = annotation_beside(path)
        if spec.task == "landmarks":
            usable = sample is not None and sample.landmarks is not None
            labels.append(landmarks_for(sample, count, spec) if usable else np.full((count, 2), np.nan))
            continue
        angles = pose_label(sample, (image.shape[1], image.shape[0])) if sample is not None and \
            sample.landmarks is not None else np.full(3, np.nan)
        labels.append(np.where(np.abs(angles) <= 99.0, angles, np.nan))
    return np.stack(labels)


def _annotated(folder: str | Path, spec: ModelSpec, limit: int | None) -> list:
    """The annotated faces of a folder (first ``limit``), or all of a recipe YAML's validation set (its split and
    filter: the numbers ``edgekit eval --val-of`` prints)."""
    from edgekit.recipe import DatasetConfig
    from edgekit.data.selection import load_samples

    if Path(folder).suffix.lower() in (".yaml", ".yml"):
        from edgekit.eval.evaluate import validation_samples

        return validation_samples(folder, spec)[0]
    samples = load_samples(DatasetConfig(str(folder), max_samples=limit), spec, max_pose_deg=math.inf)
    if not samples:
        raise EdgekitError(f"no usable annotated faces for a {spec.task} model", folder)
    return samples
