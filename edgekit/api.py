"""The Python API: what the CLI verbs do, as functions returning records.

    import edgekit
    model = edgekit.load("pfld_0.25x")            # name, weights, artifact folder, .onnx, .tflite, .engine
    faces = model.predict("photo.jpg", max_faces=4)  # [Face(box, score, landmarks, pose), ...]
    for frame in model.stream("clip.mp4"):        # Frame(index, time, faces): tracked and smoothed
        ...
    artifact = edgekit.export("pfld_0.25x", target="cpu-x86-int8", out="pfld-x86")
    result = edgekit.evaluate("pfld-x86", "faces/")  # EvalResult
    rows = edgekit.profile("pfld-x86")            # [ProfileResult, ...]

Nothing heavy is imported until a function runs (torch only for torch sources).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from edgekit.runtime.smoothing import OneEuroSettings

Image = str | Path | np.ndarray  # a file, or a uint8 (H, W[, C]) array in OpenCV's BGR order


class Model:
    """A model opened for inference (``edgekit.load``). Close it, or use it as a context manager."""

    def __init__(self, source: str | Path, threads: int | None = None, file: str | None = None,
                 detector: Any = None):
        from edgekit.runtime.detect import get_detector
        from edgekit.runtime.predictor import Predictor
        from edgekit.runtime.source import open_source

        detector = get_detector(detector)  # a bad detector fails before the model loads
        runner, self.spec = open_source(source, threads, file)
        self.predictor = Predictor(runner, self.spec)
        self.predictor.detector = detector
        self.file = runner.path  # the file that runs (a registered name: its shipped weights, through torch)

    def predict(self, image: Image, max_faces: int = 1, box: Sequence[float] | None = None) -> list:
        """[Face, ...]: every face up to ``max_faces``, biggest first ([] when none is found), or the face in
        ``box`` (x0, y0, x1, y1 image pixels)."""
        return self.predictor.faces(read_image(image), max_faces, None if box is None else tuple(box))

    def stream(self, source: str | Path | int, max_faces: int = 1,
               smoothing: OneEuroSettings | None = OneEuroSettings()) -> Iterator:
        """Frame(index, time, faces) for each frame of a video file or camera index: tracked from frame to frame
        (the detector runs when a face is missing) and smoothed (``smoothing=None``: raw)."""
        from edgekit.runtime.stream import TrackSettings, track
        from edgekit.runtime.stream_io import Input, read_frames

        kind = "camera" if isinstance(source, int) else "video"
        settings = TrackSettings(max_faces=max_faces, smoothing=smoothing)
        return track(self.predictor, read_frames(Input(str(source), kind)), settings)

    def close(self) -> None:
        self.predictor.runner.close()

    def __enter__(self) -> "Model":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Model({self.spec.name!r}, task={self.spec.task!r}, file={self.file!r})"


def read_image(image: Image) -> np.ndarray:
    """(H, W, 3) uint8 BGR from a path (checked decode) or an array."""
    from edgekit.data.images import load_image
    from edgekit.runtime.preprocess import as_bgr

    return load_image(image) if isinstance(image, (str, Path)) else as_bgr(np.asarray(image))


def load(source: str | Path, threads: int | None = None, file: str | None = None, detector: Any = None) -> Model:
    """Open SOURCE: a registered model name, weights (.safetensors / .pt), an artifact folder (``file``: which
    of its files: path, format or precision; default the one its export selected), .onnx, .tflite or .engine.
    ``detector``: "haar", "yunet:FILE.onnx", "module:callable", or a callable image -> [(x0, y0, x1, y1, score)]."""
    return Model(source, threads, file, detector)


@dataclass(frozen=True)
class Artifact:
    """An exported artifact folder, read back from its verified manifest."""

    folder: Path
    files: tuple[Path, ...]  # its model files
    gate: dict  # file name -> edgekit.checks.GateResult (metric, value, delta, budget, passed, ...), gated files
    selected: Path | None  # the fastest file within the accuracy budget: what ``load(folder)`` runs


def read_artifact(folder: str | Path) -> Artifact:
    from edgekit.artifact import read_manifest

    folder = Path(folder)
    manifest = read_manifest(folder)
    gate = manifest.checks.gate.files
    selected = manifest.checks.selected
    return Artifact(folder, tuple(folder / f.path for f in manifest.models()), dict(gate),
                    folder / selected if selected else None)


def export(source: Any, target: Any, out: str | Path, calib: str | None = None, eval: str | None = None,
           threads: int | None = None, log: Callable[[str], None] | None = None) -> Artifact:
    """Export SOURCE (registered name, weights, checkpoint or an nn.Module with ``.spec``) for ``target`` (a name
    in targets/, a YAML path or a Target) into the artifact folder ``out``. ``eval``: the gate's annotated folder or
    recipe, or "held-out"; default: a registered model's own validation set when its data is here. ``log`` gets each
    progress line (default: silent)."""
    from edgekit.export.pipeline import export as run_export
    from edgekit.export.pipeline import own_validation_set
    from edgekit.specs import Target, load_target

    log = log or (lambda line: None)
    loaded = target if isinstance(target, Target) else load_target(str(target))
    if eval is None and loaded.int8 is not None:
        eval = own_validation_set(source, log)
    folder = run_export(source, loaded, out, calib=calib, eval_dir=None if eval == "held-out" else eval, log=log,
                        threads=threads)
    return read_artifact(folder)


@dataclass(frozen=True)
class EvalResult:
    """``edgekit.evaluate``: landmark NME / FR / AUC, or pose MAE per angle."""

    source: str
    model: str
    task: str  # landmarks | pose
    data: str
    count: int  # faces scored
    nme: float | None = None  # % of the inter-ocular distance (landmarks)
    fr: float | None = None  # % of faces with NME > 10 %
    auc: float | None = None  # area under the CED curve up to 10 %
    mae: float | None = None  # degrees, mean of yaw, pitch, roll (pose)
    yaw: float | None = None
    pitch: float | None = None
    roll: float | None = None
    dropped: int | None = None  # faces with a label |angle| > 99 degrees, left out (pose)
    pose_labels: str | None = None  # where the pose labels came from (pose)
    file: str | None = None  # the model file that ran
    report: dict = field(default_factory=dict, repr=False, compare=False)  # everything, as ``eval --json`` writes

    @classmethod
    def from_report(cls, report: dict) -> "EvalResult":
        names = [f.name for f in cls.__dataclass_fields__.values() if f.name not in ("report", "file")]
        file = report.get("file")
        return cls(**{name: report[name] for name in names if name in report},
                   file=file.get("path") if isinstance(file, dict) else file, report=report)


def evaluate(source: str | Path, data: str | Path | None = None, limit: int | None = None,
             threads: int | None = None, batch_size: int = 32, ced: str | Path | None = None,
             val_of: str | Path | None = None, derive_pose: bool = False) -> EvalResult:
    """Metrics of SOURCE on the annotated faces of folder ``data`` (or the validation set of recipe ``val_of``);
    ``ced``: also write the cumulative error distribution plot (PNG); ``derive_pose``: score a pose model on faces
    without pose labels against angles solvePnP derives from their landmarks (refused otherwise)."""
    from edgekit.eval.evaluate import evaluate as run_eval

    return EvalResult.from_report(run_eval(source, data, limit=limit, threads=threads, batch_size=batch_size,
                                           ced=ced, val_of=val_of, derive_pose=derive_pose))


def profile(*sources: str | Path, threads: Sequence[int] = (1,), batch: Sequence[int] = (1,), runs: int = 200,
            warmup: int = 20, peers: Sequence[str] = (), baseline: str | None = None) -> list:
    """[ProfileResult, ...] (``edgekit.profile.report.Measurement``): latency percentiles, throughput, memory, size
    and MACs of every model file of each source (artifact folder, model file or registered name) and of each
    peer (e.g. "mediapipe"), each configuration measured in its own process."""
    from edgekit.profile import measure, report

    files = [f for source in sources for f in measure.model_files(str(source))]
    files += [measure.peer_file(name) for name in peers]
    settings = measure.Settings(threads=tuple(threads), batches=tuple(batch), runs=runs, warmup=warmup)
    return report.with_ratios(measure.profile_files(files, settings, progress=False), baseline)
