"""trtexec's timing summary -> a Measurement row (the Jetson / GPU side of the same table).

Parsed lines (TensorRT 8.5 - 10.x trtexec; each may carry a ``[date-time] [I]`` prefix):
    &&&& RUNNING TensorRT.trtexec [TensorRT v100300] # trtexec --loadEngine=m.engine --shapes=input:8x3x112x112
    Throughput: 1523.45 qps
    Latency: min = 0.62 ms, max = 1.53 ms, mean = 0.65 ms, median = 0.64 ms, percentile(90%) = 0.67 ms, ...
    GPU Compute Time: min = ..., median = ... (kept as a note)
qps counts inferences (one batch each): images/s = qps x batch, batch from ``--shapes`` (explicit batch), else
``--batch=N`` (implicit batch, trtexec of TensorRT 8), else 1.
"""
from __future__ import annotations

import re
from pathlib import Path

from edgekit.errors import DataError
from edgekit.profile.report import Measurement

_PREFIX = re.compile(r"^(\[[^\]]*\]\s*)*")  # "[08/21/2024-10:00:00] [I] "
_STAT = re.compile(r"(min|max|mean|median|percentile\((\d+(?:\.\d+)?)%\))\s*=\s*([\d.eE+-]+)\s*ms")


def _body(line: str) -> str:
    return _PREFIX.sub("", line.strip())


def parse_stats(text: str) -> dict[str, float]:
    """'min = 0.6 ms, ..., percentile(99%) = 0.8 ms' -> {'min': 0.6, ..., 'p99': 0.8} (ms)."""
    stats = {}
    for name, percent, value in _STAT.findall(text):
        key = f"p{float(percent):g}" if percent else name
        stats[key] = float(value)
    return stats


def parse_trtexec(text: str, source: str = "trtexec log") -> dict:
    """{'latency': {...ms}, 'gpu_compute': {...ms}, 'qps', 'batch', 'engine', 'trt_version', 'precision'}."""
    result: dict = {"batch": 1, "engine": None, "trt_version": None, "precision": "unknown", "gpu_compute": {}}
    for raw in text.splitlines():
        line = _body(raw)
        if "TensorRT.trtexec" in line:
            _parse_command(line, result)
        elif line.startswith("Throughput:"):
            result["qps"] = float(line.split(":", 1)[1].split()[0])
        elif line.startswith("Latency:"):
            result["latency"] = parse_stats(line)
        elif line.startswith("GPU Compute Time:"):
            result["gpu_compute"] = parse_stats(line)
    if "latency" not in result or "median" not in result["latency"]:
        raise DataError("no 'Latency: ... median = X ms' line: not a trtexec timing log", source)
    return result


def _parse_command(line: str, result: dict) -> None:
    version = re.search(r"\[TensorRT v(\d+)\]", line)
    if version:  # NV_TENSORRT_VERSION: 8601 = 8.6.1 (major x 1000), 100300 = 10.3.0 (major x 10000 from 10)
        number = int(version.group(1))
        major, rest = divmod(number, 10000 if number >= 100000 else 1000)
        result["trt_version"] = f"{major}.{rest // 100}.{rest % 100}"
    model = re.search(r"--(?:loadEngine|onnx)=(\S+)", line)
    if model:
        result["engine"] = Path(model.group(1)).name
    shapes = re.search(r"--shapes=\S*?:(\d+)x", line)
    implicit = re.search(r"--batch=(\d+)", line)
    if shapes or implicit:
        result["batch"] = int((shapes or implicit).group(1))
    for flag in ("int8", "fp16", "best"):
        if f"--{flag}" in line:
            result["precision"] = flag
            break


def trtexec_measurement(path: str | Path) -> Measurement:
    """A table row from a trtexec log file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise DataError(f"cannot read trtexec log ({exc.strerror})", path) from None
    parsed = parse_trtexec(text, str(path))
    latency, batch = parsed["latency"], parsed["batch"]
    qps = parsed.get("qps")
    gpu = parsed["gpu_compute"].get("median")
    note = f"TensorRT {parsed['trt_version'] or '?'}" + (f", GPU compute median {gpu:g} ms" if gpu else "")
    return Measurement(name=parsed["engine"] or path.name, backend="tensorrt", precision=parsed["precision"],
                       threads=None, batch=batch, where="trtexec", p50_ms=latency["median"],
                       p90_ms=latency.get("p90"), p99_ms=latency.get("p99"), mean_ms=latency.get("mean"),
                       images_per_s=qps * batch if qps else None, note=note)
