"""One reader per annotation format. Each returns Samples and raises DataError(path) for malformed content:
every value is type-checked, and any other parse failure of a hostile file is one DataError too
(parsing.fails_closed). Messages quote the file only as a short escaped excerpt.

Points are returned as stored (0-based pixels by the project's convention; MATLAB-made files are not shifted).
The .mat readers live in matlab.py and are re-exported here.
"""
from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np

from edgekit.data.matlab import (load_mat, mat_shapes, pose_from_pose_para, read_300wlp_mat,  # noqa: F401
                                 read_aflw2000_mat, read_cofw_mat)
from edgekit.data.parsing import (MAX_COORDINATE, count, fails_closed, finite_points, image_beside, json_numbers,
                                  load_json, number, read_text, scheme_name)
from edgekit.data.sample import Sample
from edgekit.errors import DataError

WFLW_FIELDS = 196 + 4 + 6 + 1  # 98 x/y pairs, box x0 y0 x1 y1, 6 attribute flags, image path
KAGGLE_NAMES = (
    "left_eye_center", "right_eye_center", "left_eye_inner_corner", "left_eye_outer_corner",
    "right_eye_inner_corner", "right_eye_outer_corner", "left_eyebrow_inner_end", "left_eyebrow_outer_end",
    "right_eyebrow_inner_end", "right_eyebrow_outer_end", "nose_tip", "mouth_left_corner", "mouth_right_corner",
    "mouth_center_top_lip", "mouth_center_bottom_lip",
)  # the 15 points of the Kaggle facial-keypoints CSV, in its column order (scheme "kaggle15")
KAGGLE_SIDE = 96  # Kaggle images are 96x96 gray
_KAGGLE_PIXELS = re.compile(r"[0-9\s]*", re.ASCII)  # gray values: non-negative integers separated by spaces
_JSON_KEYS = (int, float, str)  # what a COCO image id may be (not a bool, list or object)


def _text_numbers(tokens: list[str], path: Path, where: str) -> np.ndarray:
    return np.array([number(token, path, where) for token in tokens], dtype=np.float64)


# ----------------------------------------------------------------------------- iBUG .pts


def _pts_line(text: str, line: int, path: Path) -> tuple[float, float]:
    fields = text.split()  # spaces or tabs
    if len(fields) != 2:
        raise DataError(f"line {line}: expected 'x y' numbers, got {len(fields)} fields", path)
    x, y = (number(field, path, f"line {line}") for field in fields)
    if not (math.isfinite(x) and math.isfinite(y)):
        raise DataError(f"line {line}: NaN or infinite coordinate", path)
    return x, y


@fails_closed
def read_pts_points(path: str | Path) -> np.ndarray:
    """(N, 2) float32 from an iBUG .pts file, with or without the ``version / n_points / { }`` header (UTF-8, a
    byte-order mark and CRLF line ends allowed)."""
    path = Path(path)
    declared, values = None, []
    for line, raw in enumerate(read_text(path).splitlines(), 1):
        text = raw.strip()
        if not text or text in ("{", "}") or text.startswith(("#", "version:")):
            continue
        if text.startswith("n_points:"):
            declared = count(text.split(":", 1)[1], path, f"line {line}: n_points")
            continue
        values.append(_pts_line(text, line, path))
    points = finite_points(np.array(values, dtype=np.float64).reshape(-1), path, "points")
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
    return Sample(image_beside(path, image_path), points, None, scheme_name(points), None, "pts", path)


# ----------------------------------------------------------------------------- text and JSON lists


def _resolve_image(name: str, folders: list[Path]) -> Path:
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    return folders[0] / name


@fails_closed
def read_wflw_txt(path: str | Path, image_root: Path | None = None) -> list[Sample]:
    """WFLW list file: per line 196 coordinates, box x0 y0 x1 y1, 6 attribute flags, image path under
    ``WFLW_images`` (looked up beside the list file and up to two levels up, or under ``image_root``)."""
    path = Path(path)
    roots = [image_root] if image_root else [path.parent, *(p / "WFLW_images" for p in path.parents[:3])]
    samples = []
    for line, text in enumerate(read_text(path).splitlines(), 1):
        fields = text.split()
        if not fields:
            continue
        if len(fields) != WFLW_FIELDS:
            raise DataError(f"line {line}: {len(fields)} fields, a WFLW line has {WFLW_FIELDS}", path)
        values = _text_numbers(fields[:200], path, f"line {line}")
        landmarks = finite_points(values[:196], path, f"line {line}")
        box = tuple(float(v) for v in finite_points(values[196:], path, f"line {line} box").reshape(-1))
        samples.append(Sample(_resolve_image(fields[-1], roots), landmarks, None, "wflw98", box, "wflw_txt", path))
    return samples


