"""The demo's faces: real annotated faces from ``../shared/data`` when they are there, else the one photo edgekit's
dependencies ship.

With the shared data the demo calibrates exactly as ``edgekit export`` does (``calibration/default.yaml``: YouTube-
Faces and AFLW2000-3D faces, boxes from their annotations) and gates each file on the model's own validation set.
Without it, the only real face photo shipped with our dependencies is matplotlib's ``sample_data/grace_hopper.jpg``:
one face is too few to calibrate on, so the demo calibrates on documented augmentations of it
(``CALIBRATION_AUGMENT``: rotation, scale, shift, flip, colour, blur, low resolution) and gates label-free, and its
report says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgekit.data.augment import AugmentConfig, AugParams, JointAugment, photometric
from edgekit.errors import EdgekitError

# Mild, face-preserving changes of the whole photo; the default face detector must still find the face.
CALIBRATION_AUGMENT = AugmentConfig(rotation_deg=12.0, scale=(0.9, 1.1), shift=0.05, flip_p=0.5, brightness=0.3,
                                    contrast=0.3, saturation=0.3, blur_p=0.3, occlusion_p=0.0, downscale_p=0.3,
                                    grayscale_p=0.05)


@dataclass(frozen=True)
class CalibrationChoice:
    calib: str  # what the export reads (a calibration YAML)
    real: bool  # annotated real faces (gate on the models' validation sets), else augmentations of shipped photos
    text: str  # how the report describes it


REAL_CALIBRATION = "calibration/default.yaml"  # edgekit export's default: ytf68/train + aflw2000/dev


def choose_calibration(folder: Path, faces: list[Path], count: int) -> CalibrationChoice:
    """The shared data's annotated faces when ``calibration/default.yaml`` and its folders are here, else ``count``
    augmentations of ``faces`` written into ``folder``."""
    from edgekit.paths import PROJECT_DIR, shared_data_dir

    data = shared_data_dir()
    if (PROJECT_DIR / REAL_CALIBRATION).is_file() and all((data / f).is_dir() for f in ("ytf68/train",
                                                                                         "aflw2000/dev")):
        return CalibrationChoice(REAL_CALIBRATION, True, (
            f"INT8 was calibrated on **real annotated faces** ({REAL_CALIBRATION}: YouTube-Faces and AFLW2000-3D "
            f"under {data}, boxes from their annotations), as `edgekit export` does; each file is gated on the "
            "model's own validation set (its recipe's), with labels."))
    calib = write_calibration_set(folder, faces, count)
    augment = CALIBRATION_AUGMENT
    return CalibrationChoice(str(calib), False, (
        f"No annotated faces here ({data} is absent), so INT8 was calibrated on **{count} augmentations** of "
        f"{', '.join(f.name for f in faces)} (matplotlib's; rotation ±{augment.rotation_deg:g}°, scale "
        f"{augment.scale}, shift ±{augment.shift:g}, flip, brightness/contrast/saturation ±{augment.brightness:g}, "
        "blur, low resolution), boxes from the default face detector, and the gate is **label-free**: each "
        "quantized file is compared with the FP32 model's own predictions on held-out augmentations. That deviation "
        "is an upper bound of the error increase, loose by a large factor, so INT8 files that pass on labelled "
        "faces (docs/EXPORT.md) can fail it here; the export then selects a file that passes."))


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
