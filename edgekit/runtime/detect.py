"""Face detectors: anything with ``detect(image_bgr) -> list[(x0, y0, x1, y1, score)]``, biggest face first.

The default is BlazeFace (``detect_blazeface``: short range, then full range when short range finds nothing), the
best of the built-in detectors on real photos (docs/DETECTORS.md); its .tflite files come out of the mediapipe
wheel at install time (``python -m edgekit.fetch``), and where they are absent the default is OpenCV's bundled Haar
cascade (frontal face, with the profile cascade on the image and its mirror as a fallback), with one note on
stderr. Built-in detectors give boxes in one convention: the square that ``PreprocessSpec.detector_box_scale`` /
``detector_box_shift_y`` turn into the model's crop (each detector's own box fit, docs/DETECTORS.md).
``get_detector`` resolves what a user names:

    get_detector("blazeface-auto")        # the default; "blazeface" (short range), "blazeface-full"
    get_detector("haar")                  # OpenCV's Haar cascade
    get_detector("yunet:face_yunet.onnx") # cv2.FaceDetectorYN with that model file
    get_detector("mypkg.faces:detect")    # a callable image_bgr -> [(x0, y0, x1, y1[, score]), ...]
    get_detector(my_callable)             # the same, in-process
"""
from __future__ import annotations

import functools
import importlib
import sys
from pathlib import Path
from typing import Callable, Protocol, Sequence, runtime_checkable

import cv2
import numpy as np

from edgekit.errors import DataError, EdgekitError, ModelFileError, SpecError
from edgekit.runtime.preprocess import as_bgr

Detection = tuple[float, float, float, float, float]  # x0, y0, x1, y1 (image pixels), score (higher = surer)

DEFAULT_DETECTOR = "blazeface-auto"  # docs/DETECTORS.md: recall, wrong-face rate and latency on real photos
FALLBACK_DETECTOR = "haar"  # the default where the BlazeFace files are not installed


@runtime_checkable
class FaceDetector(Protocol):
    def detect(self, image_bgr: np.ndarray) -> list[Detection]: ...


def biggest_first(detections: Sequence[Sequence[float]]) -> list[Detection]:
    """Detections as float 5-tuples (score 1.0 when absent), sorted by box area, largest first."""
    boxes = [tuple(float(v) for v in d[:4]) + (float(d[4]) if len(d) > 4 else 1.0,) for d in detections]
    return sorted(boxes, key=lambda d: -(d[2] - d[0]) * (d[3] - d[1]))


