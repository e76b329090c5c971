"""What an export, a build and a profile found, as frozen records: the typed ``checks`` of a manifest.

Per-file tables are keyed by the file's path in the artifact; per-format records (quantization, recalibration,
sensitivity) by the manifest format (``onnx``, ``tflite``, ...). Numbers that can be infinite (a file that does not
run) are stored as None: JSON has no infinity. ``summarize`` is the one per-file view every report prints.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Parity:
    """Raw and decoded difference of a file's outputs from a reference on real faces."""

    against: str  # torch | onnx fp32
    images: int
    max_abs: float
    rel_l2: float
    max_px: float | None = None  # landmarks: max Euclidean difference, image pixels
    max_deg: float | None = None  # pose: max difference per angle, degrees

    def text(self) -> str:
        return f"{self.max_deg:.3g} deg" if self.max_deg is not None else f"{self.max_px:.3g} px"


@dataclass(frozen=True)
class GateResult:
    """One file's task metric on the gate's faces and its delta from the FP32 file."""

    metric: str  # nme (%) | mae (deg)
    value: float
    delta: float
    budget: float
    passed: bool
    label_free: bool
    images: int = 0
    labels: str = ""  # where the labels came from (empty when label-free)
    vs_fp32: float | None = None  # the label-free deviation from FP32, kept for the record

    @property
    def unit(self) -> str:
        return "deg" if self.metric == "mae" else "%"

    def text(self) -> str:
        kind = " label-free vs FP32" if self.label_free else ""
        return f"{self.metric}{kind} {self.value:.3f}{self.unit}, delta {self.delta:+.3f} (budget {self.budget}) " \
               f"{'PASS' if self.passed else 'FAIL'}"


@dataclass(frozen=True)
class Gate:
    metric: str | None = None
    label_free: bool = False
    files: dict[str, GateResult] = field(default_factory=dict)


@dataclass(frozen=True)
class CalibrationData:
    """The real faces every quantizer calibrates on."""

    source: str
    images: int
    holdout_images: int
    sha256: str
    preprocess: str = "edgekit.runtime.preprocess (the artifact's spec)"


@dataclass(frozen=True)
class Quantization:
    """How one format's INT8 file was calibrated and stored."""

    tool: str  # onnxruntime | ai-edge-quantizer | ...
    method: str  # minmax | entropy | percentile
    percentile: float | None
    per_channel: bool
    activations: str  # QUInt8 | QInt8 | int8
    weights: str = "QInt8"
    format: str = "QDQ"
    bias: str = "int32"
    images: int = 0
    note: str = ""


@dataclass(frozen=True)
class Calibration:
    data: CalibrationData
    quantization: dict[str, Quantization] = field(default_factory=dict)  # format -> how


@dataclass(frozen=True)
class Recalibration:
    """Step 0 of the INT8 search: Percentile ranges tried when the target's calibration was over budget."""

    tried: dict[str, float | None]  # percentile -> delta (None: the file did not run)
    chosen: float | None
    delta: float | None
    passed: bool
    method: str = "percentile"


@dataclass(frozen=True)
class Sensitivity:
    """The layer fallback: which layers stay in float, and what each trial measured."""

    calibration: str  # the calibration the search started from
    candidates: int
    float_layers: tuple[str, ...]
    delta: float | None
    passed: bool
    sqnr_drop_db: dict[str, float | None] = field(default_factory=dict)
    single_node_delta: dict[str, float | None] = field(default_factory=dict)
    unweighted_in_float: bool = False
    float_op_types: tuple[str, ...] = ()  # op types the runtime could not run in integer
    latency_cost_ms: float | None = None  # vs the all-INT8 file


@dataclass(frozen=True)
class Latency:
    files: dict[str, float] = field(default_factory=dict)  # path -> ms
    threads: int = 1
    runs: int = 50
    statistic: str = "median, warm-up excluded"


@dataclass(frozen=True)
class OnnxExport:
    opset: int
    dynamic_batch: bool
    simplify: str
    exporter: str = "torch.onnx legacy (dynamo=False)"
    spec_in: str = "onnx metadata_props"


@dataclass(frozen=True)
class TensorrtPrep:
    """What the export checked for TensorRT without a GPU."""

    onnx_problems: tuple[str, ...] = ()
    qdq_problems: tuple[str, ...] = ()
    calibration_table: str = ""  # file name, or why there is none


@dataclass(frozen=True)
class EngineBuild:
    """One engine built by ``edgekit build`` (also written as ``<engine>.json`` beside it)."""

    engine: str
    size: int
    sha256: str
    trt_version: str
    gpu: str
    compute_capability: str
    build_seconds: float
    onnx_sha256: str = ""
    generation: int = 0
    precision: str = ""
    strongly_typed: bool = False
    builder_flags: tuple[str, ...] = ()
    dla_core: int | None = None
    version_compatible: bool = False
    inputs: dict[str, Any] = field(default_factory=dict)  # name -> {min, opt, max} shapes
    outputs: tuple[str, ...] = ()
    timing_cache: str | None = None
    spec: dict[str, Any] | None = None


@dataclass(frozen=True)
class Profile:
    """``edgekit profile --record``: the host rows of this artifact's files."""

    context: dict[str, Any] = field(default_factory=dict)  # tool, runs, warmup, host, versions
    results: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Checks:
    onnx: OnnxExport | None = None
    parity: dict[str, Parity] = field(default_factory=dict)
    calibration: Calibration | None = None
    gate: Gate = field(default_factory=Gate)
    recalibration: dict[str, Recalibration] = field(default_factory=dict)  # format -> record
    sensitivity: dict[str, Sensitivity] = field(default_factory=dict)  # format -> record
    latency: Latency = field(default_factory=Latency)
    failed: dict[str, str] = field(default_factory=dict)  # quantized file not shipped -> why
    tensorrt: TensorrtPrep | None = None
    engines: dict[str, EngineBuild] = field(default_factory=dict)
    profile: Profile | None = None
    selected: str = ""  # the default file's path


# ----------------------------------------------------------------------------- one summary


@dataclass(frozen=True)
class FileSummary:
    """One model file of an artifact as every report shows it."""

    path: str
    format: str
    precision: str
    size: int
    parity: Parity | None
    gate: GateResult | None
    latency_ms: float | None
    selected: bool


def summarize(manifest: Any) -> list[FileSummary]:
    """The model files of ``manifest`` (artifact.Manifest) with what the export measured of each."""
    checks: Checks = manifest.checks
    return [FileSummary(entry.path, entry.format, entry.precision, entry.size, checks.parity.get(entry.path),
                        checks.gate.files.get(entry.path), checks.latency.files.get(entry.path),
                        entry.path == checks.selected) for entry in manifest.models()]


def number(value: float) -> float | None:
    """JSON-safe: None for an infinite or NaN value (a file that did not run)."""
    return float(value) if math.isfinite(value) else None


def file_key(path: str | Path) -> str:
    """The key of a file in the per-file tables: its name (artifact files lie at the top of the folder)."""
    return Path(path).name
