"""Which annotated samples a model can use, and their labels: shared by training (edgekit.train.dataset),
evaluation (edgekit.eval) and the export gate, so all select and label faces the same way. No torch here.

A face's box always comes from its ground-truth landmarks. Landmark models need samples in their own scheme.
Pose models use the annotated pose (AFLW2000 ``Pose_Para``), else solvePnP on iBUG-68 landmarks."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from edgekit.data import Sample, get_scheme, scan_folder
from edgekit.errors import DataError
from edgekit.recipe import DatasetConfig, SplitConfig
from edgekit.runtime.pose import pose_from_landmarks
from edgekit.specs import ModelSpec


def load_samples(config: DatasetConfig, spec: ModelSpec, max_pose_deg: float = 99.0) -> list[Sample]:
    """The usable samples of one folder for ``spec``, sorted by image path, split and capped per ``config``."""
    root = config.resolved()
    if not root.is_dir():
        raise DataError("data folder not found", root)
    scan = scan_folder(root)
    found = sorted(scan.samples, key=lambda s: str(s.image_path))
    samples = [s for s in found if _usable(s, spec, max_pose_deg)]
    if not samples:
        reason = f"{len(found)} annotated faces, none usable for {spec.name} ({_needs(spec)})" if found \
            else "no annotated faces found"
        if scan.errors:  # name the bad file: the folder alone does not say what to fix
            reason += f"; {len(scan.errors)} file(s) refused, first {scan.errors[0]} (see edgekit data check)"
        raise DataError(reason, root)
    if config.split is not None:
        samples = split_samples(samples, config.split)
    return samples[: config.max_samples] if config.max_samples else samples


def split_samples(samples: Sequence[Sample], split: SplitConfig) -> list[Sample]:
    """The ``split.part`` side of a fixed split (see SplitConfig); the samples' order is kept."""
    if split.by == "image":
        order = np.random.default_rng(split.seed).permutation(len(samples))
        num_val = max(1, round(len(samples) * split.val_fraction))
        val_index = set(order[:num_val].tolist())
        return [s for i, s in enumerate(samples) if (i in val_index) == (split.part == "val")]
    val_photos = _val_photos([photo_of(s.image_path) for s in samples], split)
    return [s for s in samples if (photo_of(s.image_path) in val_photos) == (split.part == "val")]


def photo_of(image_path: str | Path) -> str:
    """The photo a face crop came from: its stem without a trailing face index (``afw_123_2`` -> ``afw_123``)."""
    return re.sub(r"_\d{1,2}$", "", Path(image_path).stem)


def _val_photos(photos: Sequence[str], split: SplitConfig) -> set[str]:
    """The ``val_fraction`` share of the distinct photos (per subset when stratified), by hash order."""
    strata: dict[str, list[str]] = {}
    for photo in sorted(set(photos)):
        strata.setdefault(photo.split("_", 1)[0] if split.stratify else "", []).append(photo)
    chosen: set[str] = set()
    for members in strata.values():
        ranked = sorted(members, key=lambda photo: hashlib.sha1(f"{split.seed}:{photo}".encode()).hexdigest())
        chosen.update(ranked[: max(1, round(len(members) * split.val_fraction))])
    return chosen


def label_points(spec: ModelSpec) -> int:
    return spec.head.num_points if spec.task == "landmarks" else get_scheme(spec.scheme).num_points


def _usable(sample: Sample, spec: ModelSpec, max_pose_deg: float) -> bool:
    """Landmarks are needed for the box; landmark models need their own scheme; pose labels must be in range."""
    if sample.landmarks is None or not np.isfinite(sample.landmarks).all(axis=1).any():
        return False
    if spec.task == "landmarks":
        return sample.scheme == spec.scheme
    if sample.pose is not None:
        return bool(np.all(np.abs(sample.pose) <= max_pose_deg))
    return sample.scheme == "ibug68"  # pose derived from the landmarks


def _needs(spec: ModelSpec) -> str:
    if spec.task == "landmarks":
        return f"needs {spec.scheme} landmarks"
    return "needs landmarks and a pose label (or iBUG-68 landmarks) within the pose range"


def landmarks_for(sample: Sample, num_points: int, spec: ModelSpec) -> np.ndarray:
    """(num_points, 2) image px: the sample's points when in the spec's scheme, else NaN (unknown)."""
    if sample.scheme == spec.scheme and sample.num_points == num_points:
        return np.asarray(sample.landmarks, dtype=np.float64)
    return np.full((num_points, 2), np.nan)


def pose_label(sample: Sample, image_size: tuple[int, int]) -> np.ndarray:
    """(3,) degrees: the annotated pose, else solvePnP on iBUG-68 landmarks (image (w, h)), else NaN."""
    if sample.pose is not None:
        return np.asarray(sample.pose, dtype=np.float64)
    if sample.scheme == "ibug68":
        try:
            return pose_from_landmarks(sample.landmarks, image_size)
        except DataError:
            pass
    return np.full(3, np.nan)

