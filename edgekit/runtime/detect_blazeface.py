"""BlazeFace (MediaPipe's face detector), short and full range, run by edgekit's LiteRT loader.

The two .tflite files come out of the mediapipe wheel at install time (``python -m edgekit.fetch``). Everything
around the model call is here, in numpy, following MediaPipe's face_detection graphs:

- input: the whole image letterboxed (aspect kept, zero borders, centred) to 128x128 / 192x192, RGB in [-1, 1];
- anchors: ``SsdAnchorsCalculator`` with fixed anchor size (``ssd_anchors``): 896 / 2304 anchor centres;
- decode: ``TensorsToDetectionsCalculator`` (box centre offset and size in input pixels relative to the anchor,
  6 keypoints: eyes, nose tip, mouth, ear tragions), sigmoid scores clipped at +-100, MediaPipe's score threshold;
- weighted NMS: ``NonMaxSuppressionCalculator`` WEIGHTED at IoU 0.3: each cluster's box and keypoints are the
  score-weighted mean of its members, its score the best member's.

``detect`` gives boxes in edgekit's detector convention (``to_convention``): the square that the default
``PreprocessSpec.detector_box_scale`` / ``detector_box_shift_y`` (fitted for the Haar cascade) turn into the crop a
landmark box gives, using this detector's own box fit (``detector_boxes.json``, least squares on the 300W training
photos, written by ``benchmarks/detectors.py``; docs/DETECTORS.md). ``detect_with_keypoints`` gives raw boxes.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import json
from dataclasses import fields

import cv2
import numpy as np

from edgekit.backend.base import Runner
from edgekit.errors import ModelFileError
from edgekit.specs import PreprocessSpec

NUM_KEYPOINTS = 6  # right eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion


@dataclass(frozen=True)
class BlazeFaceModel:
    """One BlazeFace variant: its file (a key of ``edgekit.fetch.MEDIAPIPE_MEMBERS``) and MediaPipe's options."""

    name: str
    member: str
    input_side: int  # square input, pixels
    strides: tuple[int, ...]  # one per SSD layer; consecutive equal strides share a feature map
    interpolated_anchor: bool  # interpolated_scale_aspect_ratio > 0: one more anchor per aspect ratio set
    min_score: float
    nms_iou: float = 0.3

    @property
    def num_anchors(self) -> int:
        return len(ssd_anchors(self))


SHORT_RANGE = BlazeFaceModel("blazeface", "face_detection_short_range", 128, (8, 16, 16, 16), True, 0.5)
FULL_RANGE = BlazeFaceModel("blazeface-full", "face_detection_full_range", 192, (4,), False, 0.6)


def ssd_anchors(model: BlazeFaceModel) -> np.ndarray:
    """(N, 2) anchor centres (x, y) in [0, 1] input units, in the model's output order. With ``fixed_anchor_size``
    every anchor is 1 x 1, so only the centres matter; a layer contributes 1 (aspect ratio 1.0) + 1 (interpolated)
    anchors per cell, and consecutive layers of one stride stack theirs on the same cells."""
    centres, layer = [], 0
    while layer < len(model.strides):
        stride = model.strides[layer]
        same = next((i for i, s in enumerate(model.strides[layer:]) if s != stride), len(model.strides) - layer)
        per_cell = same * (2 if model.interpolated_anchor else 1)
        cells = -(-model.input_side // stride)
        ys, xs = np.meshgrid((np.arange(cells) + 0.5) / cells, (np.arange(cells) + 0.5) / cells, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)  # row-major cells, x fastest
        centres.append(np.repeat(grid, per_cell, axis=0))
        layer += same
    return np.concatenate(centres).astype(np.float32)


@dataclass(frozen=True)
class Letterbox:
    """Image -> model input: ``input = image * scale + (pad_x, pad_y)`` in input pixels."""

    scale: float
    pad_x: float
    pad_y: float


def letterbox(image_bgr: np.ndarray, side: int) -> tuple[np.ndarray, Letterbox]:
    """(1, side, side, 3) float32 RGB in [-1, 1], the image scaled to fit and centred on zero borders."""
    height, width = image_bgr.shape[:2]
    scale = side / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    pad_x, pad_y = (side - new_w) // 2, (side - new_h) // 2
    resized = cv2.resize(image_bgr, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    canvas = np.zeros((side, side, 3), np.uint8)
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
    tensor = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB).astype(np.float32) / 127.5 - 1.0
    return tensor[None], Letterbox(new_w / width, pad_x, pad_y)


@dataclass(frozen=True)
class Faces:
    """Decoded detections in model-input pixels: boxes (N, 4) x0 y0 x1 y1, scores (N,), keypoints (N, 6, 2)."""

    boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)

    def select(self, keep: np.ndarray) -> "Faces":
        return Faces(self.boxes[keep], self.scores[keep], self.keypoints[keep])


