"""One reader per annotation format. Each returns Samples and raises DataError(path) for malformed content.

Points are returned as stored (0-based pixels by the project's convention; MATLAB-made files are not shifted).
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from edgekit.data.images import find_image
from edgekit.data.sample import Sample
from edgekit.data.schemes import scheme_for_count
from edgekit.errors import DataError

WFLW_FIELDS = 196 + 4 + 6 + 1  # 98 x/y pairs, box x0 y0 x1 y1, 6 attribute flags, image path
KAGGLE_NAMES = (
    "left_eye_center", "right_eye_center", "left_eye_inner_corner", "left_eye_outer_corner",
    "right_eye_inner_corner", "right_eye_outer_corner", "left_eyebrow_inner_end", "left_eyebrow_outer_end",
    "right_eyebrow_inner_end", "right_eyebrow_outer_end", "nose_tip", "mouth_left_corner", "mouth_right_corner",
    "mouth_center_top_lip", "mouth_center_bottom_lip",
)  # the 15 points of the Kaggle facial-keypoints CSV, in its column order (scheme "kaggle15")
KAGGLE_SIDE = 96  # Kaggle images are 96x96 gray


def _scheme_name(points: np.ndarray) -> str | None:
    scheme = scheme_for_count(len(points))
    return scheme.name if scheme else None


def _finite_points(values, path: Path, what: str) -> np.ndarray:
    """(N, 2) float32 from a flat sequence x0 y0 x1 y1 ...; DataError on text or NaN/inf."""
    try:
        points = np.asarray(values, dtype=np.float64).reshape(-1, 2)
    except (ValueError, TypeError):
        raise DataError(f"{what}: coordinates are not numbers", path) from None
    if not np.isfinite(points).all():
        raise DataError(f"{what}: NaN or infinite coordinate", path)
    return points.astype(np.float32)


def _image_beside(path: Path, image_path: Path | None) -> Path:
    """The image given, the one found beside ``path``, or the expected ``<stem>.jpg`` (the scan reports it missing)."""
    return image_path or find_image(path) or path.with_suffix(".jpg")


# ----------------------------------------------------------------------------- iBUG .pts


def _pts_line(text: str, number: int, path: Path) -> tuple[float, float]:
    fields = text.split()
    try:
        x, y = (float(v) for v in fields)
    except ValueError:
        raise DataError(f"line {number}: expected 'x y' numbers, got '{text[:40]}'", path) from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise DataError(f"line {number}: NaN or infinite coordinate", path)
    return x, y


def read_pts_points(path: str | Path) -> np.ndarray:
    """(N, 2) float32 from an iBUG .pts file, with or without the ``version / n_points / { }`` header."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="strict").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read .pts file ({exc.__class__.__name__})", path) from None
    declared, values = None, []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text in ("{", "}") or text.startswith(("#", "version:")):
            continue
        if text.startswith("n_points:"):
            try:
                declared = int(text.split(":", 1)[1])
            except ValueError:
                raise DataError(f"line {number}: bad n_points '{text}'", path) from None
            continue
        values.append(_pts_line(text, number, path))
    points = np.array(values, dtype=np.float32).reshape(-1, 2)
    if not len(points):
        raise DataError("no points", path)
    if declared is not None and declared != len(points):
        raise DataError(f"header says n_points: {declared} but the file has {len(points)} points", path)
    return points


def format_pts(points: np.ndarray) -> str:
    """iBUG .pts text (with the version / n_points header) for (N, 2) points."""
    rows = "\n".join(f"{x:.6f} {y:.6f}" for x, y in np.asarray(points, dtype=np.float64))
    return f"version: 1\nn_points: {len(points)}\n{{\n{rows}\n}}\n"


def read_pts(path: str | Path, image_path: Path | None = None) -> Sample:
    path = Path(path)
    points = read_pts_points(path)
    return Sample(_image_beside(path, image_path), points, None, _scheme_name(points), None, "pts", path)


