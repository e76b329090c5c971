"""MAC counts against hand counts, on graphs built with onnx.helper and on a converted TFLite file."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgekit.errors import ModelFileError
from edgekit.profile.flops import _tflite_op_macs, count_macs

TINY_MACS = 32 * 32 * 4 * 27 + 4 * 10  # tiny_onnx: conv 3->4 k3 on 32x32, Gemm 4 -> 10


def _save(tmp_path, nodes, inputs, outputs, inits):
    import onnx

    model = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, inits),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "g.onnx"
    onnx.save(model, str(path))
    return path


def _init(name, shape, dtype=np.float32):
    return numpy_helper.from_array(np.ones(shape, dtype), name)


def test_tiny_model_counts_per_image_with_a_symbolic_batch(tiny_onnx):
    assert count_macs(tiny_onnx) == TINY_MACS


def test_depthwise_transpose_matmul_gemm_by_hand(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "dw"], ["a"], group=8, pads=[1, 1, 1, 1]),  # 8*10*10 * 1*3*3
             helper.make_node("ConvTranspose", ["a", "up"], ["b"], strides=[2, 2]),  # 8*10*10 in * 4*2*2
             helper.make_node("Reshape", ["b", "shape"], ["c"]),  # (1, 1600)
             helper.make_node("MatMul", ["c", "mm"], ["d"]),  # 1*6 out * 1600
             helper.make_node("Gemm", ["d", "fc"], ["y"], transB=1)]  # 1*5 out * 6
    inits = [_init("dw", (8, 1, 3, 3)), _init("up", (8, 4, 2, 2)), _init("mm", (1600, 6)), _init("fc", (5, 6)),
             numpy_helper.from_array(np.array([1, 1600], np.int64), "shape")]
    path = _save(tmp_path, nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 10, 10])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])], inits)
    assert count_macs(path) == 800 * 9 + 800 * 16 + 6 * 1600 + 5 * 6


def test_qdq_int8_model_counts_like_its_float_model(tiny_onnx, tmp_path):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            data = np.random.default_rng(0).random((8, 1, 3, 32, 32), dtype=np.float32)
            self.items = iter({"input": x} for x in data)

        def get_next(self):
            return next(self.items, None)

    int8 = tmp_path / "int8.onnx"
    quantize_static(str(tiny_onnx), str(int8), Reader(), quant_format=QuantFormat.QDQ, per_channel=True)
    assert count_macs(int8) == TINY_MACS


def test_tflite_op_rules_by_hand():
    assert _tflite_op_macs("CONV_2D", [(1, 8, 8, 3), (16, 3, 3, 3), (16,)], (1, 4, 4, 16)) == 256 * 27
    assert _tflite_op_macs("DEPTHWISE_CONV_2D", [(1, 8, 8, 16), (1, 3, 3, 16), (16,)], (1, 8, 8, 16)) == 1024 * 9
    assert _tflite_op_macs("FULLY_CONNECTED", [(1, 64), (10, 64), (10,)], (1, 10)) == 640
    assert _tflite_op_macs("TRANSPOSE_CONV", [(4,), (4, 2, 2, 8), (1, 5, 5, 8)], (1, 10, 10, 4)) == 200 * 16
    assert _tflite_op_macs("ADD", [(1, 4), (1, 4)], (1, 4)) == 0


@pytest.mark.slow  # litert-torch import + conversion: 5-12 s on 2 busy cores
def test_tflite_count_equals_the_onnx_count_of_the_same_net(tmp_path):
    """A small torch net exported both ways (litert-torch's converter also prints 0.037 M MACs for it)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("litert_torch")
    from edgekit.backend.tflite.loader import convert_fp32

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=2, padding=1),
                              torch.nn.Conv2d(8, 8, 3, padding=1, groups=8),
                              torch.nn.ConvTranspose2d(8, 4, 2, stride=2), torch.nn.Flatten(),
                              torch.nn.Linear(4 * 16 * 16, 10)).eval()
    sample = torch.rand(1, 3, 16, 16)
    expected = 8 * 8 * 8 * 27 + 8 * 8 * 8 * 9 + 8 * 8 * 8 * 4 * 4 + 10 * 1024
    torch.onnx.export(net, (sample,), str(tmp_path / "n.onnx"), dynamo=False)
    convert_fp32(net, sample.numpy(), tmp_path / "n.tflite", layout="NCHW")
    assert count_macs(tmp_path / "n.onnx") == expected == count_macs(tmp_path / "n.tflite")


def test_unreadable_files(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x01\x02junk")
    with pytest.raises(ModelFileError, match="not a readable ONNX"):
        count_macs(bad)
    with pytest.raises(ModelFileError, match=".onnx and .tflite"):
        count_macs(tmp_path / "w.safetensors")
