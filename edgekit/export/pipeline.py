"""``export(source, target, out_dir)``: one loop over the formats the target asks for (``backend.formats``), all
written into one temporary folder that replaces ``out_dir`` only when every stage succeeded (an interrupted or
failed export leaves the previous artifact as it was and no partial folder).

    onnx (parity vs torch, INT8 search when the target deploys ONNX) -> tflite (parity vs ONNX, INT8 search)
    -> tensorrt (checks, calibration table, Jetson bundle) -> selection -> manifest

Each stage is ``backend/<format>``'s ``export_stage(ex)``; ``Export`` is what they share: the gate, the files
shipped so far (the manifest) and the ONNX FP32 outputs every other format is compared with.
"""
from __future__ import annotations

import dataclasses
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgekit.artifact import ArtifactFile, Manifest, describe_file, provenance, write_manifest
from edgekit.atomic import atomic_dir, work_dir
from edgekit.backend.formats import export_stages, for_runtime, load, with_companions
from edgekit.checks import Calibration, Gate, GateResult, Parity, Quantization, Recalibration, \
    Sensitivity, file_key
from edgekit.errors import EdgekitError, ModelFileError
from edgekit.specs import Int8Section, Target

LATENCY_RUNS = 50
DEFAULT_CALIBRATION = "calibration/default.yaml"
HUB = "onnx"  # the format every other one is converted from and compared with
Log = Callable[[str], None]


@dataclass
class Export:
    """What the stages share while one artifact is built."""

    model: Any  # torch nn.Module with .spec
    target: Target
    folder: Path  # the temporary artifact folder
    work: Path  # scratch outside the artifact
    calibration: Any  # edgekit.export.calibset.CalibrationSet
    threads: int | None
    log: Log
    manifest: Manifest
    gate: Any = None  # edgekit.export.gate.Gate, when the target has an int8 section
    reference: list[np.ndarray] | None = None  # ONNX FP32 outputs on the parity faces

    @property
    def spec(self):
        return self.model.spec

    @property
    def int8(self) -> Int8Section:
        return self.target.int8 or Int8Section()

    def parity_faces(self):
        """(tensors, matrices) of real faces held back from calibration (calibration faces if none)."""
        faces = self.calibration.holdout if len(self.calibration.holdout) else self.calibration.calib
        count = self.target.onnx.parity_images
        return faces.tensors[:count], faces.matrices[:count]

    # ------------------------------------------------------------------ the manifest

    def record(self, **checks: Any) -> None:
        self.manifest = self.manifest.with_checks(**checks)

    def add(self, path: Path, format: str, **kw: Any) -> ArtifactFile:
        entry = describe_file(self.folder, path, format, **kw)
        self.manifest = self.manifest.with_file(entry)
        for companion in with_companions(path)[1:]:  # an OpenVINO .bin: hashed and listed beside its .xml
            self.manifest = self.manifest.with_file(describe_file(self.folder, companion, format, role="support",
                                                                  notes=f"weights of {path.name}"))
        return entry

    def record_quantization(self, fmt: str, quantization: Quantization) -> None:
        calibration = self.manifest.checks.calibration
        self.record(calibration=dataclasses.replace(calibration, quantization={**calibration.quantization,
                                                                               fmt: quantization}))
        note = f", {quantization.note}" if quantization.note else ""
        self.log(f"int8: {fmt} {quantization.method} ranges, {quantization.activations} activations, "
                 f"{quantization.images} images ({quantization.tool}{note})")

    def record_recalibration(self, fmt: str, record: Recalibration) -> None:
        self.record(recalibration={**self.manifest.checks.recalibration, fmt: record})

    def record_sensitivity(self, fmt: str, record: Sensitivity) -> None:
        self.record(sensitivity={**self.manifest.checks.sensitivity, fmt: record})

    def fail(self, path: Path, why: str) -> None:
        """A quantized file its runtime cannot run: removed, the reason recorded."""
        for file in with_companions(path):
            file.unlink(missing_ok=True)
        self.record(failed={**self.manifest.checks.failed, file_key(path): why})

    # ------------------------------------------------------------------ files through the checks

    def ship_float(self, path: Path, fmt: str, precision: str, layout: str, notes: str, max_px: float,
                   max_deg: float) -> None:
        """A float file of a converted format: compared with the ONNX FP32 outputs (held to the limits), timed and
        listed."""
        from edgekit.export.gate import require_parity

        result = self.compare(path)
        self.log(f"{fmt}: {path.name} parity vs ONNX {parity_text(result)}")
        require_parity(result, max_px, max_deg, path, "ONNX FP32")
        self.measure(path)
        self.add(path, fmt, precision=precision, layout=layout, notes=notes)

    def ship_quantized(self, path: Path, fmt: str, precision: str, layout: str, notes: str) -> float:
        """Compare (formats other than the hub), gate, time and list a quantized file; returns its gate delta.
        A file its runtime cannot run is removed and recorded instead (delta inf)."""
        try:
            if fmt != HUB:
                text = f"parity vs ONNX {parity_text(self.compare(path))}"
                self.log(f"{fmt}: {path.name} {text}")
            result = self.gate_file(path) if self.gate is not None else None
        except ModelFileError as exc:
            self.fail(path, exc.message)
            self.log(f"{fmt}: {path.name} does not run, not shipped: {exc.message}")
            return math.inf
        if result is not None:
            self.log(f"gate: {path.name} {result.text()}")
        self.measure(path)
        self.add(path, fmt, precision=precision, layout=layout, notes=notes)
        return 0.0 if result is None else result.delta

    def compare(self, path: Path) -> Parity:
        """Parity of a file against the ONNX FP32 outputs on the parity faces (recorded)."""
        from edgekit.export.gate import parity
        from edgekit.runtime.source import runner_for_file

        faces, matrices = self.parity_faces()
        with runner_for_file(path, self.threads, self.spec) as runner:
            result = parity(self.reference, runner.infer(faces), self.spec, matrices, "onnx fp32")
        self.record(parity={**self.manifest.checks.parity, file_key(path): result})
        return result

    def measure(self, path: Path) -> float:
        """Host latency of one file: median of LATENCY_RUNS batch-1 runs, 1 thread, warm-up excluded."""
        from edgekit.export.gate import latency_ms
        from edgekit.runtime.source import runner_for_file

        with runner_for_file(path, 1, self.spec) as runner:
            value = latency_ms(runner, self.calibration.calib.tensors, LATENCY_RUNS)
        latency = self.manifest.checks.latency
        self.record(latency=dataclasses.replace(latency, files={**latency.files, file_key(path): value}))
        return value

    def set_baseline(self, path: Path) -> None:
        """The FP32 file's metric: what every delta is measured from."""
        from edgekit.runtime.source import runner_for_file

        with runner_for_file(path, self.threads, self.spec) as runner:
            self.gate.set_baseline(runner)
        self._record_gate(file_key(path), self.gate.baseline_result())

    def gate_file(self, path: Path) -> GateResult:
        """Gate a file of the artifact; its result goes into the manifest."""
        result = self.gate_trial(path)
        self._record_gate(file_key(path), result)
        return result

    def _record_gate(self, name: str, result: GateResult) -> None:
        gate = self.manifest.checks.gate
        self.record(gate=Gate(self.gate.metric, self.gate.label_free, {**gate.files, name: result}))

    def gate_trial(self, path: Path) -> GateResult:
        """Gate any file (a trial outside the artifact too), recording nothing; ModelFileError when its runtime
        cannot run it."""
        from edgekit.runtime.source import runner_for_file

        with runner_for_file(path, self.threads, self.spec) as runner:
            return self.gate.check(runner)

    def gate_delta(self, path: Path) -> float:
        return self.gate_trial(path).delta

    def trial_delta(self, path: Path) -> float:
        """The gate's delta of a trial file; inf when its runtime cannot run it."""
        try:
            return self.gate_delta(path)
        except ModelFileError:
            return math.inf

    # ------------------------------------------------------------------ calibrations

    def percentiles(self) -> tuple[float, ...]:
        """The recalibration percentiles, less the target's own calibration."""
        own = self.int8.percentile if self.int8.method == "percentile" else None
        return tuple(p for p in self.int8.recalibrate if p != own)

    def calibration_name(self, percentile: float | None) -> str:
        """'minmax ranges', 'percentile 99.9 ranges': the target's calibration (None) or a recalibration."""
        if percentile is None and self.int8.method != "percentile":
            return f"{self.int8.method} ranges"
        return f"percentile {self.int8.percentile if percentile is None else percentile:g} ranges"


