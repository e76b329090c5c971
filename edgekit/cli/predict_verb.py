"""``edgekit predict``: landmarks (image pixels) and / or head pose of every face (up to ``--max-faces``) in images,
folders, glob patterns, video files and cameras. Videos are tracked and smoothed (``edgekit.runtime.stream``)."""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
from pathlib import Path
from typing import IO, Callable, Iterator

import numpy as np

from edgekit.cli import args as types
from edgekit.runtime.draw import write_overlay

HELP = ("Predict landmarks and head pose of every face in images, folders, videos or a camera with any model SOURCE "
        "(artifact, .onnx, .tflite, weights, name).")
POSE_SOURCE = {"pose": "pose head", "landmarks": "solvePnP on landmarks"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from edgekit.runtime.smoothing import OneEuroSettings

    parser.add_argument("source", help="artifact folder, .onnx / .tflite / .engine / .safetensors / .pt file or "
                        "registered model name")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="images, folders, glob patterns ('faces/*.jpg'), "
                        "video files (.mp4, .avi, ...) or a camera index (0)")
    parser.add_argument("--max-faces", type=types.positive_int, default=1, help="faces per image or frame, biggest "
                        "first (default 1)")
    parser.add_argument("--box", type=types.box_corners, help="face box x0,y0,x1,y1 in image pixels, for images "
                        "(default: detect); JSON prints boxes the same way")
    parser.add_argument("--detector", type=types.detector_choice, help="face detector: blazeface-auto (default; "
                        "Haar where its files are not installed), blazeface, blazeface-full, haar, yunet:MODEL.onnx "
                        "or package.module:callable (docs/DETECTORS.md)")
    parser.add_argument("--file", dest="choice", help="which file of an artifact: path, format or precision")
    parser.add_argument("--threads", type=types.threads, default=None, help="inference threads")
    parser.add_argument("--json", action="store_true", help="print one JSON object per face (JSON lines; video: "
                        "per frame and face)")
    parser.add_argument("--jsonl", metavar="FILE", help="write the JSON lines to FILE instead")
    parser.add_argument("--draw", metavar="OUT.png", help="write an overlay (points, box, pose axes and angles) of "
                        "each image as an image OpenCV writes (.png, .jpg, ...); several images: OUT-<name>.png")
    parser.add_argument("--save", metavar="OUT.mp4", help="write each video with the overlays drawn (.mp4 or .avi); "
                        "several videos: OUT-<name>.mp4")
    defaults = OneEuroSettings()
    parser.add_argument("--no-smooth", action="store_true", help="video: raw predictions, no One-Euro filter")
    parser.add_argument("--smooth-min-cutoff", type=_positive_float, default=defaults.min_cutoff, help="One-Euro "
                        f"cutoff (Hz) of a still face: lower is smoother (default {defaults.min_cutoff})")
    parser.add_argument("--smooth-beta", type=_non_negative_float, default=defaults.beta, help="One-Euro speed "
                        f"coefficient: higher lags less when the face moves (default {defaults.beta:g})")
    parser.add_argument("--smooth-d-cutoff", type=_positive_float, default=defaults.d_cutoff, help="One-Euro "
                        f"cutoff (Hz) of the speed estimate (default {defaults.d_cutoff:g})")


def _float_at_least(low: float, strict: bool):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"must be a {'positive' if strict else 'non-negative'} number, got "
                                             f"'{text[:40]}'")
        return value

    parse.__name__ = "number"
    return parse


_positive_float, _non_negative_float = _float_at_least(0.0, True), _float_at_least(0.0, False)


def run(args: argparse.Namespace) -> int:
    from edgekit.api import load
    from edgekit.runtime.fileinfo import describe_running_file
    from edgekit.runtime.stream_io import check_video, expand_inputs

    inputs = expand_inputs(args.inputs)
    outputs = check_outputs(args, inputs)  # a refused output costs nothing, nor does a video OpenCV cannot open
    for source in inputs:
        check_video(source)
    with load(args.source, args.threads, args.choice, args.detector) as model, json_lines(args.jsonl) as jsonl:
        emit = _emitter(args.json, jsonl)
        if _text_out(args) is sys.stdout:  # JSON lines name the file themselves
            running = describe_running_file(args.source, args.choice)
            print(f"{model.spec.name}: running {running.path} ({running.format} {running.precision})")
        for source in inputs:
            if source.is_stream:
                predict_stream(model, source, args, outputs.get(source.name), emit)
            else:
                predict_image(model, source.name, args, outputs.get(source.name), emit)
    return 0


def _text_out(args: argparse.Namespace) -> IO[str]:
    """Where text lines go: stderr when stdout carries the JSON lines (--json without --jsonl)."""
    return sys.stderr if args.json and not args.jsonl else sys.stdout


def _emitter(to_stdout: bool, jsonl: IO[str] | None) -> Callable[[dict], None] | None:
    """Where JSON lines go: the --jsonl file, stdout (--json), or nowhere (None: text lines instead)."""
    if jsonl is not None:
        return lambda record: jsonl.write(json.dumps(record) + "\n")
    return (lambda record: print(json.dumps(record), flush=True)) if to_stdout else None


def predict_image(model, image_path: str, args: argparse.Namespace, draw: Path | None, emit) -> None:
    from edgekit.api import read_image
    from edgekit.errors import DataError, EdgekitError

    image = read_image(image_path)
    try:
        faces = model.predict(image, args.max_faces, args.box)
        if not faces:
            raise DataError("no face box given and the face detector found no face in the image")
    except EdgekitError as exc:
        raise exc.at(image_path) from None
    for index, face in enumerate(faces):
        record = {"image": str(image_path), "face": index, **face_dict(face, model)}
        if emit:
            emit(record)
        if _text_out(args) is sys.stdout:
            print(summary_line(record, len(faces)))
    if draw:
        write_overlay(draw, image, faces)
        print(f"  wrote {draw}", file=_text_out(args))


