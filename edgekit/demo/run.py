"""The built-in demo: shipped weights -> ONNX + INT8 + TFLite with the accuracy gate -> predictions on real faces
through every exported file -> profile of every file beside MediaPipe's face-mesh model -> a markdown report."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from edgekit.artifact import read_manifest
from edgekit.outputs import OwnedFolder, check_artifact_out, check_owned_out

Log = Callable[[str], None]
# what the demo writes into --out (this module, demo/faces.py, demo/report.py); a folder holding anything else is
# refused, so re-running into a previous demo's folder is fine and a user's folder is never written into
DEMO_OUTPUT = OwnedFolder("the demo", frozenset({"calibration.yaml", "profile.json", "profile.csv", "latency.png",
                                                 "report.md"}),
                          (("calibration", r"face_[0-9]{3,}\.jpg"), ("overlays", r"[^/]+\.png"),
                           ("artifacts", r"[A-Za-z0-9_.]+-[A-Za-z0-9_.-]+")))


@dataclass(frozen=True)
class DemoConfig:
    models: tuple[str, ...] = ("pfld_0.25x", "fsanet")
    targets: tuple[str, ...] = ("cpu-x86-int8", "android-arm64-int8")
    calibration_images: int = 96  # 64 to calibrate, 32 held out for the label-free gate
    threads: tuple[int, ...] = (1, 2)
    runs: int = 100
    warmup: int = 10
    peer: str | None = "mediapipe"


@dataclass(frozen=True)
class Exported:
    model: str
    target: str
    folder: Path
    seconds: float


@dataclass(frozen=True)
class FilePrediction:
    model: str
    target: str
    file: str
    precision: str
    landmarks: np.ndarray | None  # (N, 2) image pixels
    pose: np.ndarray | None  # (3,) degrees
    vs_torch: float  # max landmark distance (px) or angle difference (deg) from the torch model
    unit: str  # "px" or "deg"
    overlay: Path | None


def run_demo(out: Path, config: DemoConfig = DemoConfig(), log: Log = print) -> Path:
    """Everything the demo does; returns the report path."""
    from edgekit.demo.faces import choose_calibration, shipped_faces
    from edgekit.demo.report import write_report

    started = time.perf_counter()
    check_demo_out(out, config)
    out.mkdir(parents=True, exist_ok=True)
    faces = shipped_faces()
    log(f"faces: {', '.join(str(f) for f in faces)}")
    calibration = choose_calibration(out / "calibration", faces, config.calibration_images)
    log(f"calibration: {calibration.calib} ({'real annotated faces' if calibration.real else 'augmentations'})")
    exported = [export_one(model, target, out, calibration.calib, log, _gate_set(model, calibration, log))
                for model in config.models for target in config.targets]
    predictions = predict_everywhere(exported, faces[0], out / "overlays", log)
    rows = profile_everything(exported, config, out, log)
    return write_report(out, config, faces, calibration, exported, predictions, rows,
                        time.perf_counter() - started)


def _gate_set(model: str, calibration, log: Log) -> str | None:
    """The model's own validation set (its recipe) with real calibration faces, as ``edgekit export`` gates; else
    None (label-free on the held-out augmentations)."""
    from edgekit.export.pipeline import own_validation_set

    return own_validation_set(model, log) if calibration.real else None


def check_demo_out(out: Path, config: DemoConfig) -> None:
    """Before any work: ``out`` is new, empty or a previous demo's, and every artifact folder it will replace is
    new or an artifact."""
    check_owned_out(out, DEMO_OUTPUT)
    for model in config.models:
        for target in config.targets:
            check_artifact_out(artifact_folder(out, model, target))


def artifact_folder(out: Path, model: str, target: str) -> Path:
    return out / "artifacts" / f"{model}-{target}"


def export_one(model: str, target_name: str, out: Path, calibration: str | Path, log: Log,
               eval_dir: str | Path | None = None) -> Exported:
    from edgekit.export.pipeline import export
    from edgekit.specs import load_target

    log(f"\n== export {model} --target {target_name}")
    started = time.perf_counter()
    folder = export(model, load_target(target_name), artifact_folder(out, model, target_name),
                    calib=str(calibration), eval_dir=eval_dir, log=log)
    return Exported(model, target_name, folder, time.perf_counter() - started)


def predict_everywhere(exported: list[Exported], face: Path, overlays: Path, log: Log) -> list[FilePrediction]:
    """Every model file of every artifact on the face, each compared with the torch model on the same box."""
    import cv2

    from edgekit.backend.torch.runner import TorchRunner
    from edgekit.runtime.detect import detect_face
    from edgekit.runtime.predictor import Predictor

    image = cv2.imread(str(face))
    box = detect_face(image)
    results, references = [], {}
    for item in exported:
        if item.model not in references:
            with TorchRunner(item.model) as runner:
                references[item.model] = Predictor(runner, runner.spec).predict(image, box)
        manifest = read_manifest(item.folder)
        for entry in manifest.models():
            results.append(_predict_file(item, entry, manifest.model, image, box, references[item.model], overlays))
    log(f"\npredicted {face.name} with {len(results)} files; worst difference from torch: "
        f"{max(r.vs_torch for r in results):.3g}")
    return results


def _predict_file(item: Exported, entry, spec, image, box, reference, overlays: Path) -> FilePrediction:
    from edgekit.runtime.draw import write_overlay
    from edgekit.runtime.predictor import Predictor
    from edgekit.runtime.source import runner_for_file

    with runner_for_file(item.folder / entry.path, 1, spec) as runner:
        prediction = Predictor(runner, spec).predict(image, box)
    if spec.task == "landmarks":
        diff, unit = float(np.linalg.norm(prediction.landmarks - reference.landmarks, axis=1).max()), "px"
    else:
        diff, unit = float(np.abs(prediction.pose - reference.pose).max()), "deg"
    overlay = write_overlay(overlays / f"{item.model}-{item.target}-{Path(entry.path).stem}.png", image, prediction)
    return FilePrediction(item.model, item.target, entry.path, entry.precision, prediction.landmarks,
                          prediction.pose, diff, unit, overlay)


def profile_everything(exported: list[Exported], config: DemoConfig, out: Path, log: Log) -> list:
    """Every file (each configuration in its own process), with MediaPipe's face-mesh model as the ratio base."""
    from edgekit.errors import EdgekitError
    from edgekit.profile import measure, report

    files = []
    for item in exported:
        files += [_labelled(f, item) for f in measure.model_files(str(item.folder))]
    baseline = None
    if config.peer:
        try:
            files.insert(0, measure.peer_file(config.peer))
            baseline = files[0].label
        except EdgekitError as exc:
            log(f"peer {config.peer} unavailable: {exc}")
    log(f"\n== profile {len(files)} files x threads {config.threads}, batch 1, {config.runs} runs each")
    settings = measure.Settings(threads=config.threads, batches=(1,), runs=config.runs, warmup=config.warmup)
    rows = report.with_ratios(measure.profile_files(files, settings, progress=False), baseline)
    log(report.format_table(rows))
    report.write_json(out / "profile.json", rows, {"tool": "edgekit demo"})
    report.write_csv(out / "profile.csv", rows)
    report.write_plot(out / "latency.png", rows)
    return rows


def _labelled(file, item: Exported):
    import dataclasses

    return dataclasses.replace(file, label=f"{item.model}/{item.target}/{Path(file.path).name}")
