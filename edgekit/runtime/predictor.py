"""Image + face box -> landmarks and / or head pose in image pixels, through any Runner (torch, ONNX Runtime,
LiteRT, TensorRT). The one inference path of edgekit: eval, export gates, predict and the demo all use it.
No torch here."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from edgekit.backend.base import Runner, preprocess_for
from edgekit.errors import DataError, EdgekitError
from edgekit.runtime.decode import decode
from edgekit.runtime.pose import pose_from_landmarks
from edgekit.runtime.preprocess import Box, box_from_detection, box_from_landmarks, preprocess_batch, to_image
from edgekit.specs import ModelSpec, PreprocessSpec

Corners = tuple[float, float, float, float]  # a detector box x0, y0, x1, y1 in image pixels


@dataclass(frozen=True, eq=False)
class Prediction:
    landmarks: np.ndarray | None  # (N, 2) float64 image pixels (landmark models)
    pose: np.ndarray | None  # (3,) yaw, pitch, roll degrees (pose head, or solvePnP on iBUG-68 landmarks)
    box: Box  # the square face box the crop was taken from


@dataclass(frozen=True, eq=False)
class Face:
    """One face of an image or video frame, as the Python API, JSON output and overlays give it."""

    box: Corners  # x0, y0, x1, y1 image px, detector convention: passed back as a box, it gives the same crop
    score: float  # the detector's (higher = surer; 1.0 for a given box); a tracked face keeps its detection's
    landmarks: np.ndarray | None  # (N, 2) float64 image px (landmark models)
    pose: np.ndarray | None  # (3,) yaw, pitch, roll degrees (pose head, or solvePnP on iBUG-68 landmarks)


class Predictor:
    """Wraps an open-able Runner and the ModelSpec of its file."""

    def __init__(self, runner: Runner, spec: ModelSpec):
        self.runner = runner
        self.spec = spec

    def face_box(self, box: Box | Corners | None = None, landmarks_hint: np.ndarray | None = None) -> Box:
        """A Box as is; detector corners (x0, y0, x1, y1) -> box_from_detection; else the landmarks' box."""
        if isinstance(box, Box):
            return box
        if box is not None:
            if len(box) != 4:
                raise DataError(f"a face box is (x0, y0, x1, y1), got {len(box)} values")
            return box_from_detection(*(float(v) for v in box), self.spec.preprocess)
        if landmarks_hint is not None:
            return box_from_landmarks(landmarks_hint, self.spec.preprocess)
        raise EdgekitError("no face box given (pass a detector box or landmarks)")

    @property
    def preprocess(self) -> PreprocessSpec:
        """The spec's preprocessing, in the layout the runner's file takes (no transpose per call)."""
        return preprocess_for(self.spec.preprocess, self.runner)

    detector = None  # FaceDetector / name used when predict() gets no box (None: the default one)

    def predict(self, image_bgr: np.ndarray, box: Box | Corners | None = None,
                landmarks_hint: np.ndarray | None = None) -> Prediction:
        if box is None and landmarks_hint is None:  # no box: the biggest face the detector finds
            from edgekit.runtime.detect import detect_face

            box = detect_face(image_bgr, self.detector)
        return self.predict_batch([image_bgr], [self.face_box(box, landmarks_hint)])[0]

    def faces(self, image_bgr: np.ndarray, max_faces: int = 1, box: Corners | None = None) -> list[Face]:
        """Every face up to ``max_faces`` (biggest first; [] when the detector finds none), or the one in ``box``."""
        from edgekit.runtime.detect import detect_faces

        found = [(*box, 1.0)] if box is not None else detect_faces(image_bgr, self.detector, max_faces)
        return self.faces_in(image_bgr, found)

    def faces_in(self, image_bgr: np.ndarray, detections: Sequence[Sequence[float]]) -> list[Face]:
        """Faces for detector rows (x0, y0, x1, y1, score) of one image, one batch."""
        if not detections:
            return []
        predictions = self.predict_batch([image_bgr] * len(detections), [tuple(d[:4]) for d in detections])
        return [Face(tuple(float(v) for v in d[:4]), float(d[4]), p.landmarks, p.pose)
                for d, p in zip(detections, predictions)]

    def predict_batch(self, images: Sequence[np.ndarray], boxes: Sequence[Box | Corners]) -> list[Prediction]:
        """One face per image; the runner splits the batch by its ``max_batch``."""
        boxes = [self.face_box(box) for box in boxes]
        batch, matrices = preprocess_batch(images, boxes, self.preprocess)  # (B, ...) and (B, 2, 3)
        return self.predict_crops(batch, matrices, boxes, [(image.shape[1], image.shape[0]) for image in images])

    def predict_crops(self, batch: np.ndarray, matrices: np.ndarray, boxes: Sequence[Box],
                      image_sizes: Sequence[tuple[int, int]]) -> list[Prediction]:
        """Predictions from faces already cropped by ``preprocess`` with ``self.preprocess``: batch (B, ...),
        image->crop matrices (B, 2, 3), their boxes and the (width, height) of the images they came from. For
        callers that crop each image right after decoding it and keep only the crop (eval)."""
        if len(batch) == 0:
            return []
        decoded = decode(self.runner.infer(batch), self.spec.head, self.spec.preprocess.input_size)
        if self.spec.task == "pose":
            return [Prediction(None, angles.astype(np.float64), box) for angles, box in zip(decoded, boxes)]
        landmarks = to_image(decoded, matrices)  # (B, N, 2) image px
        return [Prediction(points, self._pose_from(points, size), box)
                for points, size, box in zip(landmarks, image_sizes, boxes)]

    def _pose_from(self, landmarks: np.ndarray, image_size: tuple[int, int]) -> np.ndarray | None:
        """solvePnP head pose for iBUG-68 models (no pose head); None for other schemes or a failed fit."""
        if self.spec.scheme != "ibug68" or len(landmarks) != 68:
            return None
        try:
            return pose_from_landmarks(landmarks, image_size)
        except DataError:
            return None
