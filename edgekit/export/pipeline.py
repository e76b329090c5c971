"""``export(source, target, out_dir)``: the chain of stages, all written into one temporary folder that replaces
``out_dir`` only when every stage succeeded (an interrupted or failed export leaves the previous artifact as it
was and no partial folder).

    onnx (parity vs torch) -> int8 (ORT QDQ calibration) -> gate (metric, latency, sensitivity fallback, select)
    -> tflite (parity vs ONNX, int8 gated) -> tensorrt (checks, calibration table) -> jetson bundle -> manifest
"""
from __future__ import annotations

import dataclasses
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgekit.artifact import ArtifactFile, Manifest, describe_file, provenance, write_manifest
from edgekit.atomic import atomic_dir, work_dir
from edgekit.errors import EdgekitError, ModelFileError
from edgekit.specs import Int8Section, Target

LATENCY_RUNS = 50
DEFAULT_CALIBRATION = "calibration/default.yaml"
Log = Callable[[str], None]


@dataclass
class Export:
    """What the stages share while one artifact is built."""

    model: Any  # torch nn.Module with .spec
    target: Target
    folder: Path  # the temporary artifact folder
    work: Path  # scratch outside the artifact
    calibration: Any  # edgekit.export.calibset.CalibrationSet
    eval_dir: str | None
    threads: int | None
    log: Log
    manifest: Manifest = None
    reference: list[np.ndarray] = field(default_factory=list)  # ONNX FP32 outputs on the parity faces
    gate: Any = None  # edgekit.export.gate.Gate, when the target has an int8 section
    quantizer: Any = None  # edgekit.export.calibrate.QdqQuantizer, reused by the sensitivity fallback
    latency: dict[str, float] = field(default_factory=dict)
    results: dict[str, dict] = field(default_factory=dict)  # gate result per file

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

    def add(self, path: Path, format: str, **kw: Any) -> ArtifactFile:
        entry = describe_file(self.folder, path, format, **kw)
        self.manifest = self.manifest.with_file(entry)
        return entry

    def check(self, name: str, value: Any) -> None:
        self.manifest = self.manifest.with_check(name, value)

    def measure(self, path: Path) -> float:
        """Host latency of one file: median of LATENCY_RUNS batch-1 runs, 1 thread, warm-up excluded."""
        from edgekit.export.gate import latency_ms
        from edgekit.runtime.source import runner_for_file

        with runner_for_file(path, 1, self.spec) as runner:
            self.latency[path.name] = latency_ms(runner, self.calibration.calib.tensors, LATENCY_RUNS)
        return self.latency[path.name]

    def gate_file(self, path: Path) -> dict:
        """Gate a file of the artifact; its result goes into the manifest."""
        self.results[path.name] = self.gate_trial(path)
        return self.results[path.name]

    def gate_trial(self, path: Path) -> dict:
        """Gate any file (a trial outside the artifact too), recording nothing."""
        from edgekit.runtime.source import runner_for_file

        with runner_for_file(path, self.threads, self.spec) as runner:
            return self.gate.check(runner)

    def trial_delta(self, path: Path) -> float:
        """The gate's delta of a trial file; inf when its runtime cannot run it."""
        try:
            return self.gate_trial(path)["delta"]
        except ModelFileError:
            return math.inf

    def percentiles(self) -> tuple[float, ...]:
        """The recalibration percentiles, less the target's own calibration."""
        own = self.int8.percentile if self.int8.method == "percentile" else None
        return tuple(p for p in self.int8.recalibrate if p != own)


# ----------------------------------------------------------------------------- stages