def is_coco(data) -> bool:
    """Whether a parsed JSON document claims to be a COCO keypoint file (configs and manifests do not)."""
    return isinstance(data, dict) and "annotations" in data and "images" in data


def _coco_list(data, key: str, path: Path) -> list:
    if not isinstance(data, dict) or key not in data:
        raise DataError(f"not a COCO keypoint file: missing key '{key}'", path)
    if not isinstance(data[key], list):
        raise DataError(f"'{key}' is not a list", path)
    return data[key]


def _coco_images(images: list, path: Path) -> dict:
    """image id -> file name; each entry must be an object with an id and a text file_name."""
    names = {}
    for k, image in enumerate(images):
        if not (isinstance(image, dict) and type(image.get("id")) in _JSON_KEYS
                and isinstance(image.get("file_name"), str) and image["file_name"]):
            raise DataError(f"image {k}: expected an object with 'id' and a text 'file_name'", path)
        names[image["id"]] = image["file_name"]
    return names


def _coco_box(ann: dict, path: Path, k: int) -> tuple[float, float, float, float] | None:
    if ann.get("bbox") in (None, []):
        return None
    values = json_numbers(ann["bbox"], path, f"annotation {k} bbox")
    if len(values) != 4 or not np.isfinite(values).all():
        raise DataError(f"annotation {k}: 'bbox' is not 4 finite numbers x y w h", path)
    x, y, w, h = (float(v) for v in values)
    return x, y, x + w, y + h


def coco_samples(data, path: Path) -> list[Sample]:
    """The Samples of a parsed COCO keypoint document ``data`` read from ``path`` (see read_coco_json)."""
    images = _coco_images(_coco_list(data, "images", path), path)
    annotations = _coco_list(data, "annotations", path)
    folders = [path.parent, path.parent / "images", path.parent.parent / "images"]
    samples = []
    for k, ann in enumerate(annotations):
        if not isinstance(ann, dict) or "keypoints" not in ann or type(ann.get("image_id")) not in _JSON_KEYS \
                or ann["image_id"] not in images:
            raise DataError(f"annotation {k}: missing 'keypoints' or unknown 'image_id'", path)
        values = json_numbers(ann["keypoints"], path, f"annotation {k}")
        if len(values) % 3:
            raise DataError(f"annotation {k}: {len(values)} keypoint values, not a multiple of 3", path)
        landmarks = finite_points(values.reshape(-1, 3)[:, :2].reshape(-1), path, f"annotation {k}")
        unlabelled = (values[2::3] == 0) & (landmarks == 0).all(axis=1)
        landmarks[unlabelled] = np.nan
        image_path = _resolve_image(images[ann["image_id"]], folders)
        samples.append(Sample(image_path, landmarks, None, scheme_name(landmarks), _coco_box(ann, path, k),
                              "coco_json", path))
    return samples


@fails_closed
def read_coco_json(path: str | Path) -> list[Sample]:
    """COCO/mmpose keypoint JSON: ``images`` (id, file_name) and ``annotations`` (image_id, keypoints
    [x, y, v]*N, bbox x y w h). v = 0 with x = y = 0 marks an unlabelled point -> NaN. Images are looked up
    beside the JSON, then in ``images/`` beside it and beside its folder."""
    path = Path(path)
    return coco_samples(load_json(path), path)


def _kaggle_value(text: str, path: Path, row: int) -> float:
    if not text.strip():
        return math.nan  # a missing point
    value = number(text.strip(), path, f"row {row}")
    if math.isinf(value):
        raise DataError(f"row {row}: infinite coordinate", path)
    return value


