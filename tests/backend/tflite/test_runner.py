"""TFLiteRunner: int8 I/O (de)quantization by hand, output ordering, and real litert-torch files of fsanet
(three outputs, NHWC input) in FP32 and full-integer INT8 with the spec in TFLite metadata."""
from __future__ import annotations

import numpy as np
import pytest

from edgekit.backend.tflite.runner import TFLiteRunner, _output_order, dequantize, quantize
from edgekit.errors import ModelFileError

INT8 = {"dtype": np.int8, "quantization": (0.5, -3)}


def test_quantize_by_hand():
    # q = round(x / 0.5 - 3), clipped to int8
    values = np.array([0.0, 1.0, -1.26, 100.0, -100.0], np.float32)
    np.testing.assert_array_equal(quantize(values, INT8), np.array([-3, -1, -6, 127, -128], np.int8))
    floats = {"dtype": np.float32, "quantization": (0.0, 0)}
    np.testing.assert_array_equal(quantize(values, floats), values)


def test_dequantize_by_hand():
    # x = (q + 3) * 0.5
    got = dequantize(np.array([-3, -1, 127], np.int8), INT8)
    np.testing.assert_array_equal(got, np.array([0.0, 1.0, 65.0], np.float32))
    assert got.dtype == np.float32


def test_output_order():
    assert _output_order(["delta", "p", "eta"], ("p", "eta", "delta")) == [1, 2, 0]
    assert _output_order(["output_2", "output_0", "output_1"], ("p", "eta", "delta")) == [1, 2, 0]
    assert _output_order(["a", "b"], ("x", "y")) == [0, 1]


@pytest.fixture(scope="module")
def tflite_files(tmp_path_factory):
    import torch

    from edgekit.backend.tflite.loader import convert_fp32, embed_spec
    from edgekit.backend.tflite.quantize import quantize_tflite
    from edgekit.export.onnx import torch_outputs
    from edgekit.models.weights import build_model

    torch.manual_seed(0)
    model = build_model("fsanet").eval()
    folder = tmp_path_factory.mktemp("tflite")
    faces = np.random.default_rng(0).uniform(-2, 2, size=(8, 3, 64, 64)).astype(np.float32)
    fp32 = convert_fp32(model, faces, folder / "fp32.tflite", "NHWC")
    int8 = quantize_tflite(fp32, folder / "int8.tflite", "int8", faces.transpose(0, 2, 3, 1))
    for path in (fp32, int8):
        assert embed_spec(path, model.spec)
    return model, fp32, int8, faces, torch_outputs(model, faces)


def _rel_l2(outputs, reference) -> float:
    return float(np.sqrt(sum(np.square(o - r).sum() for o, r in zip(outputs, reference)))
                 / np.sqrt(sum(np.square(r).sum() for r in reference)))


def test_fp32_matches_torch_with_nchw_batches(tflite_files):
    model, fp32, _, faces, reference = tflite_files
    with TFLiteRunner(str(fp32), threads=1) as runner:  # spec from the file's metadata
        assert runner.spec == model.spec
        assert runner.layout == "NHWC" and runner.io_dtype == "float32" and runner.max_batch == 1
        outputs = runner.infer(faces)  # NCHW in, transposed for the NHWC file; batch of 8 run one by one
    assert [o.shape for o in outputs] == [r.shape for r in reference]
    assert _rel_l2(outputs, reference) < 1e-4


def test_a_batch_already_in_the_files_layout_is_not_transposed(tflite_files):
    from edgekit.backend.base import preprocess_for

    model, fp32, int8, faces, _ = tflite_files
    for path in (fp32, int8):
        with TFLiteRunner(str(path), threads=1) as runner:
            assert runner.input_layout == "NHWC"
            assert preprocess_for(model.spec.preprocess, runner).layout == "NHWC"
            from_nchw = runner.infer(faces[:2])
            from_nhwc = runner.infer(np.ascontiguousarray(faces[:2].transpose(0, 2, 3, 1)))
        for a, b in zip(from_nchw, from_nhwc):
            np.testing.assert_array_equal(a, b)


def test_full_integer_file_has_int8_io_and_stays_close(tflite_files):
    _, _, int8, faces, reference = tflite_files
    with TFLiteRunner(str(int8), threads=1) as runner:
        assert runner.io_dtype == "int8"
        outputs = runner.infer(faces)
    assert all(o.dtype == np.float32 for o in outputs)
    assert _rel_l2(outputs, reference) < 0.1  # dequantized: the same scale as the float outputs


def test_bad_files_are_one_line_errors(tflite_files, tmp_path):
    model, fp32, *_ = tflite_files
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(fp32.read_bytes()[:3000])
    with pytest.raises(ModelFileError) as info:
        TFLiteRunner(str(truncated), spec=model.spec).open()
    assert str(truncated) in str(info.value) and "\n" not in str(info.value)
    import edgekit.models  # noqa: F401
    from edgekit.registry import create_model

    with pytest.raises(ModelFileError, match="does not fit model pfld_0.25x"):
        TFLiteRunner(str(fp32), spec=create_model("pfld_0.25x").spec).open()


def test_full_integer_ranges_cover_the_whole_calibration_set(tmp_path):
    """ai-edge-quantizer's own calibrate() merges per-image ranges with a moving average: one image at a time,
    ranges shrank toward a typical image and int8 inputs / outputs clipped (PFLD landmarks near the crop border
    were cut off, up to 22 px). The ranges must be the set's global min / max, as ONNX Runtime's MinMax."""
    import torch

    from edgekit.backend.tflite.loader import convert_fp32, open_interpreter
    from edgekit.backend.tflite.quantize import quantize_tflite

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.Linear(4 * 14 * 14, 6)).eval()
    images = np.random.default_rng(0).uniform(-1, 1, size=(12, 3, 16, 16)).astype(np.float32)
    images[0] *= 4  # one image with a 4x wider range, seen first
    fp32 = convert_fp32(model, images, tmp_path / "fp32.tflite", "NHWC")
    int8 = quantize_tflite(fp32, tmp_path / "int8.tflite", "int8", images.transpose(0, 2, 3, 1))
    interpreter = open_interpreter(int8, 1)
    scale, zero_point = interpreter.get_input_details()[0]["quantization"]
    assert scale * (-128 - zero_point) <= images.min() * 0.99 and scale * (127 - zero_point) >= images.max() * 0.99
    with torch.no_grad():
        outputs = model(torch.from_numpy(images)).numpy()
    scale, zero_point = interpreter.get_output_details()[0]["quantization"]
    assert scale * (-128 - zero_point) <= outputs.min() * 0.99 and scale * (127 - zero_point) >= outputs.max() * 0.99