def stage_onnx(ex: Export) -> None:
    from edgekit.export.gate import parity, require_parity
    from edgekit.export.onnx import export_onnx, torch_outputs
    from edgekit.runtime.source import runner_for_file

    section = ex.target.onnx
    path = export_onnx(ex.model, ex.folder / "model.onnx", section)
    faces, matrices = ex.parity_faces()
    with runner_for_file(path, ex.threads, ex.spec) as runner:
        ex.reference = runner.infer(faces)
    result = {**parity(torch_outputs(ex.model, faces), ex.reference, ex.spec, matrices), "against": "torch"}
    ex.log(f"onnx: {path.name} opset {section.opset}, parity vs torch {_parity_text(result)}")
    require_parity(result, section.parity_max_px, section.parity_max_deg, path, "torch")
    ex.add(path, "onnx", precision="fp32", layout=ex.spec.preprocess.layout)
    ex.check("onnx", {"opset": section.opset, "dynamic_batch": section.dynamic_batch, "simplify": section.simplify,
                      "exporter": "torch.onnx legacy (dynamo=False)", "spec_in": "onnx metadata_props"})
    ex.check("parity", {path.name: result})


def stage_int8(ex: Export) -> None:
    from edgekit.export.calibrate import QdqQuantizer

    if ex.target.int8 is None or ex.target.runtime == "tflite":  # TFLite INT8 is made in its own stage
        return
    activations = "QInt8" if ex.target.runtime == "tensorrt" else "QUInt8"  # TensorRT needs zero point 0
    quantizer = QdqQuantizer(ex.folder / "model.onnx", ex.spec, ex.int8, ex.work / "qdq", activations)
    path = quantizer.quantize(ex.folder / "model.int8.onnx", ex.calibration.calib.tensors)
    ex.quantizer = quantizer
    ex.add(path, "onnx", precision="int8", layout=ex.spec.preprocess.layout, notes="QDQ")
    record = {**ex.calibration.record(), **quantizer.record(len(ex.calibration.calib))}
    ex.check("calibration", record)
    ex.log(f"int8: {path.name} ({record['method']}, {record['activations']} activations, "
           f"{record['images']} images{', ' + record['note'] if 'note' in record else ''})")


def stage_gate(ex: Export) -> None:
    """Baseline FP32, gate the INT8 ONNX, sensitivity fallback when over budget, latency of each ONNX file."""
    from edgekit.export.gate import Gate
    from edgekit.runtime.source import runner_for_file

    ex.measure(ex.folder / "model.onnx")
    if ex.target.int8 is None:
        return
    int8, holdout = ex.int8, ex.calibration.holdout
    ex.gate = Gate(ex.spec, int8, ex.eval_dir, holdout.paths, holdout.boxes)
    with runner_for_file(ex.folder / "model.onnx", ex.threads, ex.spec) as runner:
        baseline = ex.gate.set_baseline(runner)
    ex.results["model.onnx"] = {"metric": ex.gate.metric, "value": baseline, "delta": 0.0,
                                "budget": ex.gate.budget, "passed": True, "label_free": ex.gate.label_free}
    qdq = ex.folder / "model.int8.onnx"
    if qdq.is_file():
        result = ex.gate_file(qdq)
        ex.measure(qdq)
        ex.log(f"gate: {qdq.name} {_gate_text(result)}")
        if not result["passed"]:
            _fallback(ex, qdq, result["delta"])
    _record_gate(ex)  # the verdicts so far: the TensorRT stage builds from a QDQ file that passed


def _fallback(ex: Export, qdq: Path, delta: float) -> None:
    """Recalibration, then (if still over budget) layers kept in float, starting from the best calibration."""
    from edgekit.export.sensitivity import fallback

    quantizers = {}

    def write(percentile: float) -> Path:
        quantizers[percentile] = ex.quantizer.with_percentile(percentile)
        return quantizers[percentile].quantize(ex.work / "qdq" / f"int8-p{percentile:g}.onnx",
                                               ex.calibration.calib.tensors)

    ex.log(f"sensitivity: {qdq.name} is over budget")
    best, path = _recalibrate(ex, write, delta, "onnx", ex.spec.preprocess.layout, ex.percentiles())
    if ex.results.get(path.name, {}).get("passed") or not ex.int8.fallback:
        return
    mixed = ex.folder / "model.int8-mixed.onnx"
    ex.log("sensitivity: keeping the most sensitive layers in float")
    record = fallback(_bases(ex, ex.quantizer, quantizers.get(best), best), path, mixed, ex.calibration.calib.tensors,
                      ex.work / "qdq", lambda file: ex.gate_file(file)["delta"], ex.gate.budget,
                      ex.int8.max_float_layers, log=ex.log)
    _add_mixed(ex, mixed, "onnx", ex.spec.preprocess.layout, record, "sensitivity", ex.latency[qdq.name])