def decode(regressors: np.ndarray, logits: np.ndarray, anchors: np.ndarray, model: BlazeFaceModel) -> Faces:
    """Raw outputs (N, 16) and (N, 1) -> the detections scoring at least ``model.min_score``, in input pixels.

    Per anchor: x, y (centre offset), w, h, then 6 keypoints x, y; all in input pixels (MediaPipe's x/y/w/h_scale
    equal the input side), offsets relative to the anchor centre."""
    side = float(model.input_side)
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits.reshape(-1).astype(np.float64), -100.0, 100.0)))
    keep = scores >= model.min_score
    raw, centres = regressors.reshape(len(anchors), -1)[keep].astype(np.float64), anchors[keep] * side
    middle, size = raw[:, 0:2] + centres, raw[:, 2:4]
    boxes = np.concatenate([middle - size / 2, middle + size / 2], axis=1)
    keypoints = raw[:, 4 : 4 + 2 * NUM_KEYPOINTS].reshape(-1, NUM_KEYPOINTS, 2) + centres[:, None, :]
    return Faces(boxes, scores[keep], keypoints)


def _area(boxes: np.ndarray) -> np.ndarray:
    return np.clip(boxes[..., 2] - boxes[..., 0], 0, None) * np.clip(boxes[..., 3] - boxes[..., 1], 0, None)


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one box (4,) with each of boxes (M, 4), corners x0 y0 x1 y1; 0 where the union is empty."""
    x0, y0 = np.maximum(box[0], boxes[:, 0]), np.maximum(box[1], boxes[:, 1])
    x1, y1 = np.minimum(box[2], boxes[:, 2]), np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = _area(box) + _area(boxes) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(faces: Faces, threshold: float) -> Faces:
    """MediaPipe's WEIGHTED non-maximum suppression: take the best remaining detection, gather every remaining one
    overlapping it by IoU > ``threshold`` (itself included), replace them by their score-weighted mean box and
    keypoints with the best one's score; repeat. Output in descending score order."""
    order = np.argsort(-faces.scores, kind="stable")
    boxes, scores, points = [], [], []
    while len(order):
        overlap = iou(faces.boxes[order[0]], faces.boxes[order]) > threshold
        members, order = order[overlap], order[~overlap]
        weights = faces.scores[members] / faces.scores[members].sum()
        boxes.append(weights @ faces.boxes[members])
        points.append(np.tensordot(weights, faces.keypoints[members], axes=1))
        scores.append(faces.scores[members[0]])
    if not boxes:
        return faces
    return Faces(np.array(boxes), np.array(scores), np.array(points))


@dataclass(frozen=True)
class BoxFit:
    """The annotated face's landmark box from a detector box: side = side_ratio x the detector box's max(w, h),
    centre = the detector box's centre + (shift_x, shift_y) x that max(w, h)."""

    side_ratio: float
    shift_x: float
    shift_y: float


BOX_FITS = Path(__file__).with_name("detector_boxes.json")


def box_fit(name: str) -> BoxFit:
    """The fit ``benchmarks/detectors.py`` wrote for detector ``name``."""
    return BoxFit(**json.loads(BOX_FITS.read_text())[name])


def _spec_default(name: str) -> float:
    return next(f.default for f in fields(PreprocessSpec) if f.name == name)


def to_convention(boxes: np.ndarray, fit: BoxFit) -> np.ndarray:
    """(N, 4) raw boxes -> (N, 4) squares that ``box_from_detection`` with the default spec rule (side x scale s,
    centre down by t x that side) turns into the landmark box's crop (side x landmark_box_scale, same centre)."""
    scale, shift = _spec_default("detector_box_scale"), _spec_default("detector_box_shift_y")
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    crop = side * fit.side_ratio * _spec_default("landmark_box_scale")  # the landmark box's crop side
    cx = (boxes[:, 0] + boxes[:, 2]) / 2 + fit.shift_x * side
    cy = (boxes[:, 1] + boxes[:, 3]) / 2 + fit.shift_y * side - shift * crop
    half = crop / scale / 2
    return np.stack([cx - half, cy - half, cx + half, cy + half], axis=1)


