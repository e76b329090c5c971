"""Streams over a video the test writes with OpenCV (conftest's FaceVideo: two real faces per frame, Grace Hopper's
photo shipped with matplotlib and its mirror, drifting a few pixels per frame), tracked by the shipped pfld_0.25x
through torch."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

import edgekit
from edgekit.runtime.detect import HaarDetector
from edgekit.runtime.stream_io import Input, expand_inputs

FRAMES = 8


@pytest.fixture(scope="module")
def video(face_video, tmp_path_factory):
    return face_video.write(tmp_path_factory.mktemp("video") / "two.avi", [face_video.frame(i) for i in range(FRAMES)])


@pytest.fixture(scope="module")
def counted():
    """(model, list of detector calls): pfld_0.25x with OpenCV's Haar detector counting its calls."""
    calls, haar = [], HaarDetector()

    def detector(image):
        calls.append(image.shape)
        return haar.detect(image)

    with edgekit.load("pfld_0.25x", threads=1, detector=detector) as model:
        yield model, calls


def centres(frame) -> list[tuple[float, float]]:
    return [((f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2) for f in frame.faces]


def test_two_faces_tracked_with_one_detection(counted, video):
    model, calls = counted
    calls.clear()
    frames = list(model.stream(video, max_faces=2))
    assert [f.index for f in frames] == list(range(FRAMES))
    assert [f.time for f in frames] == pytest.approx([i / 10.0 for i in range(FRAMES)])  # written at 10 fps
    assert [len(f.faces) for f in frames] == [2] * FRAMES
    assert len(calls) == 1  # the detector ran on the first frame only: landmarks gave every later box
    (left0, right0), (left7, right7) = sorted(centres(frames[0])), sorted(centres(frames[-1]))
    # the left face moved (+14, +7) px, the right one (-7, -7): the boxes followed within a few pixels
    assert left7[0] - left0[0] == pytest.approx(14, abs=6) and right7[0] - right0[0] == pytest.approx(-7, abs=6)
    for face in frames[-1].faces:
        assert face.landmarks.shape == (68, 2) and face.pose.shape == (3,)


def test_lost_face_calls_the_detector_again(counted, face_video, tmp_path):
    model, calls = counted
    frames = [face_video.frame(i, second_face=i < 4) for i in range(FRAMES)]
    calls.clear()
    found = list(model.stream(face_video.write(tmp_path / "gone.avi", frames), max_faces=2))
    assert [len(f.faces) for f in found] == [2] * 4 + [1] * 4  # the background left where she was is no face
    # lost on frame 4 (its presence check), so frames 5.. have fewer faces than max_faces: detect again
    assert len(calls) == 1 + (FRAMES - 5)


def test_smoothing_steadies_a_still_noisy_video(counted, face_video, tmp_path):
    model, _ = counted
    still = face_video.write(tmp_path / "still.avi", [face_video.frame(0, noise=12.0) for _ in range(12)])

    def jitter(smoothing) -> float:
        points = np.stack([min(f.faces, key=lambda face: face.box[0]).landmarks
                           for f in model.stream(still, max_faces=2, smoothing=smoothing)])
        return float(np.abs(np.diff(points[2:], axis=0)).mean())  # px per frame

    assert jitter(edgekit.OneEuroSettings()) < 0.6 * jitter(None)


def test_inputs_expand_folders_patterns_videos_and_cameras(tmp_path):
    for name in ("b.jpg", "a.png", "c.mp4", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    image, video = (lambda name: Input(str(tmp_path / name), "image")), (lambda name: Input(str(tmp_path / name), "video"))
    assert expand_inputs([tmp_path]) == [image("a.png"), image("b.jpg"), video("c.mp4")]  # sorted, media only
    assert expand_inputs([str(tmp_path / "*.jpg"), 0]) == [image("b.jpg"), Input("0", "camera")]


def test_cli_writes_json_lines_and_the_drawn_video(run_cli, video, tmp_path):
    lines, saved = tmp_path / "faces.jsonl", tmp_path / "out.mp4"
    code, out, err = run_cli("predict", "pfld_0.25x", video, "--max-faces", "2", "--jsonl", lines, "--save", saved)
    assert code == 0, err
    records = [json.loads(line) for line in lines.read_text().splitlines()]
    assert len(records) == 2 * FRAMES
    assert [(r["frame"], r["face"]) for r in records] == [(i, j) for i in range(FRAMES) for j in (0, 1)]
    assert len(records[0]["box"]) == 4 and len(records[0]["landmarks"]) == 68 and set(records[0]["pose"]) == {
        "yaw", "pitch", "roll"}
    assert f"{FRAMES} frames, {2 * FRAMES} faces, detector on 1 frames" in out and " fps" in out
    capture = cv2.VideoCapture(str(saved))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == FRAMES
    assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (520, 280)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["faces.jsonl", "out.mp4"]  # no temporary left


def test_cli_refuses_before_work(run_cli, video, tmp_path):
    code, _, err = run_cli("predict", "pfld_0.25x", video, "--save", tmp_path / "out.gif")
    assert code == 2 and "--save writes .mp4 / .avi files" in err and err.count("\n") == 1
    code, _, err = run_cli("predict", "pfld_0.25x", video, "--box", "1,2,30,40")
    assert code == 2 and "--box applies to images" in err
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    code, _, err = run_cli("predict", "pfld_0.25x", broken)
    assert code == 2 and str(broken) in err and err.count("\n") == 1