def _recalibrate(ex: Export, write: Callable[[float], Path], delta: float, format: str, layout: str,
                 percentiles: tuple[float, ...]) -> tuple[float | None, Path]:
    """Step 0 of the fallback: Percentile ranges; a recalibrated file within budget is shipped as
    ``model.int8-pP.<ext>``. ``write(p)`` writes a file with the spec embedded. Returns (the best percentile or
    None, the best all-INT8 file so far)."""
    from edgekit.export.sensitivity import recalibrate

    suffix = ".tflite" if format == "tflite" else ".onnx"
    start = ex.folder / f"model.int8{suffix}"
    best, path, record = recalibrate(percentiles, write, ex.trial_delta, delta, ex.gate.budget, ex.log)
    ex.check("recalibration" if format == "onnx" else "recalibration_tflite", record)
    if best is None:
        return None, start
    if not record["passed"]:
        return best, path
    shipped = ex.folder / f"model.int8-p{best:g}{suffix}"
    shutil.move(path, shipped)  # from the scratch folder (/tmp): maybe another file system
    _add_quantized(ex, shipped, format, layout, "int8", f"{_calibration_name(ex, best)} (recalibrated: "
                   f"{_calibration_name(ex, None)} was over budget)")
    ex.log(f"recalibration: {shipped.name} within budget")
    return best, shipped


def _bases(ex: Export, own: Any, recalibrated: Any, percentile: float | None) -> list[tuple[str, Any]]:
    """The calibrations the layer fallback may start from: the target's, and the best recalibration if any."""
    bases = [(_calibration_name(ex, None), own)]
    return bases + [(_calibration_name(ex, percentile), recalibrated)] if recalibrated is not None else bases


def _calibration_name(ex: Export, percentile: float | None) -> str:
    if percentile is not None:
        return f"percentile {percentile:g} ranges"
    return f"percentile {ex.int8.percentile:g} ranges" if ex.int8.method == "percentile" else f"{ex.int8.method} ranges"


def _add_quantized(ex: Export, path: Path, format: str, layout: str, precision: str, notes: str) -> float:
    """Gate, time and list a quantized file made by the fallback (a .tflite is also compared with the ONNX FP32
    outputs, like every TFLite file); returns its latency."""
    if format == "tflite":
        from edgekit.export.tflite import file_parity

        faces, matrices = ex.parity_faces()
        result = {**file_parity(path, ex.spec, faces, matrices, ex.reference, ex.threads), "against": "onnx fp32"}
        ex.check("parity", {**ex.manifest.checks.get("parity", {}), path.name: result})
    ex.gate_file(path)
    latency = ex.measure(path)
    ex.add(path, format, precision=precision, layout=layout, notes=notes)
    return latency


def _add_mixed(ex: Export, mixed: Path, format: str, layout: str, record: dict, check: str,
               reference: float | None) -> None:
    """Gate, time and list a fallback file; ``reference``: the all-INT8 file's latency (the cost's baseline)."""
    latency = _add_quantized(ex, mixed, format, layout, "mixed",
                             f"INT8 ({record['calibration']}) with {len(record['float_layers'])} layers in float")
    cost = None if reference is None else latency - reference
    record["latency_cost_ms"] = cost
    ex.check(check, record)
    state = "within budget" if record["passed"] else "STILL OVER BUDGET"
    cost_text = "" if cost is None else f", latency cost {cost:+.3f} ms"
    ex.log(f"sensitivity: {format} {len(record['float_layers'])} layers kept in float, {state}{cost_text}")


