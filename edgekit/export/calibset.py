"""Calibration sets: real face images -> model tensors through the artifact's own preprocessing, cached.

A calibration source is a folder, a glob (``faces/*.jpg``) or a YAML under ``calibration/`` listing sources.
Face boxes: ``auto`` (from the annotation beside the image when there is one, else the whole image: for face
crops), ``annotations`` (required), ``whole_image`` or ``detector`` (edgekit's default face detector). Images are
split into calibration images and held-out images (for the label-free gate and parity), deterministically.
Nothing here ever falls back to random data: too few, unreadable or non-image files are a DataError.

Cache: ``$EDGEKIT_CACHE or ~/.cache/edgekit`` / ``calib/<sha256>.npz``, keyed by the selected images' bytes (and
annotation bytes), the ModelSpec JSON, the box mode and the counts; written atomically.
"""
from __future__ import annotations

import glob as globlib
import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from edgekit import serial
from edgekit.atomic import atomic_write_bytes
from edgekit.checks import CalibrationData
from edgekit.errors import DataError
from edgekit.paths import PROJECT_DIR, shared_data_dir
from edgekit.progress import progress
from edgekit.runtime.preprocess import Box, box_from_detection, box_from_landmarks, preprocess_batch
from edgekit.specs import Int8Section, ModelSpec

BoxMode = Literal["auto", "annotations", "whole_image", "detector"]
ANNOTATION_SUFFIXES = (".pts", ".mat", ".json", ".ljson", ".txt", ".csv")
SHARED_PREFIX = "shared:"  # "shared:ytf68/train" = that folder of ../shared/data (or $EDGEKIT_SHARED_DATA)
CACHE_VERSION = "1"


@dataclass(frozen=True)
class CalibSource:
    path: str  # folder or glob; relative to the YAML's folder, or "shared:<folder of the shared data>"
    boxes: BoxMode = "auto"
    limit: int | None = None  # at most this many images from this source (evenly spread)

    def __post_init__(self) -> None:
        serial.check(self.limit is None or self.limit > 0, "limit", "be positive", self.limit)


@dataclass(frozen=True)
class CalibConfig:
    sources: tuple[CalibSource, ...]
    description: str = ""


@dataclass(frozen=True, eq=False)
class Faces:
    """Face crops made by ``edgekit.runtime.preprocess`` for one model spec."""

    paths: tuple[str, ...]  # image files
    boxes: tuple[Box, ...]  # square face boxes in image pixels
    tensors: np.ndarray  # (N, C, H, W) or (N, H, W, C) float32, the spec's layout
    matrices: np.ndarray  # (N, 2, 3) image -> crop

    def __len__(self) -> int:
        return len(self.paths)


@dataclass(frozen=True, eq=False)
class CalibrationSet:
    calib: Faces  # what calibration sees
    holdout: Faces  # real images never used for calibration: label-free gate and parity
    source: str
    sha256: str
    from_cache: bool

    def record(self) -> CalibrationData:
        """What the manifest records about the calibration data."""
        return CalibrationData(self.source, len(self.calib), len(self.holdout), self.sha256)


# ----------------------------------------------------------------------------- resolving sources


def _resolve(path: str, base: Path) -> str:
    if path.startswith(SHARED_PREFIX):
        return str(shared_data_dir() / path[len(SHARED_PREFIX):])
    return path if Path(path).is_absolute() else str(base / path)


def read_sources(source: str) -> tuple[list[CalibSource], str]:
    """(sources, label) from a folder, a glob, a YAML path or a YAML name under ``calibration/``."""
    yaml_path = _find_yaml(source)
    if yaml_path is not None:
        config = serial.load_yaml(CalibConfig, yaml_path)
        if not config.sources:
            raise DataError("calibration YAML lists no sources", yaml_path)
        base = yaml_path.parent
        return [CalibSource(_resolve(s.path, base), s.boxes, s.limit) for s in config.sources], str(yaml_path)
    return [CalibSource(_resolve(source, Path.cwd()))], source


