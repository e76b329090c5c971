"""Evaluate a model, weights file, checkpoint (and, through ``open_runner``, exported files) on a folder of
annotated, uncropped images: GT-landmark box -> Predictor (preprocess, runner, numpy decode, inverse crop) ->
edgekit.metrics. Landmarks: NME % (inter-ocular), FR % (NME > 0.1), AUC@0.1, count. Pose: MAE per angle and
overall (plain |difference|, AFLW2000 filter |angle| <= 99 deg), count, dropped. No torch unless the source
is a torch model."""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from edgekit.backend.base import Runner
from edgekit.data import Sample, load_image
from edgekit.data.selection import label_points, landmarks_for, load_samples, pose_label
from edgekit.errors import DataError
from edgekit.metrics import summarize
from edgekit.recipe import DatasetConfig
from edgekit.runtime.predictor import Predictor
from edgekit.runtime.preprocess import box_from_landmarks, preprocess
from edgekit.specs import ModelSpec


def open_runner(source: str | Path, threads: int | None = None) -> tuple[Runner, ModelSpec]:
    """(opened runner, spec) for any SOURCE: registered name, weights / checkpoint, .onnx, .tflite, engine or
    artifact folder (``edgekit.runtime.source.open_source``)."""
    from edgekit.runtime.source import open_source

    return open_source(source, threads)


def evaluate(source: str | Path, data: str | Path | None = None, limit: int | None = None,
             threads: int | None = None, batch_size: int = 32, ced: str | Path | None = None,
             val_of: str | Path | None = None, derive_pose: bool = False) -> dict:
    """Metrics of ``source`` on the annotated faces of folder ``data`` (first ``limit`` by image path), or on
    exactly the validation set recipe ``val_of`` trains against (same loader, filter and split: no leakage).
    A pose model needs pose labels on every face unless ``derive_pose`` (angles solvePnP finds from the 68
    landmarks); the report says which (``pose_labels``) and which file ran (``file``)."""
    from edgekit.runtime.fileinfo import describe_running_file

    runner, spec = open_runner(source, threads)
    running = describe_running_file(source)  # once it opened: a bad SOURCE is named by open_runner's error
    with runner:
        if val_of is not None:
            samples, data = validation_samples(val_of, spec, limit)
        else:
            samples = load_samples(DatasetConfig(str(data), max_samples=limit), spec, max_pose_deg=math.inf)
        labels = {"pose_labels": pose_label_source(samples, derive_pose, data)} if spec.task == "pose" else {}
        predictions, truths = predict_samples(Predictor(runner, spec), samples, batch_size)
    report = {"source": str(source), "model": spec.name, "task": spec.task, "data": str(data),
              "file": dataclasses.asdict(running), **labels, **summarize(spec, predictions, truths)}
    if ced is not None:
        write_ced(spec, predictions, truths, Path(ced), label=spec.name)
    return report


def pose_label_source(samples: list[Sample], derive: bool, data: str | Path | None) -> str:
    """Where the pose labels come from: the annotations, or (``derive``) solvePnP on the 68 landmarks of the
    faces that carry none; DataError naming ``data`` when some carry none and ``derive`` is off."""
    missing = sum(sample.pose is None for sample in samples)
    if missing and not derive:
        raise DataError(f"{missing} of {len(samples)} faces carry no pose label (yaw, pitch, roll): pass "
                        "--derive-pose to score against angles solvePnP derives from their 68 landmarks", data)
    derived = f"derived from 68 landmarks by solvePnP ({missing})"
    if not missing:
        return f"annotated ({len(samples)})"
    return derived if missing == len(samples) else f"annotated ({len(samples) - missing}), {derived}"


def validation_samples(recipe_path: str | Path, spec: ModelSpec, limit: int | None = None
                       ) -> tuple[list[Sample], str]:
    """(samples, description) of exactly the validation set recipe ``recipe_path`` trains against."""
    from edgekit.recipe import load_recipe

    recipe = load_recipe(recipe_path)
    config = recipe.data.val if limit is None else dataclasses.replace(recipe.data.val, max_samples=limit)
    return load_samples(config, spec, recipe.data.max_pose_deg), f"{config.path} (val of {recipe_path})"


def predict_samples(predictor: Predictor, samples: list[Sample], batch_size: int = 32
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(predictions, labels) in image pixels (landmarks, (S, N, 2)) or degrees (pose, (S, 3)), ``batch_size``
    faces per inference. Originals are decoded one at a time and cropped at once: only the crops of a batch are
    held (8 originals of 64 MP would be 1.9 GB)."""
    from edgekit.progress import progress

    spec = predictor.spec
    predictions, truths = [], []
    starts = range(0, len(samples), batch_size)
    for start in progress(starts, "eval", total=len(starts), unit="batch"):
        chunk = samples[start : start + batch_size]
        crops, matrices, boxes, sizes = [], [], [], []
        for sample in chunk:
            image = load_image(sample)
            boxes.append(box_from_landmarks(sample.landmarks, spec.preprocess))
            crop, matrix = preprocess(image, boxes[-1], predictor.preprocess)
            crops.append(crop)
            matrices.append(matrix)
            sizes.append((image.shape[1], image.shape[0]))
            del image  # freed before the next decode, not when the name is rebound after it
        results = predictor.predict_crops(np.stack(crops), np.stack(matrices), boxes, sizes)
        for sample, size, result in zip(chunk, sizes, results):
            predictions.append(result.landmarks if spec.task == "landmarks" else result.pose)
            truths.append(_truth(sample, size, spec))
    if not predictions:
        raise DataError("no faces to evaluate")
    return np.stack(predictions), np.stack(truths)


def _truth(sample: Sample, image_size: tuple[int, int], spec: ModelSpec) -> np.ndarray:
    if spec.task == "landmarks":
        return landmarks_for(sample, label_points(spec), spec)
    return pose_label(sample, image_size)


def write_ced(spec: ModelSpec, predictions: np.ndarray, truths: np.ndarray, path: Path, label: str) -> None:
    """Cumulative error distribution plot (landmark models only)."""
    from edgekit.metrics import ced_plot, nme

    if spec.task != "landmarks":
        raise DataError(f"--ced needs a landmark model; {spec.name} predicts pose", path)
    ced_plot({label: nme(predictions, truths, spec.scheme)}, path)