def stage_tflite(ex: Export) -> None:
    from edgekit.export.tflite import export_tflite

    section = ex.target.tflite
    if section is None:
        return
    if "int8" in section.precisions and ex.gate is None:
        raise EdgekitError("full-integer TFLite needs the gate: add an int8 section to the target")
    faces, matrices = ex.parity_faces()
    files = export_tflite(ex.model, section, ex.folder, ex.work, ex.calibration.calib.tensors, faces, matrices,
                          ex.reference, ex.threads)
    parities = dict(ex.manifest.checks.get("parity", {}))
    over_budget = False
    for item in files:
        if item.error:
            ex.check("tflite_failed", {**ex.manifest.checks.get("tflite_failed", {}), item.path.name: item.error})
            ex.log(f"tflite: {item.path.name} does not run in LiteRT, not shipped: {item.error}")
            over_budget |= item.precision == "int8"
            continue
        parities[item.path.name] = item.parity
        note = "spec in TFLite metadata" if item.spec_embedded else "spec in the manifest only"
        ex.add(item.path, "tflite", precision=item.precision, layout=section.layout, notes=note)
        ex.measure(item.path)
        text = f"tflite: {item.path.name} parity vs ONNX {_parity_text(item.parity)}"
        if item.precision in ("int8", "dynamic_int8"):
            result = ex.gate_file(item.path)
            text += f", gate {_gate_text(result)}"
            over_budget |= item.precision == "int8" and not result["passed"]
        ex.log(text)
    ex.check("parity", parities)
    if over_budget:
        _tflite_fallback(ex, section, next(item.quantizer for item in files if item.precision == "int8"))


def _tflite_fallback(ex: Export, section, own) -> None:
    """As ``_fallback`` for the full-integer TFLite file (which may not even run: then its delta is inf); ``own``:
    its TfliteInt8Quantizer (the target's calibration, measured once)."""
    from edgekit.backend.tflite.loader import embed_spec
    from edgekit.export.tflite import mixed_int8

    quantizers = {}

    def write(percentile: float) -> Path:
        quantizers[percentile] = own.with_percentile(percentile)
        path = quantizers[percentile].quantize(ex.work / f"int8-p{percentile:g}.tflite")
        embed_spec(path, ex.spec)
        return path

    ex.log("sensitivity: the full-integer TFLite file is over budget or does not run")
    delta = ex.results.get("model.int8.tflite", {}).get("delta", math.inf)
    # new ranges do not make LiteRT run an op it refuses (a DIV whose divisor rounds to its zero point): a file
    # that does not run goes straight to the layer fallback, which keeps such ops in float
    percentiles = ex.percentiles() if math.isfinite(delta) else ()
    best, path = _recalibrate(ex, write, delta, "tflite", section.layout, percentiles)
    if ex.results.get(path.name, {}).get("passed") or not ex.int8.fallback:
        return
    mixed = ex.folder / "model.int8-mixed.tflite"
    ex.log("sensitivity: keeping the layers whose quantization costs most in float")
    try:
        bases = _bases(ex, own, quantizers.get(best), best)
        record = mixed_int8(bases, mixed, ex.spec, lambda file: ex.gate_file(file)["delta"], ex.gate.budget,
                            ex.int8.max_float_layers, ex.log)
    except ModelFileError as exc:
        mixed.unlink(missing_ok=True)
        ex.check("tflite_failed", {**ex.manifest.checks.get("tflite_failed", {}), mixed.name: exc.message})
        ex.log(f"sensitivity: no runnable mixed TFLite file, not shipped: {exc.message}")
        return
    _add_mixed(ex, mixed, "tflite", section.layout, record, "sensitivity_tflite",
               reference=ex.latency.get("model.int8.tflite", ex.latency.get("model.fp32.tflite")))


def stage_tensorrt(ex: Export) -> None:
    """No GPU needed: parser / QDQ checks, the calibration table (INT8, TensorRT < 11), the Jetson bundle."""
    if ex.target.tensorrt is None:
        return
    from edgekit.backend.onnxruntime.loader import load_onnx
    from edgekit.export.tensorrt import check_onnx_for_tensorrt, check_qdq_placement, int8_onnx

    section = ex.target.tensorrt
    record = {"onnx_problems": check_onnx_for_tensorrt(load_onnx(ex.folder / "model.onnx"), section.version)}
    entry = int8_onnx(ex.manifest)
    if entry is not None:
        qdq = ex.folder / entry.path
        record["qdq_problems"] = check_qdq_placement(load_onnx(qdq))
        if ex.target.jetson is None:  # the Jetson bundle writes its own table for nvinfer
            _calibration_table(ex, qdq, record)
    for problem in record["onnx_problems"] + record.get("qdq_problems", []):
        ex.log(f"tensorrt: warning: {problem}")
    ex.check("tensorrt", record)
    if ex.target.jetson is not None:
        from edgekit.export.jetson import write_jetson_bundle

        for path in write_jetson_bundle(ex.folder, ex.manifest, ex.target):
            ex.add(path, _support_format(path), role="support")


