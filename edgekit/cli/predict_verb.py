"""``edgekit predict``: landmarks (image pixels) and / or head pose of the biggest face in each image."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from edgekit.cli import args as types
from edgekit.runtime.draw import write_overlay

HELP = "Predict landmarks and head pose on images with any model SOURCE (artifact, .onnx, .tflite, weights, name)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="artifact folder, .onnx / .tflite / .engine / .safetensors / .pt file or "
                        "registered model name")
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--box", type=types.box_corners, help="face box x0,y0,x1,y1 in image pixels (default: "
                        "detect)")
    parser.add_argument("--detector", type=types.detector_choice, help="face detector: haar (default), "
                        "yunet:MODEL.onnx or package.module:callable")
    parser.add_argument("--file", dest="choice", help="which file of an artifact: path, format or precision")
    parser.add_argument("--threads", type=types.threads, default=None, help="inference threads")
    parser.add_argument("--json", action="store_true", help="print one JSON object per image")
    parser.add_argument("--draw", metavar="OUT.png", help="write an overlay (points, box, pose axes) as an image "
                        "OpenCV writes (.png, .jpg, ...); with several images OUT-<image name>.png each")


def run(args: argparse.Namespace) -> int:
    from edgekit.data.images import load_image
    from edgekit.errors import EdgekitError
    from edgekit.runtime.detect import get_detector
    from edgekit.runtime.predictor import Predictor
    from edgekit.runtime.source import open_source

    draws = check_draw_paths(args.draw, args.source, args.images)  # a refused output costs nothing
    detector = get_detector(args.detector)  # nor a bad --detector: it fails before the model loads
    runner, spec = open_source(args.source, args.threads, args.choice)
    predictor = Predictor(runner, spec)
    predictor.detector = detector
    try:
        for image_path in args.images:
            image = load_image(image_path)
            try:
                prediction = predictor.predict(image, args.box)
            except EdgekitError as exc:
                raise exc.at(image_path) from None
            result = prediction_dict(image_path, prediction, spec)
            print(json.dumps(result) if args.json else summary_line(result))
            if draws:
                out = draws[image_path]
                write_overlay(out, image, prediction)
                if not args.json:
                    print(f"  wrote {out}")
    finally:
        runner.close()
    return 0


def prediction_dict(image_path: str, prediction, spec) -> dict:
    """JSON-ready: face box (cx, cy, side), landmarks [[x, y], ...] image px, pose {yaw, pitch, roll} degrees."""
    pose = prediction.pose
    source = None if pose is None else ("pose head" if spec.task == "pose" else "solvePnP on landmarks")
    return {
        "image": str(image_path),
        "model": spec.name,
        "box": [round(float(v), 2) for v in prediction.box],
        "landmarks": None if prediction.landmarks is None else np.round(prediction.landmarks, 2).tolist(),
        "pose": None if pose is None else dict(zip(("yaw", "pitch", "roll"), (round(float(a), 2) for a in pose))),
        "pose_source": source,
    }


def summary_line(result: dict) -> str:
    parts = [result["image"] + ":"]
    if result["landmarks"] is not None:
        parts.append(f"{len(result['landmarks'])} landmarks")
    if result["pose"]:
        pose = result["pose"]
        parts.append(f"yaw {pose['yaw']:+.1f} pitch {pose['pitch']:+.1f} roll {pose['roll']:+.1f} deg "
                     f"({result['pose_source']})")
    cx, cy, side = result["box"]
    parts.append(f"face box centre ({cx:.0f}, {cy:.0f}) side {side:.0f}")
    return "  ".join(parts)


def draw_path(draw: str, image_path: str, count: int) -> Path:
    out = Path(draw)
    return out if count == 1 else out.with_name(f"{out.stem}-{Path(image_path).stem}{out.suffix}")


def check_draw_paths(draw: str | None, source: str, images: list[str]) -> dict[str, Path]:
    """image -> its overlay path, each checked as an output file (an image suffix OpenCV writes); {} without
    --draw."""
    from edgekit.outputs import check_output_file

    if not draw:
        return {}
    inputs = (source, *images)
    check_output_file(draw, "--draw", image=True, inputs=inputs)
    return {image: check_output_file(draw_path(draw, image, len(images)), "--draw", image=True, inputs=inputs)
            for image in images}