def _find_yaml(source: str) -> Path | None:
    path = Path(source)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file() and (PROJECT_DIR / path).is_file():
            return PROJECT_DIR / path
        if not path.is_file():
            raise DataError("calibration YAML not found", path)
        return path
    named = PROJECT_DIR / "calibration" / f"{source}.yaml"
    return named if os.sep not in source and not path.exists() and named.is_file() else None


def _list_images(source: CalibSource) -> list[Path]:
    """Image files of a folder (not recursive) or glob; any other file that is no annotation is refused."""
    if any(ch in source.path for ch in "*?["):
        files = sorted(Path(p) for p in globlib.glob(source.path) if Path(p).is_file())
        where = source.path
    else:
        folder = Path(source.path)
        if not folder.is_dir():
            raise DataError("calibration folder not found" if not folder.exists() else "not a folder", folder)
        files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        where = folder
    from edgekit.data.images import is_image_file

    for path in files:
        if not is_image_file(path) and path.suffix.lower() not in ANNOTATION_SUFFIXES:
            raise DataError("not an image (calibration sources hold images and their annotations only)", path)
    images = [p for p in files if is_image_file(p)]
    if not images:
        raise DataError("no images to calibrate on (empty folder or glob)", where)
    return _spread(images, source.limit)


def _spread(items: list, count: int | None) -> list:
    if count is None or count >= len(items):
        return items
    return [items[i] for i in np.linspace(0, len(items) - 1, count).round().astype(int)]


def _annotations(images: list[Path]) -> dict[Path, object]:
    """image path -> Sample, for images whose folder holds annotations edgekit reads."""
    from edgekit.data import scan_folder

    samples = {}
    for folder in sorted({p.parent for p in images}):
        if any(p.suffix.lower() in ANNOTATION_SUFFIXES for p in folder.iterdir()):
            for sample in scan_folder(folder, recursive=False).samples:
                samples.setdefault(Path(sample.image_path), sample)
    return samples


def annotation_beside(image: str | Path):
    """The Sample of the annotation file with the image's stem (.pts, AFLW2000 .mat, .ljson), or None when there is
    none or it cannot be read (the gate then falls back to label-free for that image)."""
    from edgekit.data.readers import read_aflw2000_mat, read_ljson, read_pts
    from edgekit.errors import EdgekitError

    image = Path(image)
    for suffix, reader in ((".pts", read_pts), (".mat", read_aflw2000_mat), (".ljson", read_ljson)):
        path = image.with_suffix(suffix)
        if path.is_file():
            try:
                return reader(path, image)
            except (EdgekitError, OSError, ValueError, KeyError):
                return None
    return None


# ----------------------------------------------------------------------------- boxes


@dataclass(frozen=True)
class _Item:
    image: Path
    mode: str  # the box mode actually used
    sample: object | None  # the annotation Sample, when boxes come from it


def _items(sources: list[CalibSource]) -> list[_Item]:
    items = []
    for source in sources:
        images = _list_images(source)
        samples = _annotations(images) if source.boxes in ("auto", "annotations") else {}
        for image in images:
            sample = samples.get(image)
            if source.boxes == "annotations" and sample is None:
                raise DataError("no readable annotation for this image (boxes: annotations)", image)
            mode = "annotations" if sample is not None else ("whole_image" if source.boxes == "auto" else source.boxes)
            items.append(_Item(image, mode, sample))
    return items


def _box(item: _Item, image: np.ndarray, spec: ModelSpec, detector) -> Box:
    height, width = image.shape[:2]
    if item.mode == "annotations":
        if item.sample.landmarks is not None:
            return box_from_landmarks(item.sample.landmarks, spec.preprocess)
        return box_from_detection(*item.sample.box, spec.preprocess)
    if item.mode == "detector":
        found = detector.detect(image)
        if not found:
            raise DataError("the face detector found no face (use boxes: whole_image for face crops)", item.image)
        return box_from_detection(*found[0][:4], spec.preprocess)
    return Box((width - 1) / 2, (height - 1) / 2, float(max(width, height)))  # the whole image (a face crop)


