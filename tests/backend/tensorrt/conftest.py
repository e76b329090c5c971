"""A FAKE ``tensorrt`` module for the generation-dispatch tests.

TensorRT cannot be installed on the project's machines (no GPU, libraries only on NVIDIA's index), so this small
stand-in records what the shim calls. It is the one allowed stand-in: it checks which API each generation touches,
never that an engine builds. Real builds are the ``@pytest.mark.tensorrt`` tests, skipped where TensorRT is absent.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper


class Enum:
    """Named int members; a name the generation lacks raises AttributeError, so touching it fails the test."""

    def __init__(self, *names: str):
        for value, name in enumerate(names):
            setattr(self, name, _Member(name, value))


class _Member:
    def __init__(self, name: str, value: int):
        self.name, self.value = name, value

    def __int__(self) -> int:
        return self.value

    def __repr__(self) -> str:
        return self.name


class FakeConfig:
    def __init__(self):
        object.__setattr__(self, "calls", [])
        object.__setattr__(self, "flags", [])
        object.__setattr__(self, "attributes", {})
        object.__setattr__(self, "accept_cache", True)

    def __setattr__(self, name, value):  # records every attribute the shim sets (DLA_core, int8_calibrator...)
        self.attributes[name] = value

    def set_flag(self, flag):
        self.flags.append(flag.name)

    def set_memory_pool_limit(self, pool, size):
        self.calls.append(("set_memory_pool_limit", pool.name, size))

    def create_timing_cache(self, data):
        return SimpleNamespace(data=data, serialize=lambda: b"cache:" + data)

    def set_timing_cache(self, cache, ignore_mismatch):
        self.calls.append(("set_timing_cache", cache.data, ignore_mismatch))
        object.__setattr__(self, "cache", cache)
        return self.accept_cache or cache.data == b""

    def get_timing_cache(self):
        return self.cache

    def add_optimization_profile(self, profile):
        self.calls.append(("add_optimization_profile", profile.shapes))


class FakeNetwork:
    def __init__(self, inputs, outputs=("landmarks",)):
        self.inputs = [SimpleNamespace(name=n, shape=s) for n, s in inputs]
        self.outputs = [SimpleNamespace(name=n) for n in outputs]
        self.num_inputs, self.num_outputs = len(self.inputs), len(self.outputs)

    def get_input(self, i):
        return self.inputs[i]

    def get_output(self, i):
        return self.outputs[i]


class FakeBuilder:
    def __init__(self, trt):
        self.trt, self.num_DLA_cores = trt, 2
        self.network_args = None

    def create_network(self, *args):
        self.network_args = args
        self.trt.log.append(("create_network", args))
        return FakeNetwork(self.trt.network_inputs)

    def create_builder_config(self):
        self.trt.config = FakeConfig()
        return self.trt.config

    def create_optimization_profile(self):
        profile = SimpleNamespace(shapes={})
        profile.set_shape = lambda name, *shapes: profile.shapes.__setitem__(name, shapes)
        return profile

    def build_serialized_network(self, network, config):
        return self.trt.engine_bytes


class FakeParser:
    def __init__(self, trt):
        self.trt, self.errors = trt, trt.parser_errors

    def parse(self, data):
        self.trt.parsed = data
        return not self.errors

    @property
    def num_errors(self):
        return len(self.errors)

    def get_error(self, i):
        node, op, desc = self.errors[i]
        return SimpleNamespace(node=lambda: node, node_operator=lambda: op, desc=lambda: desc)


def make_fake_trt(version: str) -> SimpleNamespace:
    """The API surface of TensorRT ``version``'s generation: 11 has no FP16/INT8 builder flags and no
    EXPLICIT_BATCH; 8 has no STRONGLY_TYPED."""
    major = int(version.split(".")[0])
    builder_flags = ["GPU_FALLBACK", "VERSION_COMPATIBLE"] + ([] if major >= 11 else ["FP16", "INT8"])
    network_flags = {8: ["EXPLICIT_BATCH"], 10: ["EXPLICIT_BATCH", "STRONGLY_TYPED"]}.get(major, ["STRONGLY_TYPED"])
    trt = SimpleNamespace(__version__=version, log=[], config=None, parsed=None, parser_errors=[],
                          engine_bytes=b"serialized-engine", network_inputs=[("input", (-1, 3, 16, 16))])
    trt.BuilderFlag = Enum(*builder_flags)
    trt.NetworkDefinitionCreationFlag = Enum(*network_flags)
    trt.MemoryPoolType = Enum("WORKSPACE")
    trt.DeviceType = Enum("GPU", "DLA")
    trt.TensorIOMode = Enum("NONE", "INPUT", "OUTPUT")
    trt.Logger = type("Logger", (), {"WARNING": 2, "__init__": lambda self, level: None})
    trt.Builder = lambda logger: FakeBuilder(trt)
    trt.OnnxParser = lambda network, logger: FakeParser(trt)
    trt.Runtime = lambda logger: SimpleNamespace(engine_host_code_allowed=False)
    return trt


@pytest.fixture()
def fake_trt():
    return make_fake_trt


@pytest.fixture()
def tiny_onnx() -> onnx.ModelProto:
    """x (B,3,8,8) -> Conv 3->4 -> Relu -> Resize x2 (float32 scales) -> GlobalAveragePool -> Flatten -> Gemm."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.normal(0, 0.1, 4).astype(np.float32), "b"),
             numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"),
             numpy_helper.from_array(rng.normal(0, 0.5, (2, 4)).astype(np.float32), "fc_w"),
             numpy_helper.from_array(np.zeros(2, np.float32), "fc_b")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Resize", ["r", "", "scales"], ["u"], mode="nearest"),
             helper.make_node("GlobalAveragePool", ["u"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["pose"], transB=1)]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 3, 8, 8])],
                              [helper.make_tensor_value_info("pose", TensorProto.FLOAT, ["B", 2])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
