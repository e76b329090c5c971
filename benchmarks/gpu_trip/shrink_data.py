"""Shrink the training data for a trip to the lent GPU machine, whose copy of the checkout is limited to 64 MiB.

    python benchmarks/gpu_trip/shrink_data.py --out gpu-data [--data ../shared/data] [--pose]

Same file names as the source (so every seeded split picks the same faces), smaller images, packed into
OUT/data.tgz (unpack there with ``tar xzf OUT/data.tgz -C OUT``):
- 300w-train: the 320x320 crops resized to 224x224 (points scaled about pixel centres; the 112/128-px model crops
  still come from >= 1.3x as many pixels);
- aflw2000/dev (--pose): the 450x450 photos cut to a 176x176 square 1.8x the pt3d_68 box (pt3d_68 / pt2d moved and
  scaled; Pose_Para kept: a translation and a uniform scale leave the head pose unchanged).
Measured: the shipped pfld_1x scores NME 4.813 on the shrunk val faces vs 4.808 on the originals, hopenet_mbv2 MAE
4.795 vs 4.778 (docs/TRAINING.md, "The GPU trips")."""
from __future__ import annotations

import argparse
import sys
import tarfile
import tempfile
from pathlib import Path

import cv2
import numpy as np

from edgekit.atomic import atomic_dir
from edgekit.data.images import load_image
from edgekit.data.matlab import load_mat
from edgekit.data.readers import format_pts, read_pts_points
from edgekit.errors import EdgekitError

JPEG = [cv2.IMWRITE_JPEG_QUALITY, 78]
FACE_SIZE = 224  # 300w-train crops: 320 -> 224
POSE_SIZE, POSE_MARGIN = 176, 1.8  # aflw2000: a POSE_SIZE square, POSE_MARGIN x the landmark box


def resized_points(points: np.ndarray, scale: float) -> np.ndarray:
    """(N, 2) 0-based pixel points of an image resized by ``scale`` (pixel centres map to pixel centres)."""
    return (points + 0.5) * scale - 0.5


def shrink_300w(src: Path, dst: Path) -> int:
    dst.mkdir(parents=True)
    images = sorted(src.glob("*.jpg"))
    for jpg in images:
        image = load_image(jpg)
        scale = FACE_SIZE / image.shape[1]
        small = cv2.resize(image, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(dst / jpg.name), small, JPEG)
        points = read_pts_points(jpg.with_suffix(".pts"))
        (dst / jpg.with_suffix(".pts").name).write_text(format_pts(resized_points(points, scale)))
    return len(images)


def pose_crop_matrix(xy: np.ndarray) -> np.ndarray:
    """2x3 affine (uniform scale + shift) putting the centre of the (2, N) points' box at the centre of a
    POSE_SIZE square whose side is POSE_MARGIN x the box's longer side."""
    low, high = xy.min(axis=1), xy.max(axis=1)
    scale = POSE_SIZE / (POSE_MARGIN * float((high - low).max()))
    shift = POSE_SIZE / 2 - scale * (low + high) / 2
    return np.array([[scale, 0.0, shift[0]], [0.0, scale, shift[1]]])


def shrink_aflw2000(src: Path, dst: Path) -> int:
    import scipy.io as sio

    dst.mkdir(parents=True)
    images = sorted(src.glob("*.jpg"))
    for jpg in images:
        mat = load_mat(jpg.with_suffix(".mat"), ["Pose_Para", "pt3d_68", "pt2d"])
        matrix = pose_crop_matrix(mat["pt3d_68"][:2])
        crop = cv2.warpAffine(load_image(jpg), matrix, (POSE_SIZE, POSE_SIZE), flags=cv2.INTER_AREA)
        cv2.imwrite(str(dst / jpg.name), crop, JPEG)
        scale, shift = matrix[0, 0], matrix[:, 2:3]
        pt3d = mat["pt3d_68"].astype(np.float64)
        pt3d = np.vstack([pt3d[:2] * scale + shift, pt3d[2:] * scale])
        pt2d = mat["pt2d"].astype(np.float64)
        visible = (pt2d >= 0).all(axis=0)  # -1 marks an invisible AFLW point: kept as is
        pt2d[:, visible] = pt2d[:, visible] * scale + shift
        sio.savemat(str(dst / jpg.with_suffix(".mat").name),
                    {"Pose_Para": mat["Pose_Para"], "pt3d_68": pt3d, "pt2d": pt2d})
    return len(images)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder for data.tgz (created; must not exist)")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="the shared data folder")
    parser.add_argument("--pose", action="store_true", help="also aflw2000/dev (for the pose models)")
    args = parser.parse_args(argv)
    if args.out.exists():
        print(f"shrink_data.py: error: {args.out}: exists; give a new folder", file=sys.stderr)
        return 1
    if not (args.data / "300w-train").is_dir():
        print(f"shrink_data.py: error: {args.data / '300w-train'}: no such folder", file=sys.stderr)
        return 1
    try:  # a bad file or a full disk: one line, and no OUT folder at all
        with atomic_dir(args.out) as staging, tempfile.TemporaryDirectory() as tmp:
            faces = shrink_300w(args.data / "300w-train", Path(tmp) / "300w-train")
            poses = shrink_aflw2000(args.data / "aflw2000/dev", Path(tmp) / "aflw2000/dev") if args.pose else 0
            with tarfile.open(staging / "data.tgz", "w:gz") as tar:
                for name in ["300w-train"] + (["aflw2000"] if args.pose else []):
                    tar.add(Path(tmp) / name, arcname=name)
    except (EdgekitError, OSError, ValueError, KeyError) as exc:
        print(f"shrink_data.py: error: {exc}", file=sys.stderr)
        return 1
    size = (args.out / "data.tgz").stat().st_size / 2**20
    print(f"{args.out / 'data.tgz'}: {faces} 300W faces, {poses} AFLW2000 faces, {size:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
