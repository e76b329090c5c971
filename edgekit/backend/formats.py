"""The one table of model-file formats: which suffixes, which target runtime, and where each job on that format
lives (runner, export stage, MACs counter, on-device profiler). ``runtime.source``, ``profile`` and the export
loop look formats up here instead of branching on suffixes or runtimes.

Jobs are named ``"module:attribute"`` and imported on use, so this table costs no heavy import. A new backend is a
folder ``edgekit/backend/<name>/`` plus one row here (and, for export, a section in ``specs.Target``).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit.errors import ModelFileError


@dataclass(frozen=True)
class Format:
    name: str  # the manifest's ``format`` of its files
    backend: str  # the runtime that runs it (profile's backend column)
    suffixes: tuple[str, ...]
    runner: str  # "module:Class": Runner(path, threads, spec=spec)
    runtimes: tuple[str, ...] = ()  # target runtimes whose default file is of this format
    section: str | None = None  # the Target attribute whose presence asks for its export stage (None: always)
    only_for_runtime: bool = False  # export it only when the target's runtime is one of ``runtimes``
    export: str | None = None  # "module:function(ex)": the export stage writing its files into the artifact
    macs: str | None = None  # "module:function(path) -> int": multiply-accumulates per image
    device_profiler: str | None = None  # "module:function": timing on a device (adb, trtexec), for the docs
    host: bool = True  # runs on any host (an engine needs its GPU and TensorRT)
    spec_inside: bool = True  # the file can carry its ModelSpec (an engine cannot)
    spec_from_caller: bool = True  # its runner takes the manifest's spec (torch files hold their own)
    companions: tuple[str, ...] = ()  # suffixes of the files beside a model file that belong to it (.bin)

    def runner_for(self, path: Path, threads: int | None, spec: Any) -> Any:
        """The backend's Runner for ``path`` (not opened yet)."""
        if not self.spec_inside and spec is None:
            raise ModelFileError(f"a {self.name} file carries no edgekit spec: open it through its artifact folder "
                                 "(edgekit.json beside it)", path)
        runner = load(self.runner)
        return runner(str(path), threads, spec=spec) if self.spec_from_caller else runner(str(path), threads)

    def wanted_by(self, target: Any) -> bool:
        """Whether ``target`` (specs.Target) asks for this format's export stage."""
        if self.export is None or (self.only_for_runtime and target.runtime not in self.runtimes):
            return False
        return self.section is None or getattr(target, self.section, None) is not None


FORMATS: tuple[Format, ...] = (
    Format("onnx", "onnxruntime", (".onnx",), "edgekit.backend.onnxruntime.runner:OnnxRuntimeRunner",
           runtimes=("onnxruntime", "tensorrt"), export="edgekit.backend.onnxruntime.export:export_stage",
           macs="edgekit.profile.flops:onnx_macs"),
    Format("tflite", "tflite", (".tflite",), "edgekit.backend.tflite.runner:TFLiteRunner", runtimes=("tflite",),
           section="tflite", export="edgekit.backend.tflite.convert:export_stage",
           macs="edgekit.profile.flops:tflite_macs", device_profiler="edgekit.backend.tflite.adb:adb_measurements"),
    Format("openvino", "openvino", (".xml",), "edgekit.backend.openvino.runner:OpenVinoRunner",
           runtimes=("openvino",), only_for_runtime=True, export="edgekit.backend.openvino.export:export_stage",
           macs="edgekit.backend.openvino.macs:ir_macs", companions=(".bin",)),
    Format("engine", "tensorrt", (".engine", ".plan"), "edgekit.backend.tensorrt.runner:TensorRTRunner",
           section="tensorrt", export="edgekit.backend.tensorrt.stage:export_stage",
           device_profiler="edgekit.backend.tensorrt.trtexec_log:trtexec_measurement", host=False,
           spec_inside=False),
    Format("torch", "torch", (".safetensors", ".pt", ".pth"), "edgekit.backend.torch.runner:TorchRunner",
           spec_from_caller=False),
)


def load(reference: str) -> Any:
    """The object named ``"module:attribute"``."""
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


def by_suffix(path: str | Path) -> Format | None:
    suffix = Path(path).suffix.lower()
    return next((f for f in FORMATS if suffix in f.suffixes), None)


def with_companions(path: Path) -> list[Path]:
    """``path`` and the files that belong to it: the same stem with its format's companion suffixes (an OpenVINO
    .xml and its .bin), moved, listed and removed together."""
    found = by_suffix(path)
    return [path, *(path.with_suffix(suffix) for suffix in (found.companions if found else ()))]


def by_name(name: str) -> Format | None:
    return next((f for f in FORMATS if f.name == name), None)


def for_runtime(runtime: str) -> Format:
    """The format whose files a target runtime deploys (onnxruntime and tensorrt: ONNX, the engine being built on
    the device)."""
    return next(f for f in FORMATS if runtime in f.runtimes)


def all_suffixes() -> tuple[str, ...]:
    return tuple(s for f in FORMATS for s in f.suffixes)


def export_stages(target: Any) -> list[Format]:
    """The formats ``target`` asks for, in table order (ONNX, the hub every other format starts from, first)."""
    return [f for f in FORMATS if f.wanted_by(target)]
