"""MACs of an IR equal the ONNX counter's on the file it was converted from, FP32 and INT8 alike."""
from edgekit.backend.openvino.macs import ir_macs
from edgekit.profile.flops import onnx_macs


def test_ir_macs_equal_onnx_macs(pfld_onnx, pfld_ir, int8_ir):
    expected = onnx_macs(pfld_onnx)
    assert expected > 10_000_000  # PFLD-0.25x: about 15 M per 112x112 face
    assert ir_macs(pfld_ir) == expected == ir_macs(int8_ir)
