"""The TensorRT generation shim, checked against a FAKE ``tensorrt`` module (see conftest.py): TensorRT cannot
be installed here, so these tests pin which API each generation calls, not that an engine builds."""
from types import SimpleNamespace

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from edgekit.backend.tensorrt import api
from edgekit.errors import EdgekitError, ModelFileError, SpecError


@pytest.mark.parametrize("version, gen", [("8.5.2", 8), ("8.5.2.2", 8), ("8.6", 8), ("10.3", 10),
                                          ("10.3.0.30", 10), ("11.4", 11), ("11.0.0", 11)])
def test_generation(version, gen):
    assert api.generation(version) == gen


@pytest.mark.parametrize("version, message", [("8.4.3", "older than 8.5"), ("7.1", "older than 8.5"),
                                              ("9.2", "not supported"), ("ten", "not a version")])
def test_generation_refuses(version, message):
    with pytest.raises(EdgekitError, match=message):
        api.generation(version)


@pytest.mark.parametrize("version, expected", [("8.5.2", True), ("10.3", True), ("10.7.0", True), ("10.8", False),
                                               ("10.13.2", False), ("11.0", False), ("11.3", False), ("11.4", False),
                                               ("11.4.0", False), ("11.4.1", True), ("11.5", True)])
def test_has_dla(version, expected):
    assert api.has_dla(version) is expected


def _builder(trt):
    builder = trt.Builder(None)
    return builder, builder.create_builder_config()


def test_create_network_flags_per_generation(fake_trt):
    trt8, trt10, trt11 = fake_trt("8.5.2"), fake_trt("10.3"), fake_trt("11.4")
    api.create_network(trt8, trt8.Builder(None), api.TrtGeneration.TRT8, strongly_typed=False)
    assert trt8.log[-1] == ("create_network", (1 << 0,))  # EXPLICIT_BATCH (member 0 in the fake)
    api.create_network(trt10, trt10.Builder(None), api.TrtGeneration.TRT10, strongly_typed=False)
    assert trt10.log[-1] == ("create_network", (0,))
    api.create_network(trt10, trt10.Builder(None), api.TrtGeneration.TRT10, strongly_typed=True)
    assert trt10.log[-1] == ("create_network", (1 << 1,))  # STRONGLY_TYPED
    api.create_network(trt11, trt11.Builder(None), api.TrtGeneration.TRT11, strongly_typed=True)
    assert trt11.log[-1] == ("create_network", ())  # 11: always strongly typed, no flags


def test_strongly_typed_choice():
    assert not api.wants_strongly_typed(api.TrtGeneration.TRT8, True)
    assert api.wants_strongly_typed(api.TrtGeneration.TRT10, True)
    assert not api.wants_strongly_typed(api.TrtGeneration.TRT10, False)
    assert api.wants_strongly_typed(api.TrtGeneration.TRT11, False)


def test_workspace_is_mib_in_bytes(fake_trt):
    trt = fake_trt("10.3")
    _, config = _builder(trt)
    api.set_workspace(trt, config, 1024)
    assert config.calls == [("set_memory_pool_limit", "WORKSPACE", 1024 * 2**20)]


def test_precision_flags(fake_trt):
    trt8 = fake_trt("8.5.2")
    _, config = _builder(trt8)
    assert api.set_precision(trt8, config, api.TrtGeneration.TRT8, "int8", False) == ["INT8", "FP16"]
    assert config.flags == ["INT8", "FP16"]
    _, config = _builder(trt8)
    assert api.set_precision(trt8, config, api.TrtGeneration.TRT8, "fp32", False) == [] and config.flags == []
    trt10 = fake_trt("10.3")
    _, config = _builder(trt10)
    assert api.set_precision(trt10, config, api.TrtGeneration.TRT10, "int8", True) == []  # QDQ, typed


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_generation_11_never_touches_precision_flags(fake_trt, precision):
    trt = fake_trt("11.4")  # the fake has no BuilderFlag.FP16 / INT8: touching them would raise
    _, config = _builder(trt)
    assert api.set_precision(trt, config, api.TrtGeneration.TRT11, precision, strongly_typed=True) == []
    assert config.flags == [] and "int8_calibrator" not in config.attributes


