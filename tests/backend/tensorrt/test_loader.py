"""The engine build: the whole configuration sequence against the FAKE ``tensorrt`` of conftest.py (TensorRT
cannot be installed here), the no-TensorRT / no-GPU errors for real, and a real build marked ``tensorrt``."""
from pathlib import Path

import onnx
import pytest

from edgekit.backend.tensorrt import api, loader
from edgekit.errors import EdgekitError, ModelFileError
from edgekit.specs import TensorrtSection

NO_TENSORRT = "TensorRT is not installed on this machine: the engine build was not run"
WHERE = Path("model.onnx")


def test_build_sequence_generation_10_fp16(fake_trt, tiny_onnx):
    trt = fake_trt("10.3.0.30")
    section = TensorrtSection(version="10.3", precision="fp16", workspace_mb=256, batch=(1, 4, 8))
    result = loader.build_serialized(trt, trt.__version__, tiny_onnx, section, b"", WHERE)
    assert result["engine"] == b"serialized-engine" and result["timing_cache"] == b"cache:"
    assert trt.log == [("create_network", (0,))]  # weakly typed: a float32 ONNX
    assert trt.config.flags == ["FP16"]
    assert ("set_memory_pool_limit", "WORKSPACE", 256 * 2**20) in trt.config.calls
    assert result["inputs"]["input"]["max"] == [8, 3, 16, 16] and result["outputs"] == ["landmarks"]
    assert (result["generation"], result["strongly_typed"], result["dla_core"]) == (10, False, None)
    assert onnx.load_from_string(trt.parsed) == tiny_onnx  # parsed unchanged


def test_build_sequence_generation_11_fp16_converts_the_onnx(fake_trt, tiny_onnx):
    trt = fake_trt("11.4.1")
    section = TensorrtSection(version="11.4", precision="fp16", timing_cache=False)
    result = loader.build_serialized(trt, trt.__version__, tiny_onnx, section, b"", WHERE)
    assert trt.log == [("create_network", ())] and trt.config.flags == []
    assert api.is_typed_onnx(onnx.load_from_string(trt.parsed))  # FP16 tensors: the only FP16 switch on 11
    assert result["strongly_typed"] and result["builder_flags"] == [] and result["timing_cache"] == b""


def test_build_sequence_generation_8_dla(fake_trt, tiny_onnx):
    trt = fake_trt("8.5.2.2")
    trt.network_inputs = [("input", (1, 3, 16, 16))]
    section = TensorrtSection(version="8.5.2", precision="fp16", dla_core=0)
    result = loader.build_serialized(trt, trt.__version__, tiny_onnx, section, b"old", WHERE)
    assert trt.log == [("create_network", (1,))]  # EXPLICIT_BATCH
    assert trt.config.flags == ["FP16", "GPU_FALLBACK"]
    assert trt.config.attributes == {"default_device_type": trt.DeviceType.DLA, "DLA_core": 0}
    assert result["dla_core"] == 0 and result["timing_cache"] == b"cache:old"


def test_int8_needs_a_tensorrt_ready_qdq_onnx(fake_trt, tiny_onnx):
    trt = fake_trt("10.3")
    with pytest.raises(ModelFileError, match="not a TensorRT-ready QDQ INT8 model: no QuantizeLinear"):
        loader.build_serialized(trt, "10.3", tiny_onnx, TensorrtSection(precision="int8"), b"", WHERE)


def test_parser_errors_one_line_each(fake_trt, tiny_onnx):
    trt = fake_trt("10.3")
    trt.parser_errors = [(2, "Resize", "Assertion failed:\n scales must be\tconstant"), (5, "Gemm", "bad")]
    with pytest.raises(ModelFileError) as err:
        loader.build_serialized(trt, "10.3", tiny_onnx, TensorrtSection(), b"", WHERE)
    assert str(err.value) == ("model.onnx: TensorRT's ONNX parser failed: node 2 (Resize): Assertion failed: "
                              "scales must be constant; node 5 (Gemm): bad")


def test_failed_build_is_a_model_file_error(fake_trt, tiny_onnx):
    trt = fake_trt("10.3")
    trt.engine_bytes = None
    with pytest.raises(ModelFileError, match="could not build an engine"):
        loader.build_serialized(trt, "10.3", tiny_onnx, TensorrtSection(), b"", WHERE)


@pytest.mark.skipif(loader.tensorrt_available(), reason="TensorRT is installed here")
def test_without_tensorrt_build_engine_says_how_to_install(tmp_path, tiny_onnx):
    onnx.save(tiny_onnx, tmp_path / "m.onnx")
    with pytest.raises(EdgekitError, match="TensorRT is not installed: on Jetson it ships with JetPack"):
        loader.build_engine(tmp_path / "m.onnx", TensorrtSection(), tmp_path / "m.engine")
    assert not (tmp_path / "m.engine").exists()


def test_probe_cuda_without_gpu_is_one_clean_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    with pytest.raises(EdgekitError, match="no CUDA GPU found"):
        loader.probe_cuda()


@pytest.mark.tensorrt
@pytest.mark.skipif(not loader.tensorrt_available(), reason=NO_TENSORRT)
def test_real_engine_build(tmp_path, tiny_onnx):
    onnx.save(tiny_onnx, tmp_path / "m.onnx")
    section = TensorrtSection(precision="fp16", batch=(1, 2, 4))
    meta = loader.build_engine(tmp_path / "m.onnx", section, tmp_path / "m.engine", tmp_path / "m.cache")
    assert (tmp_path / "m.engine").stat().st_size == meta["size"] > 0
    assert loader.sidecar_path(tmp_path / "m.engine").is_file() and meta["inputs"]["x"]["max"][0] == 4