class BlazeFaceRunner(Runner):
    """The .tflite file through edgekit's LiteRT loader (XNNPACK, ``threads``): (1, S, S, 3) float32 in,
    regressors (1, N, 16) and scores (1, N, 1) out, checked against the variant's anchors when it opens."""

    backend = "tflite"
    max_batch = 1

    def __init__(self, path: str | Path, model: BlazeFaceModel, threads: int | None = None):
        super().__init__(str(path), threads)
        self.model = model

    def _open(self) -> None:
        from edgekit.backend.tflite.loader import open_interpreter

        interpreter = open_interpreter(self.path, self.threads)
        (given,), outputs = interpreter.get_input_details(), interpreter.get_output_details()
        side, count = self.model.input_side, self.model.num_anchors
        shapes = sorted(tuple(int(d) for d in o["shape"]) for o in outputs)
        if tuple(given["shape"]) != (1, side, side, 3) or shapes != [(1, count, 1), (1, count, 16)]:
            raise ModelFileError(f"not a {self.model.name} file: input {list(given['shape'])}, outputs {shapes} "
                                 f"(expects [1, {side}, {side}, 3] -> [1, {count}, 16] and [1, {count}, 1])",
                                 self.path)
        self.input_index = given["index"]
        self.output_indices = [o["index"] for o in sorted(outputs, key=lambda o: -int(o["shape"][-1]))]
        self.interpreter = interpreter

    def _infer(self, batch: np.ndarray) -> Sequence[np.ndarray]:
        self.interpreter.set_tensor(self.input_index, np.ascontiguousarray(batch, dtype=np.float32))
        self.interpreter.invoke()
        return [self.interpreter.get_tensor(index) for index in self.output_indices]  # regressors, scores

    def _close(self) -> None:
        self.interpreter = None


class BlazeFaceDetector:
    """``detect(image_bgr)`` -> every face as (x0, y0, x1, y1, score) in image pixels, biggest first, in edgekit's
    detector convention (``fitted=False``: as the model gives them); ``detect_with_keypoints``: raw boxes and the
    6 keypoints (N, 6, 2) in image pixels."""

    def __init__(self, model: BlazeFaceModel = SHORT_RANGE, path: str | Path | None = None,
                 threads: int | None = 1, fitted: bool = True):
        from edgekit.fetch import mediapipe_file

        self.model = model
        self.path = Path(path) if path else mediapipe_file(model.member)
        self.anchors = ssd_anchors(model)
        self.fit = box_fit(model.name) if fitted else None
        self.runner = BlazeFaceRunner(self.path, model, threads).open()

    def detect_with_keypoints(self, image_bgr: np.ndarray) -> Faces:
        """Detections in image pixels, in descending score order."""
        from edgekit.runtime.preprocess import as_bgr

        tensor, fit = letterbox(as_bgr(image_bgr), self.model.input_side)
        regressors, logits = self.runner.infer(tensor)
        faces = weighted_nms(decode(regressors[0], logits[0], self.anchors, self.model), self.model.nms_iou)
        shift = np.array([fit.pad_x, fit.pad_y])
        return Faces((faces.boxes - np.tile(shift, 2)) / fit.scale, faces.scores,
                     (faces.keypoints - shift) / fit.scale)

    def detect(self, image_bgr: np.ndarray) -> list[tuple[float, float, float, float, float]]:
        from edgekit.runtime.detect import biggest_first

        faces = self.detect_with_keypoints(image_bgr)
        boxes = faces.boxes if self.fit is None else to_convention(faces.boxes, self.fit)
        return biggest_first([(*box, score) for box, score in zip(boxes.tolist(), faces.scores.tolist())])


class FirstFound:
    """Each detector in turn until one finds a face (``blazeface-auto``: short range, then full range for the
    photos where the face is too small for it)."""

    def __init__(self, *detectors):
        self.detectors = detectors

    def detect(self, image_bgr: np.ndarray) -> list[tuple[float, float, float, float, float]]:
        for detector in self.detectors:
            found = detector.detect(image_bgr)
            if found:
                return found
        return []