# ----------------------------------------------------------------------------- MATLAB .mat


def _mat_call(function, path: Path, **kwargs):
    """Run a scipy.io .mat function with one-line errors (v7.3 HDF5 files need h5py, which edgekit does not use)."""
    from scipy.io.matlab import MatReadError

    try:
        return function(str(path), **kwargs)
    except NotImplementedError:
        raise DataError("MATLAB v7.3 (HDF5) file: not supported; re-save it with save(..., '-v7')", path) from None
    except (MatReadError, ValueError, TypeError, OSError) as exc:
        raise DataError(f"cannot read .mat file: {' '.join(str(exc).split())[:120]}", path) from None


def load_mat(path: str | Path, keys: list[str] | None = None) -> dict:
    """The variables of a .mat file (all, or only ``keys``) as scipy.io.loadmat gives them."""
    import scipy.io

    return _mat_call(scipy.io.loadmat, Path(path), variable_names=keys)


def mat_shapes(path: str | Path) -> dict[str, tuple[int, ...]]:
    """Variable name -> shape of a .mat file, without loading the data."""
    import scipy.io

    return {name: shape for name, shape, _ in _mat_call(scipy.io.whosmat, Path(path))}


def _mat_key(mat: dict, key: str, path: Path, shape: tuple[int, ...] | None = None) -> np.ndarray:
    if key not in mat:
        raise DataError(f"missing key '{key}'", path)
    value = np.asarray(mat[key])
    if shape is not None and value.shape != shape:
        raise DataError(f"'{key}' has shape {value.shape}, expected {shape}", path)
    return value


def pose_from_pose_para(mat: dict, path: Path) -> np.ndarray:
    """(3,) float32 yaw, pitch, roll degrees from ``Pose_Para`` (1x7: pitch, yaw, roll radians, tx, ty, tz, s)."""
    para = _mat_key(mat, "Pose_Para", path).reshape(-1).astype(np.float64)
    if para.size < 3 or not np.isfinite(para[:3]).all():
        raise DataError(f"'Pose_Para' needs 3 finite angles, has {para[:3].tolist()}", path)
    pitch, yaw, roll = np.degrees(para[:3])
    return np.array([yaw, pitch, roll], dtype=np.float32)


def _roi_box(mat: dict) -> tuple[float, float, float, float] | None:
    roi = np.asarray(mat.get("roi", ())).reshape(-1)
    if roi.size == 4 and roi[2] > roi[0] and roi[3] > roi[1]:
        return tuple(float(v) for v in roi)
    return None


def read_aflw2000_mat(path: str | Path, image_path: Path | None = None, points: str = "pt3d_68") -> Sample:
    """AFLW2000-3D: pose from ``Pose_Para``; landmarks from ``pt3d_68`` (x, y rows of 3x68, scheme ibug68) or
    ``pt2d`` (2x21 AFLW points, -1 where invisible -> NaN, scheme aflw21)."""
    path = Path(path)
    mat = load_mat(path, ["Pose_Para", "pt3d_68", "pt2d", "roi"])
    pose = pose_from_pose_para(mat, path)
    if points == "pt3d_68":
        landmarks = _finite_points(_mat_key(mat, "pt3d_68", path, (3, 68))[:2].T.reshape(-1), path, "pt3d_68")
    elif points == "pt2d":
        landmarks = _finite_points(_mat_key(mat, "pt2d", path, (2, 21)).T.reshape(-1), path, "pt2d")
        landmarks[(landmarks < 0).any(axis=1)] = np.nan
    else:
        raise ValueError(f"points must be 'pt3d_68' or 'pt2d', got {points!r}")
    return Sample(_image_beside(path, image_path), landmarks, pose, _scheme_name(landmarks), None,
                  "aflw2000_mat", path)