def test_dla_only_when_requested(fake_trt):
    trt = fake_trt("8.5.2")
    builder, config = _builder(trt)
    assert not api.configure_dla(trt, builder, config, "8.5.2", None, True)
    assert config.attributes == {} and config.flags == []
    assert api.configure_dla(trt, builder, config, "8.5.2", 1, True)
    assert config.attributes == {"default_device_type": trt.DeviceType.DLA, "DLA_core": 1}
    assert config.flags == ["GPU_FALLBACK"]


def test_dla_refused(fake_trt):
    trt = fake_trt("11.2")
    builder, config = _builder(trt)
    with pytest.raises(SpecError, match="no DLA"):
        api.configure_dla(trt, builder, config, "11.2", 0, True)
    with pytest.raises(EdgekitError, match="has 2 DLA cores"):
        api.configure_dla(trt, builder, config, "10.3", 2, True)


def test_timing_cache_round_trip_and_mismatch(fake_trt):
    trt = fake_trt("10.3")
    _, config = _builder(trt)
    assert api.attach_timing_cache(config, b"old")
    assert api.serialize_timing_cache(config) == b"cache:old"
    object.__setattr__(config, "accept_cache", False)  # TensorRT rejects a cache of another GPU / version
    assert not api.attach_timing_cache(config, b"foreign")
    assert config.calls[-1] == ("set_timing_cache", b"", False)


def test_batch_profile(fake_trt):
    trt = fake_trt("10.3")
    builder, config = _builder(trt)
    network = builder.create_network(0)
    shapes = api.add_batch_profile(builder, config, network, (1, 8, 32))
    assert shapes == {"input": {"min": [1, 3, 16, 16], "opt": [8, 3, 16, 16], "max": [32, 3, 16, 16]}}
    assert config.calls == [("add_optimization_profile", {"input": ((1, 3, 16, 16), (8, 3, 16, 16),
                                                                    (32, 3, 16, 16))})]


def test_batch_profile_refusals(fake_trt):
    trt = fake_trt("10.3")
    builder, config = _builder(trt)
    trt.network_inputs = [("input", (1, 3, 16, 16))]
    assert api.add_batch_profile(builder, config, builder.create_network(0), (1, 1, 1))["input"]["max"][0] == 1
    with pytest.raises(ModelFileError, match="fixed batch of 1"):
        api.add_batch_profile(builder, config, builder.create_network(0), (1, 4, 8))
    trt.network_inputs = [("input", (-1, 3, -1, 16))]
    with pytest.raises(ModelFileError, match="other than the batch"):
        api.add_batch_profile(builder, config, builder.create_network(0), (1, 1, 1))


def test_version_compatible_and_optimization_level(fake_trt):
    trt = fake_trt("8.6.1")
    _, config = _builder(trt)
    api.set_version_compatible(trt, config, "8.6.1")
    api.set_optimization_level(config, "8.6.1", 5)
    assert config.flags == ["VERSION_COMPATIBLE"] and config.attributes["builder_optimization_level"] == 5
    with pytest.raises(SpecError, match="8.6 or newer"):
        api.set_version_compatible(trt, config, "8.5.2")
    with pytest.raises(SpecError, match="0..5"):
        api.set_optimization_level(config, "10.3", 7)


class _NameApiEngine:
    num_io_tensors = 2
    names = ["input", "landmarks"]

    def __init__(self, trt):
        self.trt = trt

    def get_tensor_name(self, i):
        return self.names[i]

    def get_tensor_mode(self, name):
        return self.trt.TensorIOMode.INPUT if name == "input" else self.trt.TensorIOMode.OUTPUT

    def get_tensor_shape(self, name):
        return (-1, 3, 16, 16) if name == "input" else (-1, 136)

    def get_tensor_dtype(self, name):
        return SimpleNamespace(name="FLOAT")