def predict_stream(model, source, args: argparse.Namespace, save: Path | None, emit) -> None:
    """Every frame of a video or camera: JSON lines per frame and face; a summary with the frame rate at the end."""
    from edgekit.runtime.draw import draw_faces
    from edgekit.runtime.smoothing import OneEuroSettings
    from edgekit.runtime.stream import FaceTracker, TrackSettings
    from edgekit.runtime.stream_io import VideoSink, frame_rate, read_frames

    smoothing = None if args.no_smooth else OneEuroSettings(args.smooth_min_cutoff, args.smooth_beta,
                                                            args.smooth_d_cutoff)
    tracker = FaceTracker(model.predictor, TrackSettings(max_faces=args.max_faces, smoothing=smoothing))
    frames = faces = 0
    start = time.perf_counter()
    with VideoSink(save, frame_rate(source)) if save else contextlib.nullcontext() as sink, _until_ctrl_c(source):
        for index, (seconds, image) in enumerate(read_frames(source)):
            found = tracker.update(image, seconds)
            frames, faces = frames + 1, faces + len(found)
            for number, face in enumerate(found):
                record = {"video": source.name, "frame": index, "time": round(seconds, 4), "face": number,
                          **face_dict(face, model)}
                if emit:
                    emit(record)
            if sink:
                sink.write(draw_faces(image, found))
    fps = frames / max(time.perf_counter() - start, 1e-9)
    print(f"{source.name}: {frames} frames, {faces} faces, detector on {tracker.detector_runs} frames, {fps:.1f} fps"
          + (f"; wrote {save}" if save else ""), file=_text_out(args))


@contextlib.contextmanager
def _until_ctrl_c(source) -> Iterator[None]:
    """A camera runs until Ctrl-C, which ends it like the end of a video: what it wrote is kept."""
    try:
        yield
    except KeyboardInterrupt:
        if source.kind != "camera":
            raise


def face_dict(face, model) -> dict:
    """JSON-ready: box [x0, y0, x1, y1], landmarks [[x, y], ...] image px, pose {yaw, pitch, roll} degrees."""
    pose = face.pose
    return {
        "model": model.spec.name,
        "file": model.file,
        "box": [round(float(v), 2) for v in face.box],
        "score": round(face.score, 4),
        "landmarks": None if face.landmarks is None else np.round(face.landmarks, 2).tolist(),
        "pose": None if pose is None else dict(zip(("yaw", "pitch", "roll"), (round(float(a), 2) for a in pose))),
        "pose_source": None if pose is None else POSE_SOURCE[model.spec.task],
    }


def summary_line(result: dict, count: int = 1) -> str:
    parts = [result["image"] + (f" face {result['face'] + 1}/{count}:" if count > 1 else ":")]
    if result["landmarks"] is not None:
        parts.append(f"{len(result['landmarks'])} landmarks")
    if result["pose"]:
        pose = result["pose"]
        parts.append(f"yaw {pose['yaw']:+.1f} pitch {pose['pitch']:+.1f} roll {pose['roll']:+.1f} deg "
                     f"({result['pose_source']})")
    x0, y0, x1, y1 = result["box"]
    parts.append(f"face box {x0:.0f},{y0:.0f},{x1:.0f},{y1:.0f}")
    return "  ".join(parts)


def numbered_path(out: str, input_name: str, count: int) -> Path:
    """``out`` itself for one input; OUT-<input name>.SUFFIX each for several."""
    path = Path(out)
    return path if count == 1 else path.with_name(f"{path.stem}-{Path(input_name).stem}{path.suffix}")


def check_outputs(args: argparse.Namespace, inputs) -> dict[str, Path]:
    """input name -> its overlay image (--draw) or drawn video (--save); --jsonl checked too. All before any work."""
    from edgekit.errors import EdgekitError
    from edgekit.outputs import check_output_file

    names = (args.source, *(i.name for i in inputs if i.kind != "camera"))
    if args.jsonl:
        check_output_file(args.jsonl, "--jsonl", inputs=names)
    streams = [i.name for i in inputs if i.is_stream]
    if args.box and streams:
        raise EdgekitError("--box applies to images; videos and cameras are detected and tracked", streams[0])
    images = [i.name for i in inputs if not i.is_stream]
    outputs = {}
    for flag, value, chosen, options in (("--draw", args.draw, images, {"image": True}),
                                         ("--save", args.save, streams, {"suffixes": (".mp4", ".avi")})):
        if value and not chosen:  # nothing would be written: say so rather than exit 0 without the file
            raise EdgekitError(f"{flag} applies to {'images' if flag == '--draw' else 'videos and cameras'}, and "
                               "no INPUT is one", value)
        if value:
            check_output_file(value, flag, inputs=names, **options)
            outputs.update({name: check_output_file(numbered_path(value, name, len(chosen)), flag, inputs=names,
                                                    **options) for name in chosen})
    return outputs


@contextlib.contextmanager
def json_lines(path: str | None) -> Iterator[IO[str] | None]:
    """A text file to write JSON lines into as they come, renamed into place when the run ends (nothing on
    failure); None without --jsonl."""
    from edgekit.atomic import atomic_path

    if path is None:
        yield None
        return
    with atomic_path(path) as temp, open(temp, "w", encoding="utf-8") as stream:
        yield stream
