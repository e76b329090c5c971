"""MATLAB .mat readers (AFLW2000-3D, 300W-LP, COFW) through scipy.io. Every variable is type-checked before
use (a string, struct, cell or complex array where numbers belong is a DataError naming the file), and every
failure of scipy on a corrupt stream is one DataError too (parsing.fails_closed)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekit.data.parsing import fails_closed, finite_points, image_beside, real_array, scheme_name
from edgekit.data.sample import Sample
from edgekit.errors import DataError, printable

MAX_FACE_MAT_BYTES = 16 << 20  # one face's .mat (AFLW2000, 300W-LP) is ~10 KB: a larger one is not one, and
# a zlib-compressed variable expands ~1000x when loaded


def _mat_call(function, path: Path, **kwargs):
    """Run a scipy.io .mat function; its own errors become one line (v7.3 HDF5 files need h5py, not used here)."""
    from scipy.io.matlab import MatReadError

    try:
        return function(str(path), **kwargs)
    except NotImplementedError:
        raise DataError("MATLAB v7.3 (HDF5) file: not supported; re-save it with save(..., '-v7')", path) from None
    except MatReadError as exc:
        raise DataError(f"cannot read .mat file: {printable(' '.join(str(exc).split()), 80)}", path) from None


@fails_closed
def load_mat(path: str | Path, keys: list[str] | None = None) -> dict:
    """The variables of a .mat file (all, or only ``keys``) as scipy.io.loadmat gives them."""
    import scipy.io

    return _mat_call(scipy.io.loadmat, Path(path), variable_names=keys)


@fails_closed
def mat_shapes(path: str | Path) -> dict[str, tuple[int, ...]]:
    """Variable name -> shape of a .mat file, without loading the data."""
    import scipy.io

    return {name: shape for name, shape, _ in _mat_call(scipy.io.whosmat, Path(path))}


def _load_face_mat(path: Path, keys: list[str]) -> dict:
    if path.stat().st_size > MAX_FACE_MAT_BYTES:
        raise DataError(f"{path.stat().st_size >> 20} MB: too large for one face's .mat file", path)
    return load_mat(path, keys)


def _mat_key(mat: dict, key: str, path: Path, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Variable ``key`` as float64 numbers, with ``shape`` when given."""
    if key not in mat:
        raise DataError(f"missing key '{key}'", path)
    value = real_array(mat[key], path, key)
    if shape is not None and value.shape != shape:
        raise DataError(f"'{key}' has shape {value.shape}, expected {shape}", path)
    return value


def pose_from_pose_para(mat: dict, path: Path) -> np.ndarray:
    """(3,) float32 yaw, pitch, roll degrees from ``Pose_Para`` (1x7: pitch, yaw, roll radians, tx, ty, tz, s)."""
    para = _mat_key(mat, "Pose_Para", path).reshape(-1)
    if para.size < 3 or not np.isfinite(para[:3]).all():
        raise DataError(f"'Pose_Para' needs 3 finite angles, has {para[:3].tolist()}", path)
    pitch, yaw, roll = np.degrees(para[:3])
    return np.array([yaw, pitch, roll], dtype=np.float32)


def _roi_box(mat: dict, path: Path) -> tuple[float, float, float, float] | None:
    if "roi" not in mat:
        return None
    roi = _mat_key(mat, "roi", path).reshape(-1)
    if roi.size == 4 and np.isfinite(roi).all() and roi[2] > roi[0] and roi[3] > roi[1]:
        return tuple(float(v) for v in roi)
    return None


def read_aflw2000_mat(path: str | Path, image_path: Path | None = None, points: str = "pt3d_68") -> Sample:
    """AFLW2000-3D: pose from ``Pose_Para``; landmarks from ``pt3d_68`` (x, y rows of 3x68, scheme ibug68) or
    ``pt2d`` (2x21 AFLW points, -1 where invisible -> NaN, scheme aflw21)."""
    if points not in ("pt3d_68", "pt2d"):
        raise ValueError(f"points must be 'pt3d_68' or 'pt2d', got {points!r}")  # the caller's bug, not the file's
    return _read_aflw2000_mat(Path(path), image_path, points)


@fails_closed
def _read_aflw2000_mat(path: Path, image_path: Path | None, points: str) -> Sample:
    mat = _load_face_mat(path, ["Pose_Para", "pt3d_68", "pt2d", "roi"])
    pose = pose_from_pose_para(mat, path)
    if points == "pt3d_68":
        landmarks = finite_points(_mat_key(mat, "pt3d_68", path, (3, 68))[:2].T.reshape(-1), path, "pt3d_68")
    else:
        landmarks = finite_points(_mat_key(mat, "pt2d", path, (2, 21)).T.reshape(-1), path, "pt2d")
        landmarks[(landmarks < 0).any(axis=1)] = np.nan
    return Sample(image_beside(path, image_path), landmarks, pose, scheme_name(landmarks), None,
                  "aflw2000_mat", path)


@fails_closed
def read_300wlp_mat(path: str | Path, image_path: Path | None = None) -> Sample:
    """300W-LP: ``pt2d`` 2x68 landmarks, ``Pose_Para`` pose, ``roi`` box when present; image = same stem .jpg."""
    path = Path(path)
    mat = _load_face_mat(path, ["Pose_Para", "pt2d", "roi"])
    landmarks = finite_points(_mat_key(mat, "pt2d", path, (2, 68)).T.reshape(-1), path, "pt2d")
    return Sample(image_beside(path, image_path), landmarks, pose_from_pose_para(mat, path), "ibug68",
                  _roi_box(mat, path), "300wlp_mat", path)


def _cofw_pixels(pixels, path: Path, index: int) -> np.ndarray:
    """One inline COFW image: uint8 (H, W) gray or (H, W, 3)."""
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8 or not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 3)):
        raise DataError(f"face {index}: image is {pixels.dtype.name} {pixels.shape}, expected uint8 (H, W[, 3])", path)
    return np.ascontiguousarray(pixels)


@fails_closed
def read_cofw_mat(path: str | Path) -> list[Sample]:
    """COFW (``IsT``/``phisT`` or ``IsTr``/``phisTr``; phis rows: 29 x, 29 y, 29 occlusion flags) with inline
    images. Boxes come from ``bboxesT``/``bboxesTr`` (x, y, w, h) when present."""
    path = Path(path)
    mat = load_mat(path)
    split = "T" if "IsT" in mat else "Tr" if "IsTr" in mat else None
    if split is None:
        raise DataError("missing key 'IsT' or 'IsTr' (not a COFW file)", path)
    images = np.asarray(mat[f"Is{split}"]).reshape(-1)
    phis = _mat_key(mat, f"phis{split}", path)
    if phis.ndim != 2 or phis.shape[1] < 58 or len(phis) != len(images):
        raise DataError(f"'phis{split}' has shape {phis.shape}, expected ({len(images)}, 87)", path)
    boxes = _mat_key(mat, f"bboxes{split}", path) if f"bboxes{split}" in mat else np.zeros((0, 4))
    samples = []
    for i, (pixels, phi) in enumerate(zip(images, phis)):
        landmarks = finite_points(np.stack([phi[:29], phi[29:58]], axis=1).reshape(-1), path, f"face {i}")
        box = None
        if boxes.shape == (len(images), 4):
            x, y, w, h = (float(v) for v in boxes[i])
            box = (x, y, x + w, y + h)
        samples.append(Sample(Path(f"{path}#{i}"), landmarks, None, "cofw29", box, "cofw_mat", path,
                              _cofw_pixels(pixels, path, i)))
    return samples
