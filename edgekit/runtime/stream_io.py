"""Where predict's frames come from and where a drawn video goes.

An INPUT is an image, a folder (its images and videos, sorted), a glob pattern (``'faces/*.jpg'``), a video file
or a camera index (``0``). Images are independent; videos and cameras are streams (``edgekit.runtime.stream``).
"""
from __future__ import annotations

import contextlib
import glob
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal, Sequence

import cv2
import numpy as np

from edgekit.data.images import c_library_stderr, is_image_file
from edgekit.errors import DataError, EdgekitError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
VIDEO_FOURCC = {".mp4": "mp4v", ".avi": "MJPG"}  # what --save writes: codecs every OpenCV build has
GLOB_CHARACTERS = "*?["
FALLBACK_FPS = 30.0  # a video that does not say its frame rate


@dataclass(frozen=True)
class Input:
    name: str  # a path, or a camera index as text
    kind: Literal["image", "video", "camera"]

    @property
    def is_stream(self) -> bool:
        return self.kind != "image"


def expand_inputs(items: Sequence[str | Path | int]) -> list[Input]:
    """Every INPUT argument as images, videos and cameras, in order (folders and patterns sorted)."""
    return [found for item in items for found in _expand(str(item))]


def _expand(item: str) -> list[Input]:
    path = Path(item)
    if item.isdigit() and not path.exists():
        return [Input(item, "camera")]
    if path.is_dir():
        found = [_classify(p) for p in sorted(path.iterdir()) if p.is_file() and _is_media(p)]
        if not found:
            raise DataError("the folder holds no image or video file", path)
        return found
    if any(c in item for c in GLOB_CHARACTERS) and not path.exists():
        found = [_classify(Path(p)) for p in sorted(glob.glob(item, recursive=True)) if _is_media(Path(p))]
        if not found:
            raise DataError("no image or video file matches this pattern", item)
        return found
    return [_classify(path)]


def _is_media(path: Path) -> bool:
    return is_image_file(path) or path.suffix.lower() in VIDEO_SUFFIXES


def _classify(path: Path) -> Input:
    return Input(str(path), "video" if path.suffix.lower() in VIDEO_SUFFIXES else "image")


def open_capture(source: Input) -> cv2.VideoCapture:
    """An opened capture, or one DataError line; FFmpeg's own complaints ("moov atom not found") are kept off the
    user's stderr, the error line says it."""
    if source.kind == "camera":
        with c_library_stderr():
            capture = cv2.VideoCapture(int(source.name))
        if not capture.isOpened():
            raise DataError(f"camera {source.name} cannot be opened (none attached, or in use)")
        return capture
    if not Path(source.name).is_file():
        raise DataError("file not found", source.name)
    with c_library_stderr():
        capture = cv2.VideoCapture(source.name)
    if not capture.isOpened():
        raise DataError("OpenCV cannot read this video (unknown container or codec)", source.name)
    return capture


def check_video(source: Input) -> None:
    """A video file OpenCV opens (before any model loads); cameras are opened when their turn comes."""
    if source.kind == "video":
        open_capture(source).release()


def read_frames(source: Input) -> Iterator[tuple[float, np.ndarray]]:
    """(time in seconds, BGR frame) until the video ends: a file's own timestamps (frame / fps), a camera's wall
    clock since its first frame."""
    capture = open_capture(source)
    fps = capture.get(cv2.CAP_PROP_FPS) or FALLBACK_FPS
    start, index = time.monotonic(), 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            yield (time.monotonic() - start if source.kind == "camera" else index / fps), frame
            index += 1
    finally:
        capture.release()
    if index == 0:
        raise DataError("no frame could be decoded", source.name)


def frame_rate(source: Input) -> float:
    """Frames per second a video says it has (FALLBACK_FPS when it does not say, and for cameras)."""
    if source.kind != "video":
        return FALLBACK_FPS
    capture = open_capture(source)
    try:
        return capture.get(cv2.CAP_PROP_FPS) or FALLBACK_FPS
    finally:
        capture.release()


class VideoSink:
    """Frames -> a video file (.mp4: mp4v, .avi: MJPG), written under a temporary name and renamed when the
    stream ends (``edgekit.atomic.atomic_path``): an interrupted run leaves no half video."""

    def __init__(self, path: str | Path, fps: float):
        self.path, self.fps = Path(path), fps
        self._stack = contextlib.ExitStack()
        self._writer: cv2.VideoWriter | None = None

    def write(self, frame: np.ndarray) -> None:
        if self._writer is None:
            self._writer = self._open(frame.shape[1], frame.shape[0])
        self._writer.write(frame)

    def _open(self, width: int, height: int) -> cv2.VideoWriter:
        from edgekit.atomic import atomic_path

        temp = self._stack.enter_context(atomic_path(self.path))
        fourcc = cv2.VideoWriter_fourcc(*VIDEO_FOURCC[self.path.suffix.lower()])
        writer = cv2.VideoWriter(str(temp), fourcc, self.fps, (width, height))
        if not writer.isOpened():
            raise EdgekitError(f"OpenCV cannot write {self.path.suffix} video here", self.path)
        self._stack.callback(writer.release)  # released before the rename (callbacks run last-in first-out)
        return writer

    def __enter__(self) -> "VideoSink":
        return self

    def __exit__(self, *exc_info) -> None:
        self._stack.__exit__(*exc_info)
