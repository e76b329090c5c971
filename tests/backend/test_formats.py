"""The FORMATS table: every suffix belongs to one format, lookups by suffix / runtime, and which export stages a
target asks for."""
from __future__ import annotations

import dataclasses

from edgekit.backend.formats import FORMATS, Format, all_suffixes, by_suffix, export_stages, for_runtime, load
from edgekit.specs import Int8Section, OnnxSection, Target, TensorrtSection, TfliteSection


def test_every_suffix_names_one_format_and_every_job_imports():
    assert len(all_suffixes()) == len(set(all_suffixes()))
    assert by_suffix("a/M.TFLITE").name == "tflite" and by_suffix("x.plan").name == "engine"
    assert by_suffix("x.txt") is None
    for fmt in FORMATS:
        for job in (fmt.runner, fmt.export, fmt.macs, fmt.device_profiler):
            assert job is None or callable(load(job))


def test_the_runtime_decides_the_deployed_format():
    assert for_runtime("onnxruntime").name == for_runtime("tensorrt").name == "onnx"
    assert for_runtime("tflite").name == "tflite"


def test_export_stages_follow_the_targets_sections():
    cpu = Target(name="cpu", runtime="onnxruntime", onnx=OnnxSection(), int8=Int8Section())
    assert [f.name for f in export_stages(cpu)] == ["onnx"]
    phone = dataclasses.replace(cpu, runtime="tflite", tflite=TfliteSection())
    assert [f.name for f in export_stages(phone)] == ["onnx", "tflite"]
    gpu = dataclasses.replace(cpu, runtime="tensorrt", tensorrt=TensorrtSection())
    assert [f.name for f in export_stages(gpu)] == ["onnx", "engine"]
    only_its_runtime = Format("x", "x", (".x",), "edgekit.backend.torch.runner:TorchRunner", runtimes=("x",),
                              export="edgekit.backend.tensorrt.stage:export_stage", only_for_runtime=True)
    assert not only_its_runtime.wanted_by(cpu)
