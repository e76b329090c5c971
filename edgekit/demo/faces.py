"""Real faces for the demo that edgekit's own dependencies ship, and a calibration set made from them.

Only one real face photo ships with our dependencies: matplotlib's ``sample_data/grace_hopper.jpg``. A handful
of faces is too few to calibrate on, so the demo calibrates on documented augmentations of it
(``CALIBRATION_AUGMENT``: rotation, scale, shift, flip, colour, blur, low resolution), and says so in its report.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edgekit.data.augment import AugmentConfig, AugParams, JointAugment, photometric
from edgekit.errors import EdgekitError

# Mild, face-preserving changes of the whole photo; the default face detector must still find the face.
CALIBRATION_AUGMENT = AugmentConfig(rotation_deg=12.0, scale=(0.9, 1.1), shift=0.05, flip_p=0.5, brightness=0.3,
                                    contrast=0.3, saturation=0.3, blur_p=0.3, occlusion_p=0.0, downscale_p=0.3,
                                    grayscale_p=0.05)


def shipped_faces() -> list[Path]:
    """Photos of real faces inside installed packages (no download, nothing copied into this repository)."""
    import matplotlib.cbook

    path = Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    if not path.is_file():
        raise EdgekitError("matplotlib's sample photo grace_hopper.jpg is missing (reinstall matplotlib)", path)
    return [path]


def augment_photo(image: np.ndarray, params: AugParams) -> np.ndarray:
    """The whole photo rotated / scaled / shifted about its centre (reflected borders), flipped, recoloured."""
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), params.rotation_deg, 1.0 / params.scale)
    matrix[:, 2] += (params.shift[0] * width, params.shift[1] * height)
    out = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    if params.flip:
        out = cv2.flip(out, 1)
    return photometric(out, "BGR", params)


def write_calibration_set(folder: Path, faces: list[Path], count: int, seed: int = 0) -> Path:
    """``count`` augmented photos in which the default detector finds a face, and ``<folder>.yaml`` beside the
    folder (boxes from the detector). Returns the YAML path."""
    from edgekit.atomic import atomic_write_text
    from edgekit.runtime.detect import get_detector

    import shutil

    shutil.rmtree(folder, ignore_errors=True)  # made anew each run: nothing stale is calibrated on
    folder.mkdir(parents=True)
    detector, augment = get_detector(), JointAugment(CALIBRATION_AUGMENT)
    rng = np.random.default_rng(seed)
    photos = [cv2.imread(str(face)) for face in faces]
    written, tries = 0, 0
    while written < count:
        tries += 1
        if tries > 10 * count:
            raise EdgekitError(f"the face detector found faces in only {written} of {tries} augmented photos")
        photo = augment_photo(photos[tries % len(photos)], augment.sample(rng))
        encoded = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, 92])[1]
        if not detector.detect(cv2.imdecode(encoded, cv2.IMREAD_COLOR)):  # exactly what calibration will read
            continue
        (folder / f"face_{written:03d}.jpg").write_bytes(encoded.tobytes())
        written += 1
    names = ", ".join(face.name for face in faces)
    return atomic_write_text(folder.with_suffix(".yaml"), (
        f"description: {count} augmentations of {names} (shipped with matplotlib); demo only\n"
        f"sources:\n  - path: {folder.name}\n    boxes: detector\n"))