def read_300wlp_mat(path: str | Path, image_path: Path | None = None) -> Sample:
    """300W-LP: ``pt2d`` 2x68 landmarks, ``Pose_Para`` pose, ``roi`` box when present; image = same stem .jpg."""
    path = Path(path)
    mat = load_mat(path, ["Pose_Para", "pt2d", "roi"])
    landmarks = _finite_points(_mat_key(mat, "pt2d", path, (2, 68)).T.reshape(-1), path, "pt2d")
    return Sample(_image_beside(path, image_path), landmarks, pose_from_pose_para(mat, path), "ibug68",
                  _roi_box(mat), "300wlp_mat", path)


def read_cofw_mat(path: str | Path) -> list[Sample]:
    """COFW (``IsT``/``phisT`` or ``IsTr``/``phisTr``; phis rows: 29 x, 29 y, 29 occlusion flags) with inline
    images. Boxes come from ``bboxesT``/``bboxesTr`` (x, y, w, h) when present."""
    path = Path(path)
    mat = load_mat(path)
    split = "T" if "IsT" in mat else "Tr" if "IsTr" in mat else None
    if split is None:
        raise DataError("missing key 'IsT' or 'IsTr' (not a COFW file)", path)
    images = _mat_key(mat, f"Is{split}", path).reshape(-1)
    phis = _mat_key(mat, f"phis{split}", path)
    if phis.ndim != 2 or phis.shape[1] < 58 or len(phis) != len(images):
        raise DataError(f"'phis{split}' has shape {phis.shape}, expected ({len(images)}, 87)", path)
    boxes = np.asarray(mat.get(f"bboxes{split}", np.zeros((0, 4))))
    samples = []
    for i, (pixels, phi) in enumerate(zip(images, phis)):
        landmarks = _finite_points(np.stack([phi[:29], phi[29:58]], axis=1).reshape(-1), path, f"face {i}")
        box = None
        if len(boxes) == len(images):
            x, y, w, h = (float(v) for v in boxes[i])
            box = (x, y, x + w, y + h)
        samples.append(Sample(Path(f"{path}#{i}"), landmarks, None, "cofw29", box, "cofw_mat", path,
                              np.ascontiguousarray(pixels, dtype=np.uint8)))
    return samples


# ----------------------------------------------------------------------------- text and JSON lists


def _resolve_image(name: str, folders: list[Path]) -> Path:
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    return folders[0] / name


def read_wflw_txt(path: str | Path, image_root: Path | None = None) -> list[Sample]:
    """WFLW list file: per line 196 coordinates, box x0 y0 x1 y1, 6 attribute flags, image path under
    ``WFLW_images`` (looked up beside the list file and up to two levels up, or under ``image_root``)."""
    path = Path(path)
    roots = [image_root] if image_root else [path.parent, *(p / "WFLW_images" for p in path.parents[:3])]
    samples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != WFLW_FIELDS:
            raise DataError(f"line {number}: {len(fields)} fields, a WFLW line has {WFLW_FIELDS}", path)
        landmarks = _finite_points(fields[:196], path, f"line {number}")
        box = tuple(float(v) for v in _finite_points(fields[196:200], path, f"line {number} box").reshape(-1))
        samples.append(Sample(_resolve_image(fields[-1], roots), landmarks, None, "wflw98", box, "wflw_txt", path))
    return samples


