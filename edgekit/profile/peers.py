"""Peer models profiled beside edgekit's own files, through the same LiteRT path.

MediaPipe's face-mesh landmark model (468 points) ships inside the ``mediapipe==0.10.21`` wheel (later wheels
carry no models). ``python -m edgekit.fetch`` (``make install``) reads it out of the wheel into the cache once;
mediapipe is never installed (it pins numpy<2 and protobuf<5, toolchain note section 12) and nothing is downloaded
at run time (``edgekit.fetch``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from edgekit.errors import EdgekitError
from edgekit.fetch import MEDIAPIPE_MEMBERS, MEDIAPIPE_VERSION, WHEEL_ENV, mediapipe_file  # noqa: F401
from edgekit.heads import Decoder, HeadSpec, RegressionParams, register_decoder
from edgekit.specs import ModelSpec, PreprocessSpec

MEDIAPIPE_MEMBER = MEDIAPIPE_MEMBERS["face_landmark"]


def mediapipe_face_landmark(cache_dir: str | Path | None = None) -> Path:
    """Path of ``face_landmark.tflite`` in the cache (EdgekitError naming the fetch command when it is absent)."""
    return mediapipe_file("face_landmark", cache_dir)


@dataclass(frozen=True)
class Peer:
    name: str
    spec: ModelSpec  # how to feed it and decode it (its head kind is registered below)
    fetch: Callable[[Path | None], Path]  # cache dir -> model file


def _face_mesh_points(tensors: list[np.ndarray], params: RegressionParams, input_size: tuple[int, int] | None
                      ) -> np.ndarray:
    """(B, 1, 1, 3N) x, y, z per point in crop pixels (+ the presence score, unused) -> (B, N, 2) crop pixels."""
    return tensors[0].reshape(len(tensors[0]), params.num_points, 3)[..., :2]


# MediaPipe's face mesh layout: (B, 1, 1, 3N) points and a (B, 1, 1, 1) face-presence logit
FACE_MESH = register_decoder(Decoder(
    "face_mesh", "landmarks", RegressionParams, ("points", "score"), _face_mesh_points,
    lambda params, size: [(1, 1, 3 * params.num_points), (1, 1, 1)]))

MEDIAPIPE_SPEC = ModelSpec(
    name="mediapipe_face_landmark",
    task="landmarks",
    # [1, 192, 192, 3] RGB in [0, 1]; MediaPipe crops 1.5x the detector box, not shifted
    preprocess=PreprocessSpec(input_size=(192, 192), color="RGB", layout="NHWC", detector_box_scale=1.5,
                              detector_box_shift_y=0.0),
    head=HeadSpec("face_mesh", ("conv2d_21", "conv2d_31"), RegressionParams(468)),
    scheme="mediapipe468",
    description=f"MediaPipe face mesh landmarks (mediapipe {MEDIAPIPE_VERSION} face_landmark.tflite)",
)

PEERS: dict[str, Peer] = {
    "mediapipe": Peer("mediapipe_face_landmark", MEDIAPIPE_SPEC, mediapipe_face_landmark),
}


def get_peer(name: str) -> Peer:
    if name not in PEERS:
        raise EdgekitError(f"unknown peer '{name}' (known: {', '.join(sorted(PEERS))})")
    return PEERS[name]
