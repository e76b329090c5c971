"""TensorRTRunner: a serialized engine (``.engine`` / ``.plan``) on this GPU, any of the three API generations.

Before deserializing, the engine is checked against what it was built for, from ``<engine>.json`` (written by
``loader.build_engine``) or the artifact manifest's ``tensorrt_engines`` check: size and sha256 (a truncated or changed
file), TensorRT version and compute capability (engines do not move across versions or GPUs). Buffers live in
torch CUDA tensors (``data_ptr``) or, without torch, cuda-python allocations; never pycuda.
Nothing here has run against a real TensorRT on the project's machines (it cannot be installed there).
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from edgekit.backend.base import Runner, check_input_shape, to_layout
from edgekit.backend.signature import FLOAT_TYPES, check_dtype, check_outputs
from edgekit.backend.tensorrt import api
from edgekit.backend.tensorrt.loader import GpuInfo, import_tensorrt, probe_cuda, sidecar_path
from edgekit.errors import ModelFileError, SpecError
from edgekit.specs import ModelSpec

log = logging.getLogger(__name__)


def read_engine_metadata(engine_path: str | Path) -> dict | None:
    """``<engine>.json``, else the manifest beside the engine (``checks.engines[<file name>]``), else None."""
    engine_path = Path(engine_path)
    side = sidecar_path(engine_path)
    from edgekit.artifact import MANIFEST, read_manifest

    if (engine_path.parent / MANIFEST).is_file() and not side.is_file():
        from edgekit import serial

        build = read_manifest(engine_path.parent, verify=False).checks.engines.get(engine_path.name)
        return None if build is None else serial.to_dict(build)
    if not side.is_file():
        return None
    from edgekit.serial import read_text

    try:
        meta = json.loads(read_text(side, 1 << 20))  # a build record is ~2 KB
    except SpecError as exc:  # unreadable, over 1 MB, not UTF-8
        raise ModelFileError(f"engine metadata unreadable ({exc.message})", side) from None
    except (ValueError, RecursionError) as exc:  # not JSON, too deep
        raise ModelFileError(f"engine metadata unreadable ({type(exc).__name__})", side) from None
    if not isinstance(meta, dict):
        raise ModelFileError(f"engine metadata is a JSON {type(meta).__name__}, not a mapping", side)
    return meta


def verify_engine_bytes(data: bytes, meta: dict | None) -> list[str]:
    """Problems visible without TensorRT: empty, truncated or changed since the build."""
    if not data:
        return ["the engine file is empty"]
    if meta is None:
        return []
    if "size" in meta and len(data) != meta["size"]:
        return [f"the engine has {len(data)} bytes but was built with {meta['size']} (truncated or replaced)"]
    if "sha256" in meta and hashlib.sha256(data).hexdigest() != meta["sha256"]:
        return ["the engine's sha256 differs from its build record (file changed or corrupt)"]
    return []


def compatibility_problems(meta: dict | None, trt_version: str, gpu: GpuInfo) -> list[str]:
    """Why an engine built as ``meta`` cannot run with TensorRT ``trt_version`` on ``gpu`` (empty: it can).
    Exact version (major.minor.patch) unless built version-compatible (then any later version); same compute
    capability. A different GPU name with the same compute capability only logs a warning."""
    if meta is None:
        return []
    problems = []
    built = str(meta.get("trt_version", ""))
    if built:
        here, there = api.parse_version(trt_version)[:3], api.parse_version(built)[:3]
        ok = here >= there if meta.get("version_compatible") else here == there
        if not ok:
            problems.append(f"built with TensorRT {built}, this machine has {trt_version}")
    built_cc = str(meta.get("compute_capability", ""))
    if built_cc and built_cc != gpu.compute_capability:
        problems.append(f"built for compute capability {built_cc} ({meta.get('gpu', '?')}), this GPU is "
                        f"{gpu.compute_capability} ({gpu.name})")
    elif meta.get("gpu") and meta["gpu"] != gpu.name:
        log.warning("engine built on %s, running on %s (same architecture; speed may differ)", meta["gpu"], gpu.name)
    return problems


class TensorRTRunner(Runner):
    """``infer`` takes a float32 batch in the spec's layout and returns outputs in ``spec.head.outputs`` order
    (engine order without a spec). ``spec`` defaults to the one recorded at build time, when there is one."""

    backend = "tensorrt"

    def __init__(self, path: str, threads: int | None = None, spec: ModelSpec | None = None):
        super().__init__(path, threads, spec)  # threads: unused, the GPU runs it
        self.engine = self.context = self.device = None

    def _open(self) -> None:
        path = Path(self.path)
        if not path.is_file():
            raise ModelFileError("engine file not found", path)
        data = path.read_bytes()
        meta = read_engine_metadata(path)
        problems = verify_engine_bytes(data, meta)
        if problems:
            raise ModelFileError("; ".join(problems), path)
        trt = import_tensorrt()
        gpu = probe_cuda()
        problems = compatibility_problems(meta, trt.__version__, gpu)
        if problems:
            raise ModelFileError("; ".join(problems) + ": rebuild it on this device with `edgekit build`", path)
        if self._spec is None and meta and meta.get("spec"):
            try:
                self._spec = ModelSpec.from_dict(meta["spec"])
            except SpecError as exc:
                raise ModelFileError(f"invalid spec in the engine's build record ({exc.message})", path) from None
        self._deserialize(trt, data, path, meta)
        if self.max_batch is None and meta:  # dynamic batch: the profile's max from the build record
            profile = meta.get("inputs", {}).get(self.input.name, {})
            self.max_batch = profile.get("max", [None])[0]

    def _deserialize(self, trt: Any, data: bytes, path: Path, meta: dict | None) -> None:
        self._runtime = api.open_runtime(trt, meta)
        try:
            engine = self._runtime.deserialize_cuda_engine(data)
        except Exception as exc:  # some versions raise instead of returning None
            raise ModelFileError(f"TensorRT cannot deserialize it ({type(exc).__name__})", path) from None
        if engine is None:
            raise ModelFileError("TensorRT cannot deserialize it: not an engine, truncated, or built by another "
                                 "TensorRT version / GPU", path)
        self.engine, self.context = engine, engine.create_execution_context()
        self.tensors = api.io_tensors(trt, engine)
        inputs = [t for t in self.tensors if t.is_input]
        if len(inputs) != 1:
            raise ModelFileError(f"expected one input tensor, found {len(inputs)}", path)
        self.input = inputs[0]
        self.layout = check_input_shape(self.input.shape, self._spec, self.path) if self._spec else "NCHW"
        self.max_batch = self.input.shape[0] if self.input.shape[0] > 0 else None
        self.outputs = self._ordered_outputs([t for t in self.tensors if not t.is_input])
        if self._spec:
            check_outputs([t.shape for t in self.outputs], self._spec, self.path)
        for tensor in [self.input, *self.outputs]:  # FP16-typed engines (TensorRT 11) take and give float16
            check_dtype(f"tensor '{tensor.name}'", tensor.dtype, FLOAT_TYPES, self.path)
        self.device = _device()

    def _ordered_outputs(self, outputs: list[api.IoTensor]) -> list[api.IoTensor]:
        by_name = {t.name: t for t in outputs}
        wanted = list(self._spec.head.outputs) if self._spec else []
        return [by_name[n] for n in wanted] if wanted and set(wanted) <= set(by_name) else outputs

    def _infer(self, batch: np.ndarray) -> Sequence[np.ndarray]:
        source = self._spec.preprocess.layout if self._spec else self.layout
        batch = to_layout(batch, source, self.layout).astype(self.input.dtype, copy=False)
        count, fixed = len(batch), self.input.shape[0]
        if 0 < fixed and count < fixed:  # fixed-batch engine: pad with zeros, cut the outputs back
            batch = np.concatenate([batch, np.zeros((fixed - count, *batch.shape[1:]), batch.dtype)])
        api.set_input_shape(self.context, self.input, batch.shape)
        addresses = {self.input.name: self.device.upload(self.input.name, batch)}
        for t in self.outputs:
            addresses[t.name] = self.device.alloc(t.name, api.output_shape(self.context, t), t.dtype)
        api.execute(self.context, self.tensors, addresses, self.device.stream_handle)
        results = self.device.download([t.name for t in self.outputs])
        return [np.asarray(r[:count], dtype=np.float32) for r in results]

    def _close(self) -> None:
        self.context = self.engine = self._runtime = None
        self.device = None


def _device():
    try:
        import torch

        if torch.cuda.is_available():
            return _TorchDevice()
    except ImportError:
        pass
    return _CudaPythonDevice()


class _TorchDevice:
    """Buffers as torch CUDA tensors (TensorRT gets ``data_ptr()``) on torch's current stream."""

    def __init__(self):
        import torch

        self.torch = torch
        self.buffers: dict[str, Any] = {}
        self.stream = torch.cuda.current_stream()
        self.stream_handle = self.stream.cuda_stream

    def upload(self, name: str, array: np.ndarray) -> int:
        self.buffers[name] = self.torch.from_numpy(np.ascontiguousarray(array)).cuda()
        return self.buffers[name].data_ptr()

    def alloc(self, name: str, shape: tuple[int, ...], dtype: str) -> int:
        self.buffers[name] = self.torch.empty(shape, dtype=getattr(self.torch, dtype), device="cuda")
        return self.buffers[name].data_ptr()

    def download(self, names: list[str]) -> list[np.ndarray]:
        self.stream.synchronize()
        arrays = [self.buffers[name].cpu().numpy() for name in names]
        self.buffers.clear()
        return arrays