def _kaggle_pixels(text: str, path: Path, row: int) -> np.ndarray:
    """uint8 (96, 96) from the ``Image`` column: 96*96 integers 0-255."""
    if not _KAGGLE_PIXELS.fullmatch(text):
        raise DataError(f"row {row}: 'Image' holds values that are not integers 0-255", path)
    pixels = np.array(text.split(), dtype=np.float64)  # digits only: no sign, NaN or exponent
    if pixels.size != KAGGLE_SIDE * KAGGLE_SIDE:
        raise DataError(f"row {row}: 'Image' has {pixels.size} values, expected {KAGGLE_SIDE ** 2}", path)
    if pixels.max() > 255:
        raise DataError(f"row {row}: 'Image' holds values that are not integers 0-255", path)
    return pixels.astype(np.uint8).reshape(KAGGLE_SIDE, KAGGLE_SIDE)


@fails_closed
def read_kaggle_csv(path: str | Path) -> list[Sample]:
    """Kaggle facial keypoints CSV: 30 ``<point>_x/_y`` columns (empty = missing -> NaN) and ``Image`` with
    96*96 space-separated gray values; images come inline."""
    path = Path(path)
    columns = [f"{name}_{axis}" for name in KAGGLE_NAMES for axis in "xy"]
    samples = []
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = csv.reader(f)
        header = next(rows, [])
        missing = [c for c in columns + ["Image"] if c not in header]
        if missing:
            raise DataError(f"missing column '{missing[0]}' (not a Kaggle facial-keypoints CSV)", path)
        index = {name: i for i, name in enumerate(header)}
        for fields in rows:
            row = rows.line_num
            if not fields:
                continue
            if len(fields) != len(header):
                raise DataError(f"row {row}: {len(fields)} fields, the header has {len(header)}", path)
            points = np.array([_kaggle_value(fields[index[c]], path, row) for c in columns], dtype=np.float32)
            samples.append(Sample(Path(f"{path}#{row}"), points.reshape(-1, 2), None, "kaggle15", None, "kaggle_csv",
                                  path, _kaggle_pixels(fields[index["Image"]], path, row)))
    return samples


_NO_LJSON_POINTS = "not a menpo .ljson file: no 'landmarks.points' list"


def _ljson_group_points(group, path: Path) -> list:
    landmarks = group.get("landmarks") if isinstance(group, dict) else None
    points = landmarks.get("points") if isinstance(landmarks, dict) else None
    if not isinstance(points, list):
        raise DataError(_NO_LJSON_POINTS, path)
    return points


def _ljson_points(data, path: Path) -> list:
    """The points of the first group (preferring one with 68 points) or of the top level."""
    if not isinstance(data, dict):
        raise DataError(_NO_LJSON_POINTS, path)
    if "groups" not in data:
        return _ljson_group_points(data, path)
    if not isinstance(data["groups"], dict) or not data["groups"]:
        raise DataError("'groups' is not an object of landmark groups", path)
    groups = [_ljson_group_points(group, path) for group in data["groups"].values()]
    return next((g for g in groups if len(g) == 68), groups[0])


def _ljson_point(point, path: Path, k: int) -> np.ndarray:
    if point is None:
        return np.full(2, np.nan)  # a missing point
    if not isinstance(point, list) or len(point) != 2:
        raise DataError(f"point {k}: expected a (y, x) number pair or null", path)
    return json_numbers(point, path, f"point {k}")


@fails_closed
def read_ljson(path: str | Path, image_path: Path | None = None) -> Sample:
    """menpo .ljson (v1/v2 ``landmarks.points``, v3 ``groups.<name>.landmarks.points``); menpo stores points
    as (y, x), null for a missing point. Takes the first group, preferring one with 68 points."""
    path = Path(path)
    points = _ljson_points(load_json(path), path)
    yx = np.array([_ljson_point(p, path, k) for k, p in enumerate(points)], dtype=np.float64).reshape(-1, 2)
    if np.isinf(yx).any() or (np.abs(yx[np.isfinite(yx)]) > MAX_COORDINATE).any():
        raise DataError(f"infinite coordinate or one beyond {MAX_COORDINATE:g} px", path)
    landmarks = yx[:, ::-1].astype(np.float32)
    return Sample(image_beside(path, image_path), landmarks, None, scheme_name(landmarks), None, "ljson", path)


__all__ = ["KAGGLE_NAMES", "WFLW_FIELDS", "coco_samples", "format_pts", "is_coco", "load_mat",
           "mat_shapes", "pose_from_pose_para", "read_300wlp_mat", "read_aflw2000_mat", "read_coco_json",
           "read_cofw_mat", "read_kaggle_csv", "read_ljson", "read_pts", "read_pts_points", "read_wflw_txt"]