# ----------------------------------------------------------------------------- selection and the chain


def select(manifest: Manifest, target: Target) -> str:
    """The file deployed by default, of the files of the target runtime's format within the accuracy budget
    (float files pass by definition): the fastest on this host (``select.prefer: latency``, so an INT8 file slower
    than FP32 is never chosen) or the smallest (``size``)."""
    latency = manifest.checks.latency.files
    passing = candidates(manifest, target)
    if not passing:
        return next(f for f in manifest.models() if f.format == for_runtime(target.runtime).name).path
    if target.select.prefer == "size":
        return min(passing, key=lambda f: (f.size, latency.get(f.path, math.inf))).path
    return min(passing, key=lambda f: latency.get(f.path, math.inf)).path


def candidates(manifest: Manifest, target: Target) -> list[ArtifactFile]:
    """The files of the target runtime's format within the accuracy budget (float files pass by definition)."""
    gate = manifest.checks.gate.files
    files = [f for f in manifest.models() if f.format == for_runtime(target.runtime).name]
    return [f for f in files if (gate[f.path].passed if f.path in gate else f.precision in ("fp32", "fp16"))]


def time_side_by_side(ex: Export, files: list[ArtifactFile], rounds: int = 10) -> None:
    """Re-time the selection's candidates in alternating rounds, so each sees the same host load: files timed
    alone, minutes apart, measured the load as much as the file (FP32 picked over a faster INT8 on a busy host)."""
    from contextlib import ExitStack

    from edgekit.export.gate import latency_ms
    from edgekit.runtime.source import runner_for_file

    rows: dict[str, list[float]] = {f.path: [] for f in files}
    with ExitStack() as stack:
        runners = {f.path: stack.enter_context(runner_for_file(ex.folder / f.path, 1, ex.spec)) for f in files}
        for _ in range(rounds):
            for path, runner in runners.items():
                rows[path].append(latency_ms(runner, ex.calibration.calib.tensors, LATENCY_RUNS // rounds, 1))
    latency = ex.manifest.checks.latency
    medians = {path: float(statistics.median(values)) for path, values in rows.items()}
    ex.record(latency=dataclasses.replace(latency, files={**latency.files, **medians}))


def _finish(ex: Export) -> None:
    passing = candidates(ex.manifest, ex.target)
    if ex.target.select.prefer == "latency" and len(passing) > 1:
        time_side_by_side(ex, passing)
    chosen = select(ex.manifest, ex.target)
    files = sorted(ex.manifest.files, key=lambda f: f.path != chosen)  # the default file first
    ex.manifest = dataclasses.replace(ex.manifest, files=tuple(files))
    ex.record(selected=chosen)
    write_manifest(ex.folder, ex.manifest)
    ex.log(f"selected: {chosen}")


def export(source: Any, target: Target, out_dir: str | Path, calib: str | None = None,
           eval_dir: str | Path | None = None, log: Log = print, threads: int | None = None) -> Path:
    """Export ``source`` (registered name, .safetensors, .pt, or an nn.Module with .spec) for ``target`` into the
    artifact folder ``out_dir`` (replaced atomically: it must be new, empty or an artifact). Returns ``out_dir``."""
    from edgekit.export.calibset import load_calibration
    from edgekit.outputs import check_artifact_out

    out_dir = check_artifact_out(out_dir)  # before the model and the calibration load
    model = _load(source)
    faces = target.onnx.parity_images  # without INT8, real faces are needed for parity only
    int8 = target.int8 or Int8Section(min_images=faces, max_images=faces, holdout_images=0)
    calibration = load_calibration(calib or (target.int8.calibration if target.int8 else DEFAULT_CALIBRATION),
                                   model.spec, int8)
    log(f"calibration: {len(calibration.calib)} + {len(calibration.holdout)} held-out real faces from "
        f"{calibration.source}{' (cached)' if calibration.from_cache else ''}")
    gate = _gate(model.spec, target, calibration, eval_dir)
    with work_dir("export") as work, atomic_dir(out_dir) as folder:
        manifest = Manifest(model=model.spec, target=target, provenance=provenance(_label(source)))
        ex = Export(model, target, folder, work, calibration, threads, log, manifest, gate)
        ex.record(calibration=Calibration(calibration.record()))
        for stage in stages(target):
            stage(ex)
        _finish(ex)
    return out_dir


def stages(target: Target) -> list[Callable[[Export], None]]:
    """The export stage of every format ``target`` asks for, in order."""
    return [load(fmt.export) for fmt in export_stages(target)]


def _gate(spec, target: Target, calibration, eval_dir) -> Any:
    """The accuracy gate when the target has an int8 section: the eval folder, else the held-out faces."""
    if target.int8 is None:
        return None
    from edgekit.export.gate import Gate as AccuracyGate

    holdout = calibration.holdout
    return AccuracyGate(spec, target.int8, None if eval_dir is None else str(eval_dir), holdout.paths,
                        holdout.boxes)


def own_validation_set(source: Any, log: Log) -> str | None:
    """The CLI's default ``--eval`` for a registered model: its recipe (``recipes/NAME.yaml``), whose validation
    set becomes the gate's, when that data is on this machine (else None: the held-out calibration faces). 32
    held-out faces make a noisy gate (PIPNet-MobileNetV3, Percentile 99.9: +0.54 NME on them, +0.07 on its 770
    validation faces)."""
    from edgekit.paths import find_recipe
    from edgekit.registry import list_models
    from edgekit.recipe import load_recipe

    if not isinstance(source, str) or source not in list_models():
        return None
    try:
        recipe = find_recipe(source)
        folder = load_recipe(recipe).data.val.resolved()
    except EdgekitError:  # no recipe of that name, or one that does not load
        return None
    if not folder.is_dir():
        return None
    log(f"gate: no --eval given, using {source}'s own validation set ({recipe.name}: {folder})")
    return str(recipe)


def _load(source: Any):
    if hasattr(source, "spec") and hasattr(source, "forward"):
        return source.eval()
    from edgekit.models.load import load_model

    return load_model(source)


def _label(source: Any) -> str:
    return str(source) if isinstance(source, (str, Path)) else f"<{type(source).__name__}>"


def parity_text(result: Parity) -> str:
    unit = f"{result.max_deg:.2g} deg" if result.max_deg is not None else f"{result.max_px:.2g} px"
    return f"max |d| {result.max_abs:.2g}, decoded {unit} ({result.images} faces)"