class _BindingEngine:  # 8.x binding API only
    num_bindings = 2

    def get_binding_name(self, i):
        return ["landmarks", "input"][i]

    def binding_is_input(self, i):
        return i == 1

    def get_binding_shape(self, i):
        return [(1, 136), (1, 3, 16, 16)][i]

    def get_binding_dtype(self, i):
        return SimpleNamespace(name="HALF" if i == 0 else "FLOAT")


def test_io_tensors_name_and_binding_api(fake_trt):
    trt = fake_trt("10.3")
    by_name = api.io_tensors(trt, _NameApiEngine(trt))
    assert [(t.name, t.is_input, t.shape, t.dtype) for t in by_name] == [
        ("input", True, (-1, 3, 16, 16), "float32"), ("landmarks", False, (-1, 136), "float32")]
    by_binding = api.io_tensors(trt, _BindingEngine())
    assert [(t.name, t.index, t.is_input, t.dtype) for t in by_binding] == [
        ("landmarks", 0, False, "float16"), ("input", 1, True, "float32")]


def test_execute_v3_and_v2():
    tensors = [api.IoTensor("landmarks", 0, False, (1, 136), "float32"),
               api.IoTensor("input", 1, True, (1, 3, 16, 16), "float32")]
    addresses = {"input": 1000, "landmarks": 2000}
    calls = []
    v3 = SimpleNamespace(set_tensor_address=lambda n, p: calls.append((n, p)),
                         execute_async_v3=lambda stream: calls.append(("v3", stream)) or True)
    api.execute(v3, tensors, addresses, 7)
    assert calls == [("landmarks", 2000), ("input", 1000), ("v3", 7)]
    v2 = SimpleNamespace(execute_async_v2=lambda bindings, stream: calls.append(("v2", bindings, stream)) or True)
    api.execute(v2, tensors, addresses, 7)
    assert calls[-1] == ("v2", [2000, 1000], 7)  # bindings ordered by binding index
    failing = SimpleNamespace(execute_async_v2=lambda bindings, stream: False)
    with pytest.raises(EdgekitError, match="failed to enqueue"):
        api.execute(failing, tensors, addresses, 7)


def _run(model, x):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def test_convert_onnx_to_fp16_keeps_float32_io_and_values(tiny_onnx):
    model = tiny_onnx
    fp16 = api.convert_onnx_to_fp16(model)
    inits = {i.name: i.data_type for i in fp16.graph.initializer}
    assert inits == {"w": TensorProto.FLOAT16, "b": TensorProto.FLOAT16, "scales": TensorProto.FLOAT,
                     "fc_w": TensorProto.FLOAT16, "fc_b": TensorProto.FLOAT16}
    assert fp16.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert fp16.graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert api.is_typed_onnx(fp16) and not api.is_typed_onnx(model)
    x = np.random.default_rng(1).uniform(-1, 1, (2, 3, 8, 8)).astype(np.float32)
    reference, half = _run(model, x), _run(fp16, x)
    assert half.dtype == np.float32 and half.shape == (2, 2)
    np.testing.assert_allclose(half, reference, atol=2e-3)
    assert not np.array_equal(half, reference)  # it really computed in float16


def test_convert_onnx_to_fp16_refuses_qdq(tiny_onnx):
    model = tiny_onnx
    model.graph.node.append(helper.make_node("QuantizeLinear", ["pose", "s"], ["q"]))
    with pytest.raises(ModelFileError, match="already quantized"):
        api.convert_onnx_to_fp16(model)


def test_version_compatible_engines_allow_host_code_before_deserializing(fake_trt):
    trt = fake_trt("10.3")
    assert api.open_runtime(trt, {"version_compatible": True}).engine_host_code_allowed is True
    assert api.open_runtime(trt, {"version_compatible": False}).engine_host_code_allowed is False
    assert api.open_runtime(trt, None).engine_host_code_allowed is False  # no build record: as TensorRT defaults