def read_coco_json(path: str | Path) -> list[Sample]:
    """COCO/mmpose keypoint JSON: ``images`` (id, file_name) and ``annotations`` (image_id, keypoints
    [x, y, v]*N, bbox x y w h). v = 0 with x = y = 0 marks an unlabelled point -> NaN. Images are looked up
    beside the JSON, then in ``images/`` beside it and beside its folder."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        images = {image["id"]: image["file_name"] for image in data["images"]}
        annotations = data["annotations"]
    except json.JSONDecodeError as exc:
        raise DataError(f"not valid JSON (line {exc.lineno})", path) from None
    except (KeyError, TypeError) as exc:
        raise DataError(f"not a COCO keypoint file: missing key {exc}", path) from None
    folders = [path.parent, path.parent / "images", path.parent.parent / "images"]
    samples = []
    for k, ann in enumerate(annotations):
        if "keypoints" not in ann or ann.get("image_id") not in images:
            raise DataError(f"annotation {k}: missing 'keypoints' or unknown 'image_id'", path)
        values = ann["keypoints"]
        if len(values) % 3:
            raise DataError(f"annotation {k}: {len(values)} keypoint values, not a multiple of 3", path)
        xy = [v for i, v in enumerate(values) if i % 3 != 2]
        landmarks = _finite_points(xy, path, f"annotation {k}")
        unlabelled = (np.asarray(values[2::3], dtype=float) == 0) & (landmarks == 0).all(axis=1)
        landmarks[unlabelled] = np.nan
        box = None
        if "bbox" in ann and len(ann["bbox"]) == 4:
            x, y, w, h = (float(v) for v in ann["bbox"])
            box = (x, y, x + w, y + h)
        image_path = _resolve_image(images[ann["image_id"]], folders)
        samples.append(Sample(image_path, landmarks, None, _scheme_name(landmarks), box, "coco_json", path))
    return samples


def _kaggle_value(text: str, path: Path, row: int) -> float:
    if not text.strip():
        return math.nan  # a missing point
    try:
        return float(text)
    except ValueError:
        raise DataError(f"row {row}: '{text[:20]}' is not a number", path) from None


def read_kaggle_csv(path: str | Path) -> list[Sample]:
    """Kaggle facial keypoints CSV: 30 ``<point>_x/_y`` columns (empty = missing -> NaN) and ``Image`` with
    96*96 space-separated gray values; images come inline."""
    path = Path(path)
    columns = [f"{name}_{axis}" for name in KAGGLE_NAMES for axis in "xy"]
    samples = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in columns + ["Image"] if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"missing column '{missing[0]}' (not a Kaggle facial-keypoints CSV)", path)
        for row, record in enumerate(reader, 2):  # row 1 is the header
            points = np.array([_kaggle_value(record[c], path, row) for c in columns], dtype=np.float32).reshape(-1, 2)
            try:
                pixels = np.array(record["Image"].split(), dtype=np.float64)
            except ValueError:
                raise DataError(f"row {row}: 'Image' holds non-numeric values", path) from None
            if pixels.size != KAGGLE_SIDE * KAGGLE_SIDE:
                raise DataError(f"row {row}: 'Image' has {pixels.size} values, expected {KAGGLE_SIDE ** 2}", path)
            gray = np.clip(pixels, 0, 255).astype(np.uint8).reshape(KAGGLE_SIDE, KAGGLE_SIDE)
            samples.append(Sample(Path(f"{path}#{row}"), points, None, "kaggle15", None, "kaggle_csv", path, gray))
    return samples


def read_ljson(path: str | Path, image_path: Path | None = None) -> Sample:
    """menpo .ljson (v1/v2 ``landmarks.points``, v3 ``groups.<name>.landmarks.points``); menpo stores points
    as (y, x), null for a missing point. Takes the first group, preferring one with 68 points."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if "groups" in data:
            groups = [g["landmarks"]["points"] for g in data["groups"].values()]
            points = next((g for g in groups if len(g) == 68), groups[0])
        else:
            points = data["landmarks"]["points"]
    except json.JSONDecodeError as exc:
        raise DataError(f"not valid JSON (line {exc.lineno})", path) from None
    except (KeyError, TypeError, IndexError, AttributeError):
        raise DataError("not a menpo .ljson file: no 'landmarks.points'", path) from None
    try:
        yx = np.array([[math.nan, math.nan] if p is None else p for p in points], dtype=np.float64).reshape(-1, 2)
    except (ValueError, TypeError):
        raise DataError("points are not (y, x) number pairs", path) from None
    landmarks = yx[:, ::-1].astype(np.float32)
    return Sample(_image_beside(path, image_path), landmarks, None, _scheme_name(landmarks), None, "ljson", path)
