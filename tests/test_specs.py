import pytest

from edgekit import serial
from edgekit.errors import SpecError
from edgekit.specs import HeadSpec, ModelSpec, PreprocessSpec, Target


def _spec() -> ModelSpec:
    pre = PreprocessSpec(input_size=(112, 112), mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    head = HeadSpec(output="landmarks", decode="regression", outputs=("landmarks",), num_points=68)
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
    data["head"]["num_points"] = "68"
    with pytest.raises(SpecError, match=r"model.head.num_points: expected an integer"):
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