def _calibration_table(ex: Export, qdq: Path, record: dict) -> None:
    from edgekit.atomic import atomic_write_text
    from edgekit.backend.onnxruntime.loader import load_onnx
    from edgekit.export.tensorrt import calibration_table_from_qdq

    try:
        table = calibration_table_from_qdq(load_onnx(qdq), ex.target.tensorrt.version)
    except EdgekitError as exc:  # TensorRT 11 has no calibration caches: the QDQ ONNX is the INT8 path
        record["calibration_table"] = f"none ({exc})"
        return
    path = atomic_write_text(ex.folder / "model.int8.calib", table)
    ex.add(path, "calib_table", precision="int8", role="support", notes="from the QDQ scales")
    record["calibration_table"] = path.name


def _support_format(path: Path) -> str:
    return {".sh": "script", ".table": "calib_table", ".onnx": "onnx"}.get(path.suffix, "config")


STAGES = (stage_onnx, stage_int8, stage_gate, stage_tflite, stage_tensorrt)


# ----------------------------------------------------------------------------- selection and the chain


def select(ex: Export) -> str:
    """The file deployed by default: for ``select: int8`` the INT8 file (mixed if the fallback was needed) when it
    passed the gate; for ``fastest_within_budget`` the fastest passing file; FP32 otherwise. Only files of the
    target's runtime format compete (ONNX for onnxruntime / tensorrt, TFLite for tflite)."""
    fmt = "tflite" if ex.target.runtime == "tflite" else "onnx"
    files = [f for f in ex.manifest.models() if f.format == fmt]
    passing = [f for f in files if ex.results.get(Path(f.path).name, {"passed": f.precision in ("fp32", "fp16")})
               ["passed"]]
    if ex.int8.select == "fastest_within_budget":
        return min(passing, key=lambda f: ex.latency.get(f.path, float("inf"))).path
    for precision in ("mixed", "int8", "fp16", "fp32"):
        for entry in passing:
            if entry.precision == precision:
                return entry.path
    return files[0].path


def _record_gate(ex: Export) -> None:
    ex.check("gate", {"metric": ex.gate.metric if ex.gate else None, "label_free": bool(ex.gate and ex.gate.label_free),
                      "files": ex.results})


def _finish(ex: Export) -> None:
    chosen = select(ex)
    files = sorted(ex.manifest.files, key=lambda f: f.path != chosen)  # the default file first
    ex.manifest = dataclasses.replace(ex.manifest, files=tuple(files))
    _record_gate(ex)
    ex.check("latency_ms", {"threads": 1, "runs": LATENCY_RUNS, "statistic": "median, warm-up excluded",
                            "files": ex.latency})
    ex.check("selected", chosen)
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
    with work_dir("export") as work, atomic_dir(out_dir) as folder:
        ex = Export(model, target, folder, work, calibration, None if eval_dir is None else str(eval_dir),
                    threads, log, Manifest(model=model.spec, target=target, provenance=provenance(_label(source))))
        for stage in STAGES:
            stage(ex)
        _finish(ex)
    return out_dir


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


def _parity_text(result: dict) -> str:
    unit = f"{result['max_deg']:.2g} deg" if "max_deg" in result else f"{result['max_px']:.2g} px"
    return f"max |d| {result['max_abs']:.2g}, decoded {unit} ({result['images']} faces)"


def _gate_text(result: dict) -> str:
    unit = "deg" if result["metric"] == "mae" else "%"
    kind = " label-free vs FP32" if result["label_free"] else ""
    verdict = "PASS" if result["passed"] else "FAIL"
    return f"{result['metric']}{kind} {result['value']:.3f}{unit}, delta {result['delta']:+.3f} " \
           f"(budget {result['budget']}) {verdict}"
