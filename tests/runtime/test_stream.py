"""Streams over a video this test writes with OpenCV: two real faces per frame (Grace Hopper's photo, shipped with
matplotlib, and its mirror) drifting a few pixels per frame, tracked by the shipped pfld_0.25x through torch."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

import edgekit
from edgekit.profile.worker import sample_image_path
from edgekit.runtime.detect import HaarDetector
from edgekit.runtime.stream_io import Input, expand_inputs

FRAMES = 8
SIZE = (520, 280)  # width, height
FPS = 10.0


def two_face_frame(index: int, second_face: bool = True, noise: float = 0.0) -> np.ndarray:
    """Grace Hopper's face (200 x 200 px) moving right and down, her mirror image moving left and up."""
    photo = cv2.imread(str(sample_image_path()))
    face = cv2.resize(photo[60:380, 110:430], (200, 200), interpolation=cv2.INTER_AREA)
    canvas = np.full((SIZE[1], SIZE[0], 3), 80, np.uint8)
    canvas[30 + index : 230 + index, 20 + 2 * index : 220 + 2 * index] = face
    if second_face:
        canvas[40 - index : 240 - index, 290 - index : 490 - index] = cv2.flip(face, 1)
    if noise:
        jitter = np.random.default_rng(index).normal(0.0, noise, canvas.shape)
        canvas = np.clip(canvas + jitter, 0, 255).astype(np.uint8)
    return canvas


def write_video(path, frames: list[np.ndarray]):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("video") / "two.avi", [two_face_frame(i) for i in range(FRAMES)])


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
    assert [f.time for f in frames] == pytest.approx([i / FPS for i in range(FRAMES)])
    assert [len(f.faces) for f in frames] == [2] * FRAMES
    assert len(calls) == 1  # the detector ran on the first frame only: landmarks gave every later box
    (left0, right0), (left7, right7) = sorted(centres(frames[0])), sorted(centres(frames[-1]))
    # the left face moved (+14, +7) px, the right one (-7, -7): the boxes followed within a few pixels
    assert left7[0] - left0[0] == pytest.approx(14, abs=6) and right7[0] - right0[0] == pytest.approx(-7, abs=6)
    for face in frames[-1].faces:
        assert face.landmarks.shape == (68, 2) and face.pose.shape == (3,)


def test_lost_face_calls_the_detector_again(counted, tmp_path):
    model, calls = counted
    frames = [two_face_frame(i, second_face=i < 4) for i in range(FRAMES)]
    calls.clear()
    found = list(model.stream(write_video(tmp_path / "gone.avi", frames), max_faces=2))
    assert [len(f.faces) for f in found] == [2] * 4 + [1] * 4  # the background left where she was is no face
    # lost on frame 4 (its presence check), so frames 5.. have fewer faces than max_faces: detect again
    assert len(calls) == 1 + (FRAMES - 5)


def test_smoothing_steadies_a_still_noisy_video(counted, tmp_path):
    model, _ = counted
    still = write_video(tmp_path / "still.avi", [two_face_frame(0, noise=12.0) for _ in range(12)])

    def jitter(smoothing) -> float:
        points = np.stack([min(f.faces, key=lambda face: face.box[0]).landmarks
                           for f in model.stream(still, max_faces=2, smoothing=smoothing)])
        return float(np.abs(np.diff(points[2:], axis=0)).mean())  # px per frame

    assert jitter(edgekit.OneEuroSettings()) < 0.6 * jitter(None)


def test_inputs_expand_folders_patterns_videos_and_cameras(tmp_path):
    for name in ("b.jpg", "a.png", "c.mp4", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert expand_inputs([tmp_path]) == [Input(str(tmp_path / "a.png"), "image"), Input(str(tmp_path / "b.jpg"), "image"),
                                         Input(str(tmp_path / "c.mp4"), "video")]
    assert expand_inputs([str(tmp_path / "*.jpg"), 0]) == [Input(str(tmp_path / "b.jpg"), "image"), Input("0", "camera")]


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
    assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == SIZE
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
