"""edgekit.models.load: the spec stored with the weights is checked against the model they rebuild."""
from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from edgekit.errors import ModelFileError
from edgekit.heads import RegressionParams
from edgekit.models.load import check_stored_spec, load_model
from edgekit.models.weights import build_model, save_weights, shipped_weights


def _with_spec(source, target, change) -> None:
    """A copy of weights file ``source`` whose stored spec dict went through ``change``."""
    with safe_open(str(source), framework="pt") as f:
        metadata, tensors = f.metadata(), {key: f.get_tensor(key) for key in f.keys()}
    spec = json.loads(metadata["edgekit.spec"])
    change(spec)
    save_file(tensors, str(target), {**metadata, "edgekit.spec": json.dumps(spec)})


@pytest.fixture(scope="module")
def pfld():
    torch.manual_seed(0)
    return build_model("pfld_0.25x").eval()


def test_a_stored_spec_that_decodes_otherwise_is_refused(pfld, tmp_path):
    saved = save_weights(pfld, tmp_path / "w.safetensors")
    assert load_model(saved).spec == pfld.spec
    _with_spec(saved, tmp_path / "scheme.safetensors", lambda spec: spec.update(scheme="wflw98"))
    with pytest.raises(ModelFileError, match=r"scheme.safetensors: the spec saved with the weights differs from "
                                             r"model pfld_0.25x's in scheme: weights of an older pfld_0.25x\?"):
        load_model(tmp_path / "scheme.safetensors")
    _with_spec(saved, tmp_path / "mean.safetensors", lambda spec: spec["preprocess"].update(mean=[0.5, 0.5, 0.5]))
    with pytest.raises(ModelFileError, match="differs from model pfld_0.25x's in preprocess"):
        load_model(tmp_path / "mean.safetensors")


def test_detector_framing_and_description_follow_the_code(pfld):
    spec = pfld.spec
    older = dataclasses.replace(spec, description="old words", preprocess=dataclasses.replace(
        spec.preprocess, detector_box_scale=1.2, detector_box_shift_y=0.08))  # as fsanet's shipped file
    check_stored_spec(older, spec, "w.safetensors")  # no error
    other_head = dataclasses.replace(spec, head=dataclasses.replace(spec.head, params=RegressionParams(5)))
    with pytest.raises(ModelFileError, match="in head"):
        check_stored_spec(other_head, spec, "w.safetensors")


def test_shipped_weights_hold_their_models_spec():
    model = load_model("fsanet")  # stored before the detector framing was retuned, with a flat 0.1 head
    assert shipped_weights("fsanet").is_file() and model.spec.head.kind == "ssr"
