"""Faces through a video: each face's landmarks give its next frame's box, so the detector runs only when a face
is missing (fewer tracked faces than ``max_faces``, MediaPipe's rule), and a One-Euro filter per face smooths its
points and angles.

A tracked face is lost when it fails a presence check or its new landmark box a sanity check (non-finite points,
a box that left the image, jumped off the crop it came from or changed size too much). Landmark models have no
face-presence output (MediaPipe's has), so presence is measured: the crop is also predicted shifted sideways by
``presence_shift`` x its side. On a face the landmarks stay on the face (they move by ~0.1-0.2 of the shift,
pfld_0.25x, mobilefan, pipnet_mbv3 on grace_hopper.jpg); on background they move with the crop (0.9-1.9 of it):
presence = 1 - median movement / shift. On 150 AFLW2000 dev faces (landmark box) and the background 1.2 box sides
below each, presence < ``min_presence`` (0.3) held for 0 backgrounds, and for 31 faces with pfld_0.25x, 16 with
mobilefan (profile views, where these models are unstable: such a face is detected again, or dropped).
Pose-only models have no landmarks to track with: their detector runs every frame.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Iterator

import numpy as np

from edgekit.runtime.predictor import Face, Predictor
from edgekit.runtime.preprocess import Box, box_from_detection, box_from_landmarks, detection_from_box
from edgekit.runtime.smoothing import OneEuroFilter, OneEuroSettings

SAME_FACE_IOU = 0.5  # a detection overlapping a tracked box this much is that face (MediaPipe's association)


@dataclass(frozen=True)
class Frame:
    index: int  # 0-based frame number
    time: float  # seconds: the video's timestamp, or a camera's wall clock since its first frame
    faces: tuple[Face, ...]


@dataclass(frozen=True)
class TrackSettings:
    max_faces: int = 1
    smoothing: OneEuroSettings | None = OneEuroSettings()  # None: raw predictions
    min_iou: float = 0.3  # the new landmark box must overlap the crop box it came from at least this much
    max_size_change: float = 1.5  # nor grow or shrink by more than this factor
    presence_shift: float = 0.15  # sideways shift of the second crop, x the crop side
    min_presence: float = 0.3  # a tracked face scoring less is lost


@dataclass
class _Track:
    """One face followed across frames."""

    box: Box  # the crop box of the coming frame
    score: float
    points: OneEuroFilter
    angles: OneEuroFilter


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two square boxes."""
    overlap = [max(0.0, min(p + a.side / 2, q + b.side / 2) - max(p - a.side / 2, q - b.side / 2))
               for p, q in ((a.cx, b.cx), (a.cy, b.cy))]
    inter = overlap[0] * overlap[1]
    return inter / (a.side ** 2 + b.side ** 2 - inter)


