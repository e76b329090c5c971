"""edgekit.head_v1: the flat heads of edgekit 0.1 files still load, as the same heads the zoo builds today."""
from __future__ import annotations

import json

import pytest
from safetensors import safe_open

from edgekit import serial
from edgekit.errors import SpecError
from edgekit.head_v1 import head_from_flat
from edgekit.heads import HeadSpec, PoseRegressionParams
from edgekit.paths import WEIGHTS_DIR
from edgekit.registry import create_model
from edgekit.specs import ModelSpec

SHIPPED = sorted(WEIGHTS_DIR.glob("*.safetensors"))


def _metadata(path) -> dict[str, str]:
    with safe_open(str(path), framework="np") as f:
        return f.metadata()


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_weights_load_their_head_as_the_zoo_head(path):
    """Files shipped before the decoder table hold the flat head (all of them on 2026-11-30); files shipped since,
    the kind form: both load as the head the zoo builds."""
    metadata = _metadata(path)
    stored = json.loads(metadata["edgekit.spec"])
    assert ("decode" in stored["head"]) != ("kind" in stored["head"])
    model = create_model(metadata["edgekit.model"], **json.loads(metadata.get("edgekit.model_args", "{}")))
    spec = ModelSpec.from_dict(stored)
    assert spec.head == model.spec.head and spec.task == model.spec.task
    assert ModelSpec.from_dict(json.loads(serial.dump_json(spec))) == spec  # new writes: the kind form, read back


def test_flat_fields_map_to_the_kinds_params():
    assert head_from_flat({"output": "pose", "decode": "regression", "outputs": ["pose"], "num_points": 0,
                           "heatmap_stride": 4, "num_bins": 66}) == {
        "kind": "pose_regression", "params": {}, "outputs": ["pose"]}
    flat = {"output": "landmarks", "decode": "local_soft_argmax", "outputs": ["h"], "num_points": 3,
            "heatmap_stride": 2, "soft_argmax_beta": 5.0, "local_radius": 1, "bin_width": 3.0}
    assert head_from_flat(flat)["params"] == {"num_points": 3, "stride": 2, "beta": 5.0, "radius": 1}
    assert serial.from_dict(HeadSpec, {"output": "pose", "decode": "regression", "outputs": ["p"]}) == \
        HeadSpec("pose_regression", ("p",), PoseRegressionParams())


@pytest.mark.parametrize("flat, problem", [
    ({"output": "landmarks", "decode": "regression", "num_points": 2, "stride": 4}, "unknown key 'stride' in head"),
    ({"output": "face", "decode": "regression"}, "head.output: 'face' is not one of"),
    ({"output": "landmarks", "decode": "bins"}, "head.decode must suit a landmarks head, got 'bins'"),
    ({"output": "pose", "decode": "pose_regression"}, "head.decode: 'pose_regression' is not an edgekit 0.1 decode"),
    ({"output": "landmarks", "decode": "pip", "num_points": 3, "num_neighbors": 1, "meanface": [0.1] * 4,
      "neighbors": [[1], [0]]}, r"num_points and num_neighbors \[3, 1\] disagree with the neighbors table"),
])
def test_malformed_flat_heads_are_one_spec_error(flat, problem):
    with pytest.raises(SpecError, match=problem):
        head_from_flat(flat)


def test_a_flat_wrong_type_names_the_new_key():
    flat = {"output": "landmarks", "decode": "regression", "outputs": ["x"], "num_points": "68"}
    with pytest.raises(SpecError, match=r"model.head.params.num_points: expected an integer"):
        serial.from_dict(HeadSpec, flat, "model.head")
