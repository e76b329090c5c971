"""The one converter from a format-1 manifest (``checks`` a free mapping of string keys, edgekit up to 2026-11)
to format 2 (``edgekit.checks.Checks``); ``serial.from_dict`` then checks every field as usual. The target's
``int8.select`` became ``select.prefer``: ``int8`` (an INT8 file whenever one passed) -> ``size``,
``fastest_within_budget`` -> ``latency``.

Format 1 check names -> format 2 fields: ``tflite_failed`` -> ``failed``, ``latency_ms`` -> ``latency``,
``tensorrt_engines`` -> ``engines``, ``recalibration[_tflite]`` / ``sensitivity[_tflite]`` -> per-format tables,
``calibration`` -> the data + ONNX Runtime's quantization, ``profile`` -> its context + results."""
from __future__ import annotations

from typing import Any

from edgekit.errors import SpecError

RENAMED = {"onnx": "onnx", "parity": "parity", "gate": "gate", "selected": "selected", "tensorrt": "tensorrt",
           "tflite_failed": "failed", "latency_ms": "latency", "tensorrt_engines": "engines"}
PER_FORMAT = {"recalibration": ("recalibration", "onnx"), "recalibration_tflite": ("recalibration", "tflite"),
              "sensitivity": ("sensitivity", "onnx"), "sensitivity_tflite": ("sensitivity", "tflite")}
CALIBRATION_DATA = ("source", "images", "holdout_images", "sha256", "preprocess")


SELECT = {"int8": "size", "fastest_within_budget": "latency"}


def manifest_from_v1(data: dict) -> dict:
    """The format-2 mapping of a format-1 manifest mapping."""
    out = {**data, "checks": checks_from_v1(data.get("checks", {})), "format": 2}
    target = data.get("target")
    if isinstance(target, dict) and isinstance(target.get("int8"), dict) and "select" in target["int8"]:
        int8 = dict(target["int8"])
        prefer = SELECT.get(int8.pop("select"), "latency")
        out["target"] = {**target, "int8": int8, "select": {"prefer": prefer}}
    return out


def checks_from_v1(checks: Any) -> dict:
    """The format-2 ``checks`` mapping of a format-1 one (SpecError naming the key when a value has the wrong
    kind). Check names format 1 never wrote are dropped: nothing reads them."""
    if not isinstance(checks, dict):
        raise SpecError("manifest.checks: expected a mapping")
    out: dict[str, Any] = {}
    for name, value in checks.items():
        if name in RENAMED:
            out[RENAMED[name]] = value
        elif name in PER_FORMAT:
            field, fmt = PER_FORMAT[name]
            out.setdefault(field, {})[fmt] = value
        elif name == "calibration":
            out["calibration"] = _calibration(_mapping(value, name))
        elif name == "profile":
            profile = _mapping(value, name)
            out["profile"] = {"context": {k: v for k, v in profile.items() if k != "results"},
                              "results": profile.get("results", [])}
    if isinstance(out.get("latency"), dict):
        out["latency"] = {k: v for k, v in out["latency"].items() if k in ("files", "threads", "runs", "statistic")}
    return out


def _calibration(record: dict) -> dict:
    data = {key: record[key] for key in CALIBRATION_DATA if key in record}
    quantized = {key: value for key, value in record.items() if key not in CALIBRATION_DATA}
    out: dict[str, Any] = {"data": data}
    if "method" in quantized:
        out["quantization"] = {"onnx": {"tool": "onnxruntime", "images": record.get("images", 0), **quantized}}
    return out


def _mapping(value: Any, name: str) -> dict:
    if not isinstance(value, dict):
        raise SpecError(f"manifest.checks.{name}: expected a mapping, got {type(value).__name__}")
    return value
