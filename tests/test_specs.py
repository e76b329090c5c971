import re

import pytest

from edgekit import serial
from edgekit.errors import SpecError
from edgekit.heads import BinsParams, RegressionParams, SsrParams
from edgekit.specs import HeadSpec, ModelSpec, PreprocessSpec, Target


def _spec() -> ModelSpec:
    pre = PreprocessSpec(input_size=(112, 112), mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    head = HeadSpec("regression", ("landmarks",), RegressionParams(68))
    return ModelSpec(name="toy", task="landmarks", preprocess=pre, head=head)


def test_model_spec_round_trips_through_yaml_and_json():
    spec = _spec()
    import json

    import yaml

    assert serial.from_dict(ModelSpec, yaml.safe_load(serial.dump_yaml(spec))) == spec
    assert ModelSpec.from_dict(json.loads(serial.dump_json(spec))) == spec


def test_unknown_key_is_named():
    data = _spec().to_dict()
    data["preprocess"]["meen"] = [0, 0, 0]
    with pytest.raises(SpecError, match=r"unknown key 'meen' in model.preprocess"):
        ModelSpec.from_dict(data)


def test_wrong_type_is_named():
    data = _spec().to_dict()
    data["head"]["params"]["num_points"] = "68"
    with pytest.raises(SpecError, match=r"model.head.params.num_points: expected an integer"):
        ModelSpec.from_dict(data)


def test_invalid_values_are_errors():
    data = _spec().to_dict()
    data["preprocess"]["mean"] = [0.5]
    with pytest.raises(SpecError, match="mean and std need 3 values"):
        ModelSpec.from_dict(data)


def test_target_yaml_names_the_file(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("name: t\nruntime: onnxruntime\nonnx:\n  opset: 17\n  dynamc_batch: true\n")
    with pytest.raises(SpecError) as info:
        serial.load_yaml(Target, path)
    assert str(info.value).startswith(str(path))
    assert "unknown key 'dynamc_batch' in Target.onnx" in str(info.value)


def test_tflite_target_requires_its_section():
    with pytest.raises(SpecError, match="needs a 'tflite' section"):
        serial.from_dict(Target, {"name": "x", "runtime": "tflite"})


@pytest.mark.parametrize("section, change, problem", [
    ("preprocess", {"input_size": [100000, 112]}, "preprocess: input_size must be positive and at most 4096"),
    ("preprocess", {"std": [0.5, float("nan"), 0.5]}, "preprocess: std must be positive and finite"),
    ("preprocess", {"detector_box_shift_y": 5.0}, "preprocess: detector_box_shift_y must be in [-1, 1]"),
    ("head.params", {"num_points": 100000}, "head.params: num_points must be in [1, 1000]"),
    ("head", {"kind": "nope"}, "head: kind must be one of bins, "),  # then every registered kind, sorted
    ("head", {"outputs": []}, "head: outputs must name 1 tensors for kind 'regression' (points)"),
    ("head", {"kind": "heatmap_argmax", "params": {"num_points": 68, "stride": 0}},
     "head.params: stride must be in [1, 4096]"),
    ("head", {"kind": "soft_argmax", "params": {"num_points": 2, "beta": float("inf")}},
     "head.params: beta must be positive and finite"),
])
def test_out_of_range_spec_values_name_the_key(section, change, problem):
    data = _spec().to_dict()
    part = data
    for key in section.split("."):
        part = part[key]
    part.update(change)
    with pytest.raises(SpecError) as info:
        ModelSpec.from_dict(data)
    assert f"model.{problem}" in str(info.value)


def test_heads_take_their_kinds_params_and_equal_ssr_stages():
    with pytest.raises(ValueError, match=r"kind 'heatmap_argmax' needs params \(HeatmapParams\)"):
        HeadSpec("heatmap_argmax", ("h",))
    with pytest.raises(ValueError, match="params must be HeatmapParams for kind 'heatmap_argmax', got 'BinsParams'"):
        HeadSpec("heatmap_argmax", ("h",), BinsParams())
    with pytest.raises(ValueError, match=r"stages must be stages of one size"):
        SsrParams(stages=(3, 5, 3))
    assert HeadSpec("bins", ("b",)) == HeadSpec("bins", ("b",), BinsParams(66, 3.0, -99.0))  # the kind's defaults
    with pytest.raises(ValueError, match=r"task must match the head's task \(landmarks\)"):
        ModelSpec(name="x", task="pose", preprocess=_spec().preprocess, head=_spec().head)


def test_spec_from_json_refuses_what_json_loads_chokes_on():
    good = serial.dump_json(_spec())
    assert ModelSpec.from_json(good) == _spec()
    for text, problem in [("[" * 5000 + "]" * 5000, "RecursionError"), ('{"name": 1' + "0" * 5000 + "}", "ValueError"),
                          ("{", "JSONDecodeError"), ("x" * (2 << 20), "at most 1048576"),
                          (b"\xff", "UnicodeDecodeError")]:
        with pytest.raises(SpecError, match=problem):
            ModelSpec.from_json(text)


@pytest.mark.parametrize("onnx, problem", [
    ({"opset": 21}, "opset must be in 13..20"), ({"opset": 12}, "opset must be in 13..20"),
    ({"parity_max_px": float("nan")}, "parity_max_px must be finite and >= 0"),
    ({"parity_images": 0}, "parity_images must be in [1, 4096]"),
])
def test_onnx_section_ranges(onnx, problem):
    with pytest.raises(SpecError, match=re.escape(f"Target.onnx: {problem}")):
        serial.from_dict(Target, {"name": "x", "runtime": "onnxruntime", "onnx": onnx})


@pytest.mark.parametrize("section, values, problem", [
    ("tensorrt", {"workspace_mb": -512}, "workspace_mb must be in [1, 1048576], got -512"),
    ("tensorrt", {"batch": [0, 1, 1]}, "batch must satisfy 1 <= min <= opt <= max <= 4096, got [0, 1, 1]"),
    ("tensorrt", {"dla_core": -1}, "dla_core must be in [0, 15], got -1"),
    ("int8", {"min_images": 0}, "min_images and max_images must satisfy"),
    ("int8", {"min_images": 300, "max_images": 256}, "got [300, 256]"),
    ("int8", {"holdout_images": -1}, "holdout_images must be in [0, 4096]"),
    ("int8", {"recalibrate": [99.9, 0.0]}, "percentile and recalibrate must be in (0, 100]"),
    ("int8", {"budget_mae": float("inf")}, "budget_mae must be finite"),
])
def test_target_section_ranges(section, values, problem):
    data = {"name": "x", "runtime": "tensorrt", "tensorrt": {}, "int8": {}}
    data[section] = values
    with pytest.raises(SpecError, match=re.escape(problem)):
        serial.from_dict(Target, data)
