"""ai-edge-quantizer full-integer files on real litert-torch conversions: a transposed convolution's file loads in
LiteRT (the per-axis bias repair), and Percentile ranges only ever narrow the min/max ones."""
from __future__ import annotations

import numpy as np
import pytest

from edgekit.specs import Int8Section

torch = pytest.importorskip("torch")


class _Upsampler(torch.nn.Module):
    """conv -> ConvTranspose2d (stride 2) + BatchNorm + ReLU -> conv: MobileFAN's decoder in miniature."""

    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
                                        torch.nn.ConvTranspose2d(8, 8, 4, stride=2, padding=1, bias=False),
                                        torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                                        torch.nn.Conv2d(8, 2, 1))

        norm = self.body[3]  # trained statistics: folded into the deconvolution, they give it a bias
        norm.running_mean.uniform_(-1, 1), norm.running_var.uniform_(0.5, 2), norm.bias.data.uniform_(-1, 1)

    def forward(self, x):
        return self.body(x)


@pytest.fixture(scope="module")
def upsampler(tmp_path_factory):
    from edgekit.backend.tflite.loader import convert_fp32

    torch.manual_seed(0)
    images = np.random.default_rng(0).normal(size=(16, 3, 16, 16)).astype(np.float32)
    images[3, :, 5, 5] = 40.0  # one outlier pixel: min/max ranges stretch to it, percentile ones do not
    path = convert_fp32(_Upsampler().eval(), images, tmp_path_factory.mktemp("up") / "fp32.tflite", "NHWC")
    return path, images.transpose(0, 2, 3, 1)


def _run(interpreter, image: np.ndarray) -> np.ndarray:
    from edgekit.backend.tflite.runner import dequantize, quantize

    source, result = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.set_tensor(source["index"], quantize(image[None], source))
    interpreter.invoke()
    return dequantize(interpreter.get_tensor(result["index"]), result)


def test_a_transposed_convolution_quantizes_to_a_file_litert_runs_right(upsampler, tmp_path):
    from edgekit.backend.tflite.loader import open_interpreter
    from edgekit.backend.tflite.quantize import TfliteInt8Quantizer
    from edgekit.backend.tflite.sensitivity import quantized_layers

    fp32, images = upsampler
    quantizer = TfliteInt8Quantizer(fp32, images)
    int8 = quantizer.quantize(tmp_path / "int8.tflite")
    quantized = open_interpreter(int8)  # LiteRT 2.3 refused ai-edge-quantizer's (1, 1, 1, C) per-axis bias
    assert "TRANSPOSE_CONV" in {op["op_name"] for op in quantized._get_ops_details()}
    assert quantized.get_input_details()[0]["dtype"] == np.int8
    layers, _ = quantized_layers(int8)
    deconv = [layer for layer in layers if layer.startswith("CONV_2D_TRANSPOSE ")]  # recipe's name
    assert len(deconv) == 1
    float_deconv = open_interpreter(quantizer.quantize(tmp_path / "mixed.tflite", deconv))
    reference = open_interpreter(fp32)
    error = {"int8": 0.0, "float deconv": 0.0}
    for image in images[4:12]:
        want = _run(reference, image)
        assert _run(quantized, image).shape == want.shape == (1, 2, 32, 32)  # NHWC input, NCHW output
        error["int8"] += np.abs(_run(quantized, image) - want).mean()
        error["float deconv"] += np.abs(_run(float_deconv, image) - want).mean()
    # an integer deconvolution adds little; with the bias quantized on the wrong axis it was 25x the error
    assert error["int8"] < 1.5 * error["float deconv"]


def test_percentile_ranges_narrow_min_max_and_keep_zero(upsampler):
    from edgekit.backend.tflite.quantize import TfliteInt8Quantizer

    fp32, images = upsampler
    minmax = TfliteInt8Quantizer(fp32, images).ranges()
    clipped = TfliteInt8Quantizer(fp32, images, Int8Section(method="percentile", percentile=99.0)).ranges()
    assert minmax.keys() == clipped.keys()
    narrower = 0
    for name, qsv in minmax.items():
        low, high = float(np.min(clipped[name]["min"])), float(np.max(clipped[name]["max"]))
        assert np.min(qsv["min"]) <= low <= 0.0 <= high <= np.max(qsv["max"])
        narrower += high - low < float(np.max(qsv["max"]) - np.min(qsv["min"])) * 0.9
    assert narrower >= 3  # the outlier's path through the convolutions
    first = next(name for name in minmax if "serving_default" in name)  # the graph input keeps its range
    assert clipped[first]["max"] == minmax[first]["max"]


def test_the_targets_int8_section_is_honoured(upsampler, tmp_path):
    """method / percentile / per_channel, as ONNX Runtime's quantizer reads them: a percentile target clips from
    the start, a per-tensor target stores one scale per weight tensor."""
    from edgekit.backend.tflite.loader import open_interpreter
    from edgekit.backend.tflite.quantize import TfliteInt8Quantizer

    fp32, images = upsampler
    target = Int8Section(method="percentile", percentile=99.0, per_channel=False)
    quantizer = TfliteInt8Quantizer(fp32, images, target)
    assert quantizer.percentile == 99.0 and quantizer.record().method == "percentile"
    assert quantizer.record().percentile == 99.0 and not quantizer.record().per_channel
    assert quantizer.ranges() == TfliteInt8Quantizer(fp32, images, target).with_percentile(99.0).ranges()
    per_channel = TfliteInt8Quantizer(fp32, images)
    deconv = [layer for layer in per_channel.layers(per_channel.quantize(tmp_path / "c.tflite"))
              if layer.startswith("CONV_2D_TRANSPOSE ")]  # ai-edge-quantizer 0.10 cannot quantize its bias per tensor
    assert max(len(t["quantization_parameters"]["scales"])
               for t in open_interpreter(tmp_path / "c.tflite").get_tensor_details()) > 1
    per_tensor = open_interpreter(quantizer.quantize(tmp_path / "t.tflite", deconv))
    assert {len(t["quantization_parameters"]["scales"]) for t in per_tensor.get_tensor_details()
            if t["dtype"] == np.int8 and len(t["shape"]) == 4} == {1}  # one scale per weight tensor
    entropy = TfliteInt8Quantizer(fp32, images, Int8Section(method="entropy")).record()
    assert entropy.percentile is None and "min/max" in entropy.note