class _CudaPythonDevice:
    """Buffers from cuda-python's runtime API (``cuda.bindings.runtime``) on a private stream."""

    def __init__(self):
        from cuda.bindings import runtime as cudart

        self.cudart = cudart
        self.stream = self._check(cudart.cudaStreamCreate())
        self.stream_handle = int(self.stream)
        self.buffers: dict[str, tuple[int, tuple[int, ...], str]] = {}  # name -> (pointer, shape, dtype)
        self.host_inputs: list[np.ndarray] = []  # alive until the stream has read them

    def _check(self, result: tuple) -> Any:
        err, *values = result
        if err != self.cudart.cudaError_t.cudaSuccess:
            raise ModelFileError(f"CUDA call failed: {err}")
        return values[0] if values else None

    def alloc(self, name: str, shape: tuple[int, ...], dtype: str) -> int:
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        pointer = int(self._check(self.cudart.cudaMalloc(max(nbytes, 1))))  # cudaMalloc(0) gives NULL
        self.buffers[name] = (pointer, tuple(shape), dtype)
        return pointer

    def upload(self, name: str, array: np.ndarray) -> int:
        array = np.ascontiguousarray(array)
        pointer = self.alloc(name, array.shape, array.dtype.name)
        kind = self.cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._check(self.cudart.cudaMemcpyAsync(pointer, array.ctypes.data, array.nbytes, kind, self.stream))
        self.host_inputs.append(array)
        return pointer

    def download(self, names: list[str]) -> list[np.ndarray]:
        kind = self.cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        arrays = []
        for name in names:
            pointer, shape, dtype = self.buffers[name]
            out = np.empty(shape, dtype=dtype)
            self._check(self.cudart.cudaMemcpyAsync(out.ctypes.data, pointer, out.nbytes, kind, self.stream))
            arrays.append(out)
        self._check(self.cudart.cudaStreamSynchronize(self.stream))
        for pointer, _, _ in self.buffers.values():
            self.cudart.cudaFree(pointer)
        self.buffers.clear()
        self.host_inputs.clear()
        return arrays
