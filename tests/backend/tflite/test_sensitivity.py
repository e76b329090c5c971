"""The TFLite float fallback on a real litert-torch file of FSA-Net (random weights): op types LiteRT refuses go
to float everywhere, layers are matched between the FP32 and INT8 files by name, and the written file is what the
search kept."""
from __future__ import annotations

import numpy as np
import pytest

from edgekit.errors import ModelFileError

ELEMENTWISE = ("MUL", "ADD", "SUB", "SUM", "LOGISTIC", "TANH")


@pytest.fixture(scope="module")
def fsanet_tflite(fsanet, tmp_path_factory):
    import torch

    from edgekit.backend.tflite.loader import convert_fp32

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tflite")
    faces = np.random.default_rng(0).uniform(-2, 2, size=(12, 3, 64, 64)).astype(np.float32)
    return convert_fp32(fsanet.eval(), faces, folder / "model.fp32.tflite", "NHWC"), faces, folder


def _ops(path):
    from edgekit.backend.tflite.sensitivity import open_all_tensors

    interpreter = open_all_tensors(path)
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    return [(op["op_name"], tensors[op["inputs"][0]]["dtype"]) for op in interpreter._get_ops_details()]


def test_layers_are_quantized_ops_with_their_inputs_and_sqnr(fsanet_tflite, tmp_path):
    from edgekit.backend.tflite.quantize import TfliteInt8Quantizer
    from edgekit.backend.tflite.sensitivity import quantized_layers, split_layer, sqnr_drop, tensor_sqnr

    fp32, faces, _ = fsanet_tflite
    images = faces.transpose(0, 2, 3, 1)
    int8 = TfliteInt8Quantizer(fp32, images).quantize(tmp_path / "int8.tflite")
    layers, inputs = quantized_layers(int8)
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "DIV"} <= {split_layer(layer)[0] for layer in layers}
    sqnr = tensor_sqnr(fp32, int8, images[:2])
    conv = next(layer for layer in layers if layer.startswith("CONV_2D "))
    assert 0 < sqnr[split_layer(conv)[1]] < 80  # quantized: noisy, but far from noise only
    assert set(sqnr_drop(layers, inputs, sqnr)) <= set(layers)


def test_fallback_forces_refused_ops_to_float_then_keeps_the_unweighted_layers(fsanet, fsanet_tflite, tmp_path):
    from edgekit.backend.tflite.loader import spec_from_tflite
    from edgekit.backend.tflite.quantize import TfliteInt8Quantizer
    from edgekit.backend.tflite.runner import TFLiteRunner
    from edgekit.export.int8_search import layer_fallback

    fp32, faces, _ = fsanet_tflite

    def gate_delta(path):  # LiteRT's failure for an integer DIV; otherwise error from int8 elementwise ops
        ops = _ops(path)
        if any(name == "DIV" and dtype == np.int8 for name, dtype in ops):
            raise ModelFileError("LiteRT failed to run it (Node number 7 (DIV) failed to invoke.)", path)
        return 0.5 if any(name in ELEMENTWISE and dtype == np.int8 for name, dtype in ops) else 0.05

    out, lines = tmp_path / "model.int8-mixed.tflite", []
    quantizer = TfliteInt8Quantizer(fp32, faces.transpose(0, 2, 3, 1), spec=fsanet.spec)
    record = layer_fallback([("minmax", quantizer)], out, gate_delta, 0.2, 4, lines.append)
    assert record.float_op_types == ("DIV",) and record.passed and record.unweighted_in_float
    assert record.delta == gate_delta(out) == 0.05
    assert "integer DIV" in lines[0]
    assert spec_from_tflite(out) == fsanet.spec  # embedded
    with TFLiteRunner(str(out), 1) as runner:
        assert runner.io_dtype == "int8" and all(np.isfinite(o).all() for o in runner.infer(faces[:1]))


def test_a_refusal_naming_no_op_is_raised(fsanet, fsanet_tflite, tmp_path):
    from edgekit.backend.tflite.quantize import TfliteInt8Quantizer
    from edgekit.export.int8_search import layer_fallback

    fp32, faces, _ = fsanet_tflite

    def gate_delta(path):
        raise ModelFileError("LiteRT failed to run it (something else)", path)

    with pytest.raises(ModelFileError, match="something else"):
        layer_fallback([("minmax", TfliteInt8Quantizer(fp32, faces.transpose(0, 2, 3, 1), spec=fsanet.spec))],
                       tmp_path / "m.tflite", gate_delta, 0.2, 4, print)


def test_a_file_litert_cannot_load_is_a_model_file_error(fsanet_tflite, tmp_path):
    from edgekit.backend.tflite.sensitivity import quantized_layers

    fp32, _, _ = fsanet_tflite
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(fp32.read_bytes()[:4096])  # e.g. quantization parameters LiteRT rejects at load
    with pytest.raises(ModelFileError, match="LiteRT cannot load it"):
        quantized_layers(broken)


def test_layers_are_logged_by_op_and_their_last_module_scopes():
    from edgekit.backend.tflite.sensitivity import short_name

    wrapper = "litert_torch._convert.to_channel_last_io.ChannelLastIOWrapper/edgekit.models.pipnet.PIPNet_wrapped"
    scope = f"{wrapper}/torch.nn.modules.container.Sequential_0/edgekit.models.blocks.InvertedResidual_1"
    tensor = f"{scope}/torch.nn.modules.activation.ReLU_2;;{scope}/torch.nn.modules.conv.Conv2d_0;1"
    assert short_name(f"DEPTHWISE_CONV_2D {tensor}") == (
        "DEPTHWISE_CONV_2D PIPNet_wrapped/Sequential_0/InvertedResidual_1/Conv2d_0")
    assert short_name("ADD tensor_7") == "ADD tensor_7"