def _shrink(image_bgr: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Grey image scaled so its longer side is at most ``max_side`` (Haar cost grows with area); the scale used."""
    gray = cv2.cvtColor(as_bgr(image_bgr), cv2.COLOR_BGR2GRAY)
    scale = min(1.0, max_side / max(gray.shape[:2]))
    if scale < 1.0:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return cv2.equalizeHist(gray), scale


class HaarDetector:
    """OpenCV's Viola-Jones cascades. Score = the cascade's level weight (its confidence in the last stage)."""

    def __init__(self, min_face_fraction: float = 0.08, max_side: int = 640, min_neighbors: int = 5):
        folder = Path(cv2.data.haarcascades)
        self.frontal = self._load(folder / "haarcascade_frontalface_default.xml")
        self.profile = self._load(folder / "haarcascade_profileface.xml")
        self.min_face_fraction = min_face_fraction
        self.max_side = max_side
        self.min_neighbors = min_neighbors

    @staticmethod
    def _load(path: Path) -> cv2.CascadeClassifier:
        cascade = cv2.CascadeClassifier(str(path))
        if cascade.empty():
            raise ModelFileError("OpenCV cannot load this Haar cascade (needs opencv-python-headless 4.x)", path)
        return cascade

    def _run(self, cascade: cv2.CascadeClassifier, gray: np.ndarray) -> list[tuple[float, ...]]:
        side = max(12, int(self.min_face_fraction * min(gray.shape[:2])))
        rects, _, weights = cascade.detectMultiScale3(gray, scaleFactor=1.1, minNeighbors=self.min_neighbors,
                                                      minSize=(side, side), outputRejectLevels=True)
        return [(x, y, x + w, y + h, float(s)) for (x, y, w, h), s in zip(rects, np.ravel(weights))]

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        gray, scale = _shrink(image_bgr, self.max_side)
        found = self._run(self.frontal, gray)
        if not found:  # the profile cascade sees faces turned to one side only: run it on the mirror too
            width = gray.shape[1]
            mirrored = self._run(self.profile, cv2.flip(gray, 1))
            found = self._run(self.profile, gray) + [(width - x1, y0, width - x0, y1, s)
                                                     for x0, y0, x1, y1, s in mirrored]
        return biggest_first([(x0 / scale, y0 / scale, x1 / scale, y1 / scale, s) for x0, y0, x1, y1, s in found])


class YuNetDetector:
    """cv2.FaceDetectorYN with a YuNet ONNX file (e.g. face_detection_yunet_2023mar.onnx from opencv_zoo)."""

    def __init__(self, path: str | Path, score_threshold: float = 0.6):
        path = Path(path)
        if not path.is_file():
            raise ModelFileError("YuNet model file not found", path)
        try:
            self.net = cv2.FaceDetectorYN.create(str(path), "", (320, 320), score_threshold)
        except cv2.error:
            raise ModelFileError("OpenCV cannot load this file as a YuNet face detector", path) from None

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        image = as_bgr(image_bgr)
        self.net.setInputSize((image.shape[1], image.shape[0]))
        _, faces = self.net.detect(image)  # (N, 15): x, y, w, h, 5 landmarks, score
        rows = [] if faces is None else faces
        return biggest_first([(x, y, x + w, y + h, row[-1]) for row in rows for x, y, w, h in [row[:4]]])


class CallableDetector:
    """Wraps ``fn(image_bgr) -> [(x0, y0, x1, y1[, score]), ...]`` as a FaceDetector."""

    def __init__(self, fn: Callable[[np.ndarray], Sequence[Sequence[float]]]):
        self.fn = fn

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        try:
            return biggest_first(self.fn(image_bgr))
        except Exception as exc:  # noqa: BLE001 - the user's detector code: its failure is one line, not ours
            name = getattr(self.fn, "__qualname__", type(self.fn).__name__)
            raise SpecError(f"the face detector {name} failed ({type(exc).__name__}: {exc})") from None


@functools.lru_cache(maxsize=1)
def _default_haar() -> HaarDetector:
    return HaarDetector()  # loading the two cascades costs ~30 ms: share one


@functools.lru_cache(maxsize=8)
def _blazeface(name: str, path: str | None = None) -> FaceDetector:
    """'blazeface' (short range), 'blazeface-full' or 'blazeface-auto' (short, then full range when short finds
    nothing); ``path``: that .tflite file instead of the fetched one (not for 'auto')."""
    from edgekit.runtime.detect_blazeface import FULL_RANGE, SHORT_RANGE, BlazeFaceDetector, FirstFound

    if name == "blazeface-auto":
        return FirstFound(_blazeface("blazeface"), _blazeface("blazeface-full"))
    return BlazeFaceDetector(SHORT_RANGE if name == "blazeface" else FULL_RANGE, path)


# name -> factory(argument after the colon, or None)
_FACTORIES: dict[str, Callable[[str | None], FaceDetector]] = {
    "haar": lambda arg: _default_haar(),
    "yunet": lambda arg: YuNetDetector(_require_arg("yunet", arg)),
    "blazeface": lambda arg: _blazeface("blazeface", arg),
    "blazeface-full": lambda arg: _blazeface("blazeface-full", arg),
    "blazeface-auto": lambda arg: _blazeface("blazeface-auto"),
}


def _require_arg(name: str, arg: str | None) -> str:
    if not arg:
        raise SpecError(f"detector '{name}' needs a model file: '{name}:PATH'")
    return arg


def register_detector(name: str, factory: Callable[[str | None], FaceDetector]) -> None:
    """Make ``get_detector("name[:arg]")`` build ``factory(arg)``."""
    _FACTORIES[name] = factory


def list_detectors() -> list[str]:
    return sorted(_FACTORIES)


def get_detector(choice: str | FaceDetector | Callable | None = None) -> FaceDetector:
    """A detector from a registered name (``name`` or ``name:arg``), ``module:callable``, a FaceDetector or a
    callable. None gives the default (``default_detector``)."""
    if choice is None:
        return default_detector()
    if isinstance(choice, FaceDetector):
        return choice
    if callable(choice):
        return CallableDetector(choice)
    name, _, arg = str(choice).partition(":")
    if name in _FACTORIES:
        return _FACTORIES[name](arg or None)
    if "." in name and arg:
        return _import_detector(name, arg)
    raise SpecError(f"unknown face detector '{choice}' (known: {', '.join(list_detectors())}, or module:callable)")


@functools.lru_cache(maxsize=1)
def default_detector() -> FaceDetector:
    """DEFAULT_DETECTOR; the Haar cascade, with one note on stderr, where the BlazeFace files are not installed."""
    try:
        return get_detector(DEFAULT_DETECTOR)
    except EdgekitError as exc:
        print(f"edgekit: note: {exc}; using the {FALLBACK_DETECTOR} face detector", file=sys.stderr)
        return get_detector(FALLBACK_DETECTOR)


def default_detector_name() -> str:
    """The name of the detector ``get_detector()`` gives (calibration caches key on it)."""
    return FALLBACK_DETECTOR if isinstance(default_detector(), HaarDetector) else DEFAULT_DETECTOR


def _import_detector(module_name: str, attr: str) -> FaceDetector:
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except Exception as exc:  # noqa: BLE001 - ImportError, AttributeError, or whatever the module raises on import
        raise SpecError(f"cannot import face detector '{module_name}:{attr}' ({type(exc).__name__}: {exc})") from None
    return get_detector(obj() if isinstance(obj, type) else obj)


def detect_faces(image_bgr: np.ndarray, detector: str | FaceDetector | Callable | None = None,
                 max_faces: int | None = None) -> list[Detection]:
    """Every face the detector finds (at most ``max_faces``), biggest first; [] when none."""
    return get_detector(detector).detect(image_bgr)[:max_faces]


def detect_face(image_bgr: np.ndarray, detector: str | FaceDetector | Callable | None = None) -> tuple[float, ...]:
    """(x0, y0, x1, y1) of the biggest face; DataError when the detector finds none."""
    faces = detect_faces(image_bgr, detector, 1)
    if not faces:
        raise DataError("no face box given and the face detector found no face in the image")
    return faces[0][:4]
