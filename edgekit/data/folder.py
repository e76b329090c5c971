"""Scan a folder of annotated faces in any supported layout, collecting Samples and per-file problems.

A scan never raises for a bad file: every unreadable image or annotation becomes one ``Problem`` (the first
found for that file). Images are checked from their header (size, JPEG/PNG end marker); ``edgekit data check
--decode`` decodes them fully.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from edgekit.data import readers
from edgekit.data.images import find_image, image_size, is_image_file
from edgekit.data.parsing import fails_closed, load_json
from edgekit.data.sample import Sample
from edgekit.data.schemes import SCHEMES, get_scheme
from edgekit.errors import DataError, EdgekitError, printable

OUTSIDE_TOLERANCE_PX = 8.0  # annotated points may sit a little outside a tight crop; more is a problem
MISSING_POINTS_ALLOWED = {"kaggle_csv"}  # formats whose missing points are normal, not a problem
MAX_DEPTH = 32  # folder levels below the scanned root; a deeper folder is one problem, not walked
FIRST_LINE_CHARS = 64 * 1024  # enough for a WFLW line or a CSV header; a file without newlines is not read whole
OUTSIDE_LINK = "symbolic link to outside the scanned folder: not read (scan the folder it points to instead)"


@dataclass(frozen=True)
class Problem:
    path: Path
    message: str
    warning: bool = False  # a warning keeps its sample (e.g. jaw points past the image edge are real annotations)

    def __str__(self) -> str:  # one line whatever the file's name or content (newlines, escapes are escaped)
        return f"{printable(str(self.path))}: {'warning: ' if self.warning else ''}{printable(self.message)}"


@dataclass(frozen=True)
class ScanResult:
    root: Path
    samples: list[Sample] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    formats: dict[str, int] = field(default_factory=dict)  # format name -> samples read in it
    duplicates: int = 0  # faces annotated twice (e.g. 300VW's .pts files and its COCO JSON): counted once

    @property
    def schemes(self) -> dict[str, int]:
        return dict(Counter(s.scheme or "unknown" for s in self.samples))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if not p.warning]

    @property
    def with_pose(self) -> int:
        return sum(s.pose is not None for s in self.samples)


# ----------------------------------------------------------------------------- recognising annotation files


def _read_mat(path: Path) -> list[Sample]:
    """AFLW2000-3D if the file has ``pt3d_68``, 300W-LP if it has a 2x68 ``pt2d``, COFW if it has ``IsT``/``IsTr``."""
    shapes = readers.mat_shapes(path)
    names = set(shapes)
    if "pt3d_68" in names:
        return [readers.read_aflw2000_mat(path)]
    if shapes.get("pt2d") == (2, 68):
        return [readers.read_300wlp_mat(path)]
    if names & {"IsT", "IsTr"}:
        return readers.read_cofw_mat(path)
    raise DataError(f"unrecognised .mat file (variables: {', '.join(sorted(names)) or 'none'})", path)


@fails_closed
def _read_json(path: Path) -> list[Sample] | None:
    """COCO keypoint JSON, or None for any other JSON (configs and manifests are not annotations)."""
    document = load_json(path)
    return readers.coco_samples(document, path) if readers.is_coco(document) else None


def _first_line(path: Path) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.readline(FIRST_LINE_CHARS)


def _read_txt(path: Path) -> list[Sample] | None:
    first = _first_line(path).split()
    return readers.read_wflw_txt(path) if len(first) == readers.WFLW_FIELDS else None


def _read_csv(path: Path) -> list[Sample] | None:
    header = _first_line(path)
    return readers.read_kaggle_csv(path) if "Image" in header and "left_eye_center_x" in header else None


_READERS: dict[str, Callable[[Path], list[Sample] | None]] = {
    ".pts": lambda p: [readers.read_pts(p)],
    ".mat": _read_mat,
    ".json": _read_json,
    ".ljson": lambda p: [readers.read_ljson(p)],
    ".txt": _read_txt,
    ".csv": _read_csv,
}


# ----------------------------------------------------------------------------- validation


def _validate(sample: Sample, sizes: dict[Path, tuple[int, int] | DataError]) -> Problem | None:
    """The first thing wrong with one sample (image problems name the image, the rest the annotation)."""
    annotation = sample.annotation_path or sample.image_path
    if sample.pixels is None:
        if not sample.image_path.is_file():
            return Problem(annotation, f"annotation without image (looked for {sample.image_path.name})")
        if sample.image_path not in sizes:
            try:
                sizes[sample.image_path] = image_size(sample.image_path)
            except DataError as exc:
                sizes[sample.image_path] = exc
        size = sizes[sample.image_path]
        if isinstance(size, DataError):
            return Problem(sample.image_path, size.message)
    else:
        size = (sample.pixels.shape[1], sample.pixels.shape[0])
    return _validate_points(sample, size, annotation)


def _validate_points(sample: Sample, size: tuple[int, int], annotation: Path) -> Problem | None:
    points = sample.landmarks
    if points is None:
        return None
    where = f"{sample.image_path.name}: " if sample.fmt in ("coco_json", "wflw_txt") else ""
    if sample.scheme is None:
        counts = ", ".join(str(s.num_points) for s in SCHEMES.values())
        return Problem(annotation, f"{where}{len(points)} points match no known scheme (point counts: {counts})")
    if len(points) != get_scheme(sample.scheme).num_points:
        return Problem(annotation, f"{where}{len(points)} points, scheme {sample.scheme} has "
                                   f"{get_scheme(sample.scheme).num_points}")
    missing = ~np.isfinite(points).all(axis=1)
    if missing.any() and sample.fmt not in MISSING_POINTS_ALLOWED:
        return Problem(annotation, f"{where}{int(missing.sum())} of {len(points)} points are missing (NaN)")
    width, height = size
    tol = OUTSIDE_TOLERANCE_PX
    finite = points[~missing]
    if len(finite) and np.ptp(finite, axis=0).max() <= 0:  # no face box can be built from it
        return Problem(annotation, f"{where}all {len(finite)} points coincide (a face box needs a spread)")
    outside = ((finite < -tol) | (finite > np.array([width - 1 + tol, height - 1 + tol]))).any(axis=1)
    if outside.any():
        return Problem(annotation, f"{where}{int(outside.sum())} of {len(points)} points outside the "
                                   f"{width}x{height} image by more than {tol:g} px", warning=True)
    return None


# ----------------------------------------------------------------------------- the scan


@dataclass(frozen=True)
class _Listing:
    files: list[Path]  # regular files (a link inside the root counts as its target), sorted
    problems: list[Problem]  # links leading outside the root, folders too deep or unreadable
    outside: frozenset[Path]  # the links leading outside: never read, even when an annotation names one


def _walk(root: Path, recursive: bool) -> _Listing:
    """Files under ``root`` without following links out of it: iterative (no recursion limit), at most
    MAX_DEPTH folder levels, hidden names skipped, a link to a folder inside the root skipped (its files are
    listed where they are). OSError only when ``root`` itself cannot be listed."""
    real_root = os.path.realpath(root)
    files, problems, outside = [], [], set()
    pending = [(root, 0)]
    while pending:
        folder, depth = pending.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            if folder == root:
                raise
            problems.append(Problem(folder, f"cannot list folder ({exc.strerror})"))
            continue
        for entry in entries:
            path = Path(entry.path)
            if entry.name.startswith("."):
                continue
            if entry.is_symlink():
                target = os.path.realpath(path)  # no exception, even for a loop
                if os.path.commonpath([real_root, target]) != real_root:
                    problems.append(Problem(path, OUTSIDE_LINK))
                    outside.add(path)
                    continue
                if os.path.isdir(target):
                    continue
            if entry.is_dir(follow_symlinks=False) and recursive:
                if depth >= MAX_DEPTH:
                    problems.append(Problem(path, f"more than {MAX_DEPTH} folder levels deep: not scanned"))
                else:
                    pending.append((path, depth + 1))
            elif entry.is_file():
                files.append(path)
    return _Listing(sorted(files), problems, frozenset(outside))


def _read_annotations(files: list[Path], problems: dict[Path, Problem]) -> tuple[list[Sample], set]:
    """(samples of every annotation file that reads, images they claim); a file that does not is a problem."""
    samples, claimed = [], set()
    for path in files:
        reader = _READERS.get(path.suffix.lower())
        if reader is None:
            continue
        try:
            found = reader(path)
        except (EdgekitError, OSError) as exc:
            message = exc.message if isinstance(exc, EdgekitError) else f"cannot read ({exc.strerror})"
            problems.setdefault(path, Problem(path, message))
            claimed.add(find_image(path))  # its image is not also "without annotation"
            continue
        if found is not None:
            samples.extend(found)
            claimed.update(s.image_path for s in found)
    return samples, claimed


def scan_folder(root: str | Path, recursive: bool = True) -> ScanResult:
    """Every annotated face under ``root``; DataError only if ``root`` itself is missing or unreadable."""
    root = Path(root)
    if not root.is_dir():
        raise DataError("folder not found" if not root.exists() else "not a folder", root)
    try:
        listing = _walk(root, recursive)
    except OSError as exc:
        raise DataError(f"cannot list folder ({exc.strerror})", root) from None
    problems = {p.path: p for p in listing.problems}
    samples, claimed = _read_annotations(listing.files, problems)
    claimed.update(find_image(path) for path in listing.outside)  # beside a refused link: not also an orphan
    sizes: dict[Path, tuple[int, int] | DataError] = {path: DataError(OUTSIDE_LINK, path) for path in listing.outside}
    good = []
    for sample in samples:
        problem = _validate(sample, sizes)
        if problem is None or problem.warning:
            good.append(sample)
        if problem is not None:
            problems.setdefault(problem.path, problem)
    for path in listing.files:
        if is_image_file(path) and path not in claimed:
            problems.setdefault(path, Problem(path, "image without annotation"))
    unique = _without_duplicates(good)
    formats = dict(Counter(s.fmt for s in unique))
    return ScanResult(root, unique, sorted(problems.values(), key=lambda p: str(p.path)), formats,
                      len(good) - len(unique))


def _without_duplicates(samples: list[Sample], tolerance_px: float = 1.0) -> list[Sample]:
    """The first of each face annotated more than once: same image, same point count, points within 1 px."""
    kept: dict[Path, list[Sample]] = {}
    unique = []
    for sample in samples:
        same_image = kept.setdefault(sample.image_path.resolve(), [])
        if sample.landmarks is not None and any(_same_face(sample, other, tolerance_px) for other in same_image):
            continue
        same_image.append(sample)
        unique.append(sample)
    return unique


def _same_face(a: Sample, b: Sample, tolerance_px: float) -> bool:
    if b.landmarks is None or a.landmarks.shape != b.landmarks.shape:
        return False
    with np.errstate(invalid="ignore"):
        return bool(np.nanmax(np.abs(a.landmarks - b.landmarks)) <= tolerance_px)