def make_faces(items: list[_Item], spec: ModelSpec) -> Faces:
    """Decode, box and preprocess ``items``; the first unreadable image is a DataError naming it."""
    from edgekit.data import load_image

    detector = None
    if any(item.mode == "detector" for item in items):
        from edgekit.runtime.detect import get_detector

        detector = get_detector()
    images, boxes = [], []
    for item in progress(items, "calibration faces", unit="image"):
        image = load_image(item.image)  # DataError naming the file when it cannot be decoded
        images.append(image)
        boxes.append(_box(item, image, spec, detector))
    tensors, matrices = preprocess_batch(images, boxes, spec.preprocess)
    return Faces(tuple(str(i.image) for i in items), tuple(boxes), tensors, matrices)


# ----------------------------------------------------------------------------- selection, hashing, cache


def split_counts(total: int, int8: Int8Section, where: str) -> tuple[int, int]:
    """(calibration, held-out) image counts; refuses fewer than ``min_images`` calibration images."""
    if total < int8.min_images:
        raise DataError(f"only {total} images, calibration needs at least {int8.min_images} "
                        "(int8.min_images); never random data", where)
    holdout = min(int8.holdout_images, total - int8.min_images)
    return min(int8.max_images, total - holdout), holdout


def cache_dir() -> Path:
    return Path(os.environ.get("EDGEKIT_CACHE") or Path.home() / ".cache" / "edgekit") / "calib"


def _digest(items: list[_Item], spec: ModelSpec, counts: tuple[int, int]) -> str:
    digest = hashlib.sha256(f"edgekit-calib-{CACHE_VERSION}".encode())
    digest.update(json.dumps(spec.to_dict(), sort_keys=True).encode())
    digest.update(json.dumps(counts).encode())
    from edgekit.runtime.detect import default_detector_name  # detector boxes differ per detector

    for item in items:
        mode = f"detector:{default_detector_name()}" if item.mode == "detector" else item.mode
        digest.update(f"\0{item.image.name}\0{mode}\0".encode())
        digest.update(item.image.read_bytes())
        if item.sample is not None and item.sample.annotation_path is not None:
            digest.update(Path(item.sample.annotation_path).read_bytes())
    return digest.hexdigest()


def _save(path: Path, faces: list[Faces]) -> None:
    """Arrays only: the image paths come from the current listing (the same bytes may live in another folder)."""
    buffer = io.BytesIO()
    arrays = {}
    for name, part in zip(("calib", "holdout"), faces):
        arrays.update({f"{name}_tensors": part.tensors, f"{name}_matrices": part.matrices,
                       f"{name}_boxes": np.array(part.boxes, dtype=np.float64).reshape(-1, 3)})
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def _load(path: Path, parts: list[list[_Item]]) -> list[Faces] | None:
    try:
        with np.load(path) as data:
            faces = [Faces(tuple(str(i.image) for i in items), tuple(Box(*b) for b in data[f"{n}_boxes"]),
                           data[f"{n}_tensors"], data[f"{n}_matrices"])
                     for n, items in zip(("calib", "holdout"), parts)]
    except (OSError, ValueError, KeyError):  # a damaged cache entry is simply rebuilt
        return None
    return faces if all(len(f.boxes) == len(f.paths) == len(f.tensors) for f in faces) else None


def load_calibration(source: str, spec: ModelSpec, int8: Int8Section) -> CalibrationSet:
    """The calibration and held-out faces of ``source`` for ``spec`` (cached by content)."""
    sources, label = read_sources(source)
    items = _items(sources)
    counts = split_counts(len(items), int8, label)
    order = np.random.default_rng(0).permutation(len(items))  # deterministic, spread over the folder
    calib_items = [items[i] for i in sorted(order[: counts[0]])]
    holdout_items = [items[i] for i in sorted(order[counts[0] : sum(counts)])]
    key = _digest(calib_items + holdout_items, spec, counts)
    cached = cache_dir() / f"{key}.npz"
    faces = _load(cached, [calib_items, holdout_items]) if cached.is_file() else None
    hit = faces is not None
    if not hit:
        faces = [make_faces(calib_items, spec), make_faces(holdout_items, spec)]
        try:
            _save(cached, faces)
        except OSError:
            pass  # an unwritable cache only costs time
    return CalibrationSet(faces[0], faces[1], label, key, hit)
