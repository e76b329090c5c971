"""MediaPipe's face_landmark.tflite as a peer: fetched out of the mediapipe 0.10.21 wheel (never installed), its
landmarks land on Grace Hopper's face through edgekit's own preprocessing and LiteRT runner, and it profiles."""
from __future__ import annotations

import zipfile

import cv2
import numpy as np
import pytest

from edgekit.errors import EdgekitError, ModelFileError
from edgekit.profile import peers
from edgekit.profile.worker import sample_image_path


@pytest.fixture(scope="module")
def face_landmark():
    try:
        return peers.mediapipe_face_landmark()
    except EdgekitError as exc:
        pytest.skip(f"the mediapipe {peers.MEDIAPIPE_VERSION} wheel cannot be fetched here: {exc}")


def test_member_read_from_a_wheel_into_the_cache(tmp_path, monkeypatch):
    wheel = tmp_path / "mediapipe-0.10.21-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(peers.MEDIAPIPE_MEMBER, b"TFL3 stand-in bytes")
    monkeypatch.setenv(peers.WHEEL_ENV, str(wheel))
    path = peers.mediapipe_face_landmark(tmp_path / "cache")
    assert path.parent == tmp_path / "cache" and path.read_bytes() == b"TFL3 stand-in bytes"
    wheel.unlink()  # a cached file is used as is
    assert peers.mediapipe_face_landmark(tmp_path / "cache") == path


def test_bad_wheels_are_one_line_errors(tmp_path, monkeypatch):
    empty = tmp_path / "empty.whl"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("mediapipe/__init__.py", "")
    monkeypatch.setenv(peers.WHEEL_ENV, str(empty))
    with pytest.raises(ModelFileError, match="wheel has no mediapipe/modules/face_landmark"):
        peers.mediapipe_face_landmark(tmp_path / "c1")
    (tmp_path / "junk.whl").write_bytes(b"junk")
    monkeypatch.setenv(peers.WHEEL_ENV, str(tmp_path / "junk.whl"))
    with pytest.raises(ModelFileError, match="bad zip"):
        peers.mediapipe_face_landmark(tmp_path / "c2")
    with pytest.raises(EdgekitError, match="unknown peer 'dlib'"):
        peers.get_peer("dlib")


def test_landmarks_fall_on_grace_hoppers_face(face_landmark):
    from edgekit.backend.tflite.runner import TFLiteRunner
    from edgekit.runtime.decode import decode
    from edgekit.runtime.detect import detect_face
    from edgekit.runtime.preprocess import box_from_detection, preprocess, to_image

    assert face_landmark.read_bytes()[4:8] == b"TFL3"
    peer = peers.get_peer("mediapipe")
    image = cv2.imread(str(sample_image_path()))
    box = box_from_detection(*detect_face(image), peer.spec.preprocess)
    tensor, matrix = preprocess(image, box, peer.spec.preprocess)
    with TFLiteRunner(str(face_landmark), 1, spec=peer.spec) as runner:
        outputs = runner.infer(tensor[None])
    assert outputs[1].item() > 0  # face-presence logit: a face
    points = to_image(decode(outputs, peer.spec.head), matrix)[0]  # (468, 2) image px, the face_mesh decode
    assert points.shape == (468, 2)
    # face mesh 33 / 263: outer eye corners; 1: nose tip (Grace Hopper's eyes ~ (225, 200), (310, 195))
    right_eye, left_eye, nose = points[33], points[263], points[1]
    assert 185 < right_eye[0] < 240 and 295 < left_eye[0] < 350
    assert 170 < right_eye[1] < 225 and 170 < left_eye[1] < 225 and 225 < nose[1] < 265


def test_peer_profiles_through_litert(face_landmark):
    from edgekit.profile.measure import Settings, peer_file, profile_files

    file = peer_file("mediapipe")
    assert (file.backend, file.precision, file.path) == ("tflite", "fp16", face_landmark)  # fp16 weights
    (row,) = profile_files([file], Settings(runs=30, warmup=5), progress=False)
    print(f"mediapipe face_landmark 1 thread: p50 {row.p50_ms:.3f} ms, {row.mmacs:.1f} MMACs")
    assert 0.05 < row.p50_ms < 50 and row.mmacs == pytest.approx(34.979040)
    assert np.isfinite(row.decode_ms) and row.preprocess_ms > 0
