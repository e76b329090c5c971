"""``edgekit predict``: landmarks (image pixels) and / or head pose of the biggest face in each image."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from edgekit.runtime.draw import write_overlay

HELP = "Predict landmarks and head pose on images with any model SOURCE (artifact, .onnx, .tflite, weights, name)."


def corners(text: str) -> tuple[float, float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4 or values[2] <= values[0] or values[3] <= values[1]:
        raise argparse.ArgumentTypeError(f"a face box is x0,y0,x1,y1 with x1 > x0 and y1 > y0, got '{text}'")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="artifact folder, .onnx / .tflite / .engine / .safetensors / .pt file or "
                        "registered model name")
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--box", type=corners, help="face box x0,y0,x1,y1 in image pixels (default: detect)")
    parser.add_argument("--detector", default=None, help="face detector: haar (default), yunet:MODEL.onnx or "
                        "module:callable")
    parser.add_argument("--file", dest="choice", help="which file of an artifact: path, format or precision")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="print one JSON object per image")
    parser.add_argument("--draw", metavar="OUT.png", help="write an overlay (points, box, pose axes); with "
                        "several images OUT-<image name>.png each")


def run(args: argparse.Namespace) -> int:
    from edgekit.data.images import load_image
    from edgekit.errors import EdgekitError
    from edgekit.runtime.detect import get_detector
    from edgekit.runtime.predictor import Predictor
    from edgekit.runtime.source import open_source

    detector = get_detector(args.detector)  # a bad --detector fails before the model loads
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
            if args.draw:
                out = draw_path(args.draw, image_path, len(args.images))
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
