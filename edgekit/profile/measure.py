"""Plan and run the profile: every model file x threads x batch, each configuration in its own worker process
(``edgekit.profile.worker``), with static facts (file size, MACs, precision) read once in this process."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from edgekit.errors import EdgekitError, ModelFileError
from edgekit.profile.rawfile import TensorInfo, carries_spec, file_inputs
from edgekit.profile.report import Measurement, latency_stats
from edgekit.runtime.fileinfo import file_precision
from edgekit.profile.worker import RESULT_PREFIX, Job, job_json
from edgekit.backend.formats import by_name, by_suffix, with_companions
from edgekit.runtime.source import is_model_name


@dataclass(frozen=True)
class ModelFile:
    """One file to profile and how the worker opens it."""

    label: str
    source: str  # what the worker opens: artifact folder, file path or registered name
    backend: str
    precision: str
    path: Path | None = None  # the file itself (None for a registered name)
    choice: str | None = None  # its manifest path when ``source`` is an artifact folder
    peer: str | None = None
    artifact: Path | None = None  # the artifact folder it belongs to
    macs_from: Path | None = None  # the graph MACs are counted on (itself, or the ONNX sibling of an engine)
    inputs: tuple[TensorInfo, ...] = ()  # a file without edgekit's spec (``raw``): its inputs, from the file

    @property
    def raw(self) -> bool:
        return bool(self.inputs)


@dataclass(frozen=True)
class Settings:
    threads: tuple[int, ...] = (1,)
    batches: tuple[int, ...] = (1,)
    runs: int = 200
    warmup: int = 20
    image: str | None = None
    input: str | None = None  # .npy input for files without edgekit's spec (default: random values)
    timeout_s: float = 600.0


def model_files(source: str) -> list[ModelFile]:
    """The files a SOURCE stands for: every model file of an artifact folder, else the one file or name."""
    path = Path(source)
    if path.is_dir():
        return _artifact_files(path)
    if is_model_name(source):
        return [ModelFile(source, source, "torch", "fp32")]
    if not path.is_file():
        raise ModelFileError("file not found", path)
    found = by_suffix(path)
    if found is None:
        raise ModelFileError(f"cannot profile '{path.suffix}' files", path)
    inputs = tuple(file_inputs(path)) if _without_spec(path) else ()
    return [ModelFile(path.name, str(path), found.backend, file_precision(path), path, macs_from=_countable(path),
                      inputs=inputs)]


def _without_spec(path: Path) -> bool:
    """An .onnx / .tflite with no edgekit spec inside nor in a manifest beside it (exported by another tool)."""
    from edgekit.runtime.source import spec_beside

    return path.suffix.lower() in (".onnx", ".tflite") and not carries_spec(path) and spec_beside(path) is None


def _countable(path: Path) -> Path | None:
    """``path`` when its format has a MACs counter (ONNX, TFLite), else None."""
    found = by_suffix(path)
    return path if found is not None and found.macs is not None else None


def _artifact_files(folder: Path) -> list[ModelFile]:
    from edgekit.artifact import read_manifest, resolve_inside

    manifest = read_manifest(folder)
    onnx = [resolve_inside(folder, m.path) for m in manifest.models() if m.format == "onnx"]
    files = []
    for entry in manifest.models():
        path = resolve_inside(folder, entry.path)
        found = by_suffix(path) or by_name(entry.format)
        backend = found.backend if found is not None else entry.format
        macs_from = _countable(path) or (onnx[0] if onnx else None)
        files.append(ModelFile(f"{folder.name}/{entry.path}", str(folder), backend, entry.precision, path,
                               choice=entry.path, artifact=folder, macs_from=macs_from))
    return files


def peer_file(name: str, cache_dir: Path | None = None) -> ModelFile:
    from edgekit.profile.peers import get_peer

    peer = get_peer(name)
    path = peer.fetch(cache_dir)
    return ModelFile(peer.name, str(path), "tflite", file_precision(path), path, peer=name, macs_from=path)


# ----------------------------------------------------------------------------- running


def skip_reason(file: ModelFile, batch: int) -> str | None:
    """Why a configuration is listed but not measured, or None."""
    if file.backend == "tflite" and batch > 1:
        return "TFLite files run at batch 1 only"
    fixed = {info.shape[0] for info in file.inputs if info.shape and info.shape[0] is not None} - {batch}
    if fixed:
        return f"the file has a fixed batch of {min(fixed)}"
    if file.backend == "tensorrt":
        import importlib.util

        if importlib.util.find_spec("tensorrt") is None:
            return "TensorRT is not installed on this host"
    return None


def configurations(files: Iterable[ModelFile], settings: Settings) -> list[tuple[ModelFile, int | None, int]]:
    """(file, threads, batch) in table order; TensorRT ignores threads (one row per batch)."""
    plan = []
    for file in files:
        threads = (None,) if file.backend == "tensorrt" else settings.threads
        plan += [(file, t, b) for t in threads for b in settings.batches]
    return plan


def run_worker(job: Job, timeout_s: float) -> dict:
    """Run one Job in a fresh interpreter; its result dict (EdgekitError for a user error it reported)."""
    from edgekit.profile.child import run_child

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "OMP_NUM_THREADS": str(job.threads)}
    result = run_child("edgekit.profile.worker", [job_json(job)], env, RESULT_PREFIX,
                       f"profile worker for {job.source}", timeout_s)
    if "error" in result:
        raise EdgekitError(result["error"])
    return result


def static_facts(file: ModelFile) -> dict:
    from edgekit.profile.flops import count_macs

    size = sum(p.stat().st_size for p in with_companions(file.path) if p.is_file()) / 1e6 if file.path else None
    macs = count_macs(file.macs_from) / 1e6 if file.macs_from else None
    return {"file_mb": size, "mmacs": macs}


def measure_config(file: ModelFile, threads: int | None, batch: int, settings: Settings, facts: dict) -> Measurement:
    row = dict(name=file.label, backend=file.backend, precision=file.precision, threads=threads, batch=batch, **facts)
    reason = skip_reason(file, batch)
    if reason:
        return Measurement(**row, note=reason)
    job = Job(file.source, threads or 1, batch, settings.runs, settings.warmup, file.choice, file.peer,
              settings.image, raw=file.raw, input=settings.input if file.raw else None)
    result = run_worker(job, settings.timeout_s)
    samples = tuple(result["samples_ms"])
    chunk = result.get("max_batch")
    note = f"the file has a fixed batch of {chunk}: run in chunks" if chunk and chunk < batch else ""
    if file.raw:  # what was timed: the model call alone
        note = f"no edgekit spec: model call on {Path(settings.input).name if settings.input else 'random input'}"
    return Measurement(**row, **latency_stats(samples, batch), peak_rss_mb=result["peak_rss_mb"],
                       preprocess_ms=result["preprocess_ms"], decode_ms=result["decode_ms"], runs=len(samples),
                       note=note, samples_ms=samples)


def profile_files(files: list[ModelFile], settings: Settings, progress: bool = True) -> list[Measurement]:
    """Measure every configuration, one worker process each, with a progress bar over configurations (unless
    ``progress`` is False; ``edgekit.progress`` decides when it shows)."""
    from edgekit.progress import progress as bar

    facts = {file: static_facts(file) for file in files}
    plan = configurations(files, settings)
    shown = bar(plan, "profile", total=len(plan), unit="config") if progress else plan
    return [measure_config(file, threads, batch, settings, facts[file]) for file, threads, batch in shown]