class FaceTracker:
    """``update(image, time)`` -> the faces of the next frame of one stream."""

    def __init__(self, predictor: Predictor, settings: TrackSettings = TrackSettings()):
        self.predictor, self.settings = predictor, settings
        self.tracks: list[_Track] = []
        self.detector_runs = 0  # frames the detector ran on
        self.trackable = predictor.spec.task == "landmarks"

    def update(self, image: np.ndarray, time: float) -> tuple[Face, ...]:
        tracks = self.tracks if self.trackable else []
        if len(tracks) < self.settings.max_faces:
            tracks = self._with_detections(image, tracks)
        predictions, presence = self._predict(image, tracks)
        size = (image.shape[1], image.shape[0])
        faces, self.tracks = [], []
        for track, prediction, present in zip(tracks, predictions, presence):
            face = self._follow(track, prediction, size, time) if present >= self.settings.min_presence else None
            if face is not None:
                faces.append(face)
        return tuple(faces)

    def _predict(self, image: np.ndarray, tracks: list[_Track]) -> tuple[list, list[float]]:
        """Predictions for the tracks' boxes and each face's presence score, one batch (2 crops per face for
        landmark models, see the module's docstring)."""
        boxes = [t.box for t in tracks]
        if not self.trackable:
            return self.predictor.predict_batch([image] * len(boxes), boxes), [1.0] * len(boxes)
        shift = self.settings.presence_shift
        shifted = [b._replace(cx=b.cx + shift * b.side) for b in boxes]
        both = self.predictor.predict_batch([image] * 2 * len(boxes), boxes + shifted)
        predictions = both[: len(boxes)]
        presence = [1.0 - float(np.median(np.linalg.norm(moved.landmarks - p.landmarks, axis=1))) / (shift * b.side)
                    for p, moved, b in zip(predictions, both[len(boxes):], boxes)]
        return predictions, presence

    def _with_detections(self, image: np.ndarray, tracks: list[_Track]) -> list[_Track]:
        """``tracks`` plus the detector's faces they do not already cover, up to ``max_faces``; a detection on a
        face of the previous frame keeps that face's filters."""
        from edgekit.runtime.detect import detect_faces

        self.detector_runs += 1
        merged = list(tracks)
        for *corners, score in detect_faces(image, self.predictor.detector):
            box = box_from_detection(*corners, self.predictor.spec.preprocess)
            if len(merged) == self.settings.max_faces:
                break
            if all(iou(box, t.box) < SAME_FACE_IOU for t in merged):
                merged.append(self._track_for(box, score))
        return merged

    def _track_for(self, box: Box, score: float) -> _Track:
        previous = [t for t in self.tracks if iou(box, t.box) >= SAME_FACE_IOU]
        if previous:
            return replace(previous[0], box=box, score=score)
        smoothing = self.settings.smoothing or OneEuroSettings()
        return _Track(box, score, OneEuroFilter(smoothing), OneEuroFilter(smoothing))

    def _follow(self, track: _Track, prediction, image_size: tuple[int, int], time: float) -> Face | None:
        """The face of ``track`` in this frame (None when lost); the track goes on with its next box."""
        landmarks, pose = prediction.landmarks, prediction.pose
        if landmarks is not None:
            if not np.isfinite(landmarks).all():
                return None
            following = box_from_landmarks(landmarks, self.predictor.spec.preprocess)
            if not self._plausible(track.box, following, image_size):
                return None
            landmarks = self._smooth(track.points, landmarks, time, 1.0 / following.side)
            self.tracks.append(replace(track, box=following))
        else:
            self.tracks.append(track)  # pose-only: kept to hand its filter to the next frame's detection
        if pose is not None:
            pose = np.rad2deg(self._smooth(track.angles, np.deg2rad(pose), time, 1.0))
        return Face(detection_from_box(track.box, self.predictor.spec.preprocess), track.score, landmarks, pose)

    def _plausible(self, crop: Box, following: Box, image_size: tuple[int, int]) -> bool:
        """The new landmark box is still on a face: centre inside the image, near its crop, of a similar size;
        and not a face another track already follows (two tracks drifting onto one face)."""
        width, height = image_size
        ratio = following.side / crop.side
        return (0 <= following.cx < width and 0 <= following.cy < height
                and 1 / self.settings.max_size_change <= ratio <= self.settings.max_size_change
                and iou(crop, following) >= self.settings.min_iou
                and all(iou(following, t.box) < SAME_FACE_IOU for t in self.tracks))

    def _smooth(self, filter_: OneEuroFilter, value: np.ndarray, time: float, scale: float) -> np.ndarray:
        """Filtered ``value`` (points scaled by 1 / face side, angles in radians: unit-free speeds)."""
        return value if self.settings.smoothing is None else filter_(value, time, scale)


def track(predictor: Predictor, frames: Iterable[tuple[float, np.ndarray]],
          settings: TrackSettings = TrackSettings()) -> Iterator[Frame]:
    """Frame records for (time s, BGR image) pairs of one stream."""
    tracker = FaceTracker(predictor, settings)
    for index, (time, image) in enumerate(frames):
        yield Frame(index, time, tracker.update(image, time))
