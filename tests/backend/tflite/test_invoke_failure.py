"""A full-integer .tflite that LiteRT refuses at invoke time (a quantized DIV whose divisor rounds to its zero
point, as FSA-Net's capsule squash did) is a one-line ModelFileError, never a RuntimeError traceback."""
import numpy as np
import pytest
import torch

from edgekit.backend.tflite.loader import convert_fp32
from edgekit.backend.tflite.quantize import quantize_tflite
from edgekit.backend.tflite.runner import TFLiteRunner
from edgekit.errors import ModelFileError
from edgekit.specs import HeadSpec, ModelSpec, PreprocessSpec


class SmallDivisor(torch.nn.Module):
    """y / (relu(y) + 1e-3): finite in float, but 1e-3 quantizes to the zero point of a wide int8 range."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.fc = torch.nn.Linear(4 * 14 * 14, 3)
        self.spec = ModelSpec("divisor", "pose", PreprocessSpec(input_size=(16, 16)),
                              HeadSpec("pose_regression", ("pose",)))

    def forward(self, x):
        y = self.conv(x)
        return (self.fc((y / (torch.relu(y) + 1e-3)).flatten(1)),)


def test_invoke_failure_is_a_one_line_error(tmp_path):
    torch.manual_seed(0)
    model = SmallDivisor().eval()
    calibration = np.random.default_rng(0).normal(size=(16, 3, 16, 16)).astype(np.float32) * 3
    fp32 = convert_fp32(model, calibration[:1], tmp_path / "m.fp32.tflite", "NCHW")
    int8 = quantize_tflite(fp32, tmp_path / "m.int8.tflite", "int8", calibration)
    with TFLiteRunner(str(fp32), 1, spec=model.spec) as runner:
        assert np.isfinite(runner.infer(calibration[:1])[0]).all()
    with pytest.raises(ModelFileError, match="LiteRT failed to run it") as info:
        with TFLiteRunner(str(int8), 1, spec=model.spec) as runner:
            runner.infer(calibration[:1])
    assert "\n" not in str(info.value) and str(int8) in str(info.value)
