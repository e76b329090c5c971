"""Checks on exported files: output parity against a reference, the accuracy gate (task metric through the
runtime Predictor, against an INT8 budget) and host latency.

Gate: with an annotated eval folder, every file's NME (%) or pose MAE (deg) is measured on it and the delta
vs FP32 is compared with ``int8.budget_nme`` / ``budget_mae``. Without one, each file is compared with the FP32
file's own predictions on real images held back from calibration (label-free NME / MAE vs FP32): the FP32
baseline is 0 by definition and the result says ``label_free: true``."""
from __future__ import annotations

import math
import statistics
import time
from pathlib import Path

import numpy as np

from edgekit.backend.base import Runner
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


def parity(reference: list[np.ndarray], outputs: list[np.ndarray], spec: ModelSpec, matrices: np.ndarray) -> dict:
    """Max |difference| of raw outputs, relative L2, and the max decoded difference: image pixels (Euclidean,
    per landmark) or degrees (per angle)."""
    max_abs = max(float(np.abs(r - o).max()) for r, o in zip(reference, outputs))
    norm = math.sqrt(sum(float(np.square(r).sum()) for r in reference)) or 1.0
    rel_l2 = math.sqrt(sum(float(np.square(r - o).sum()) for r, o in zip(reference, outputs))) / norm
    ref, got = image_space(reference, spec, matrices), image_space(outputs, spec, matrices)
    result = {"images": int(len(matrices)), "max_abs": max_abs, "rel_l2": rel_l2}
    if spec.task == "pose":
        result["max_deg"] = float(np.abs(ref - got).max())
    else:
        result["max_px"] = float(np.linalg.norm(ref - got, axis=-1).max())
    return result


def require_parity(result: dict, max_px: float, max_deg: float, path: Path, against: str) -> None:
    """EdgekitError when the decoded difference exceeds the target's limit."""
    key, limit, unit = ("max_deg", max_deg, "deg") if "max_deg" in result else ("max_px", max_px, "px")
    if result[key] > limit:
        raise EdgekitError(f"parity vs {against} failed: decoded outputs differ by up to {result[key]:.4g} {unit} "
                           f"on {result['images']} real faces (limit {limit} {unit})", path)


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


class Gate:
    """Scores runners with the task metric through ``Predictor`` and checks deltas against the INT8 budget.

    ``eval_dir``: an annotated folder (labels); else ``holdout_paths`` + ``holdout_boxes``: real images held
    back from calibration, compared label-free with ``baseline``'s predictions."""

    def __init__(self, spec: ModelSpec, int8: Int8Section, eval_dir: str | Path | None = None,
                 holdout_paths: tuple[str, ...] = (), holdout_boxes: tuple = (), limit: int | None = 200):
        self.spec, self.int8 = spec, int8
        self.metric = "mae" if spec.task == "pose" else "nme"
        self.budget = int8.budget_mae if spec.task == "pose" else int8.budget_nme
        self.label_free = eval_dir is None
        self.reference = None
        self.baseline = 0.0
        if self.label_free:
            if not holdout_paths:
                raise EdgekitError("the INT8 gate needs an annotated eval folder (--eval) or held-out real images "
                                   "(int8.holdout_images > 0 with enough calibration images)")
            from edgekit.data import load_image

            self.images = [load_image(p) for p in holdout_paths]
            self.boxes = list(holdout_boxes)
        else:
            self.samples = _annotated(eval_dir, spec, limit)

    def _predict(self, runner: Runner) -> tuple[np.ndarray, np.ndarray | None]:
        predictor = Predictor(runner, self.spec)
        if not self.label_free:
            from edgekit.eval.evaluate import predict_samples

            return predict_samples(predictor, self.samples)
        results = predictor.predict_batch(self.images, self.boxes)
        values = [r.pose if self.spec.task == "pose" else r.landmarks for r in results]
        return np.stack(values), None

    def _score(self, predictions: np.ndarray, truths: np.ndarray) -> float:
        from edgekit.metrics import landmark_summary, nme, pose_mae

        if self.spec.task == "pose":
            return pose_mae(predictions, truths, limit=math.inf if self.label_free else 99.0)["mae"]
        return landmark_summary(nme(predictions, truths, self.spec.scheme))["nme"]

    def set_baseline(self, runner: Runner) -> float:
        """Score the FP32 file: its metric on labels, or (label-free) its predictions become the reference."""
        predictions, truths = self._predict(runner)
        if self.label_free:
            self.reference = predictions
            self.baseline = 0.0
        else:
            self.baseline = self._score(predictions, truths)
        return self.baseline

    def check(self, runner: Runner) -> dict:
        """{metric, value, delta, budget, passed, label_free, images} for one file (baseline set first)."""
        predictions, truths = self._predict(runner)
        value = self._score(predictions, self.reference if self.label_free else truths)
        delta = value - self.baseline
        return {"metric": self.metric, "value": value, "delta": delta, "budget": self.budget,
                "passed": bool(delta <= self.budget), "label_free": self.label_free, "images": len(predictions)}


def _annotated(folder: str | Path, spec: ModelSpec, limit: int | None) -> list:
    from edgekit.train.recipe import DatasetConfig
    from edgekit.train.samples import load_samples

    samples = load_samples(DatasetConfig(str(folder), max_samples=limit), spec, max_pose_deg=math.inf)
    if not samples:
        raise EdgekitError(f"no usable annotated faces for a {spec.task} model", folder)
    return samples
