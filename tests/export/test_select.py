"""The default file of an artifact: the fastest file within the accuracy budget on the target's runtime (an INT8
file slower than FP32 is never chosen), or the smallest when the target says size matters."""
from __future__ import annotations

import pytest

from edgekit.artifact import ArtifactFile, Manifest
from edgekit.checks import Gate, GateResult, Latency
from edgekit.errors import SpecError
from edgekit.export.pipeline import select
from edgekit.serial import from_dict
from edgekit.specs import HeadSpec, ModelSpec, PreprocessSpec, SelectSection, Target, TfliteSection

SPEC = ModelSpec("toy", "pose", PreprocessSpec((8, 8)), HeadSpec("pose_regression", ("pose",)))


def _manifest(latency: dict[str, float], passed: dict[str, bool]) -> Manifest:
    sizes = {"model.onnx": 900, "model.int8-mixed.onnx": 300, "model.int8.onnx": 250, "model.fp32.tflite": 950}
    files = tuple(ArtifactFile(path, "0", sizes[path], "tflite" if path.endswith(".tflite") else "onnx",
                               precision="fp32" if "int8" not in path else ("mixed" if "mixed" in path else "int8"))
                  for path in latency)
    gate = Gate("mae", False, {name: GateResult("mae", 4.6, 0.0 if ok else 0.5, 0.2, ok, False)
                               for name, ok in passed.items()})
    return Manifest(model=SPEC, files=files).with_checks(gate=gate, latency=Latency(latency))


FSANET_CPU = {"model.onnx": 0.95, "model.int8-mixed.onnx": 1.44, "model.int8.onnx": 1.30}  # ms, the case
VERDICTS = {"model.onnx": True, "model.int8-mixed.onnx": True, "model.int8.onnx": False}


def test_an_int8_file_slower_than_fp32_is_not_the_default():
    cpu = Target(name="cpu", runtime="onnxruntime")
    assert select(_manifest(FSANET_CPU, VERDICTS), cpu) == "model.onnx"
    faster = {**FSANET_CPU, "model.int8-mixed.onnx": 0.61}
    assert select(_manifest(faster, VERDICTS), cpu) == "model.int8-mixed.onnx"


def test_size_preference_takes_the_smallest_file_within_budget():
    small = Target(name="cpu", runtime="onnxruntime", select=SelectSection(prefer="size"))
    assert select(_manifest(FSANET_CPU, VERDICTS), small) == "model.int8-mixed.onnx"  # int8 failed the gate


def test_only_the_runtimes_format_competes():
    phone = Target(name="phone", runtime="tflite", tflite=TfliteSection())
    latency = {"model.onnx": 0.2, "model.fp32.tflite": 0.9}
    assert select(_manifest(latency, {"model.onnx": True}), phone) == "model.fp32.tflite"


def test_the_preference_is_validated():
    with pytest.raises(SpecError, match="select.prefer: 'speed' is not one of 'latency', 'size'"):
        from_dict(Target, {"name": "t", "runtime": "onnxruntime", "select": {"prefer": "speed"}})
