from __future__ import annotations

import io

import pytest
import torch

from edgekit.errors import ModelFileError
from edgekit.train.checkpoint import (build_model, load_checkpoint, load_model, load_state, load_weights,
                                      save_checkpoint, save_weights)


@pytest.fixture(scope="module")
def pfld():
    torch.manual_seed(0)
    return build_model("pfld_0.25x").eval()


def test_weights_round_trip_with_spec(pfld, tmp_path):
    path = save_weights(pfld, tmp_path / "w.safetensors")
    state, spec, name = load_weights(path)
    assert name == "pfld_0.25x" and spec == pfld.spec.to_dict()
    for key, value in pfld.state_dict().items():
        assert torch.equal(state[key], value), key
    x = torch.rand(2, 3, 112, 112)
    assert torch.equal(load_model(path)(x)[0], pfld(x)[0])


def test_half_weights_load_as_float32(pfld, tmp_path):
    full = save_weights(pfld, tmp_path / "full.safetensors")
    half = save_weights(pfld, tmp_path / "half.safetensors", half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    state, _, _ = load_weights(half)
    weight = pfld.state_dict()["fc.weight"]
    assert state["fc.weight"].dtype == torch.float32
    assert torch.equal(state["fc.weight"], weight.half().float())
    assert state["stem.0.1.num_batches_tracked"].dtype == torch.int64  # integers stay as they are


def test_checkpoint_round_trip_is_weights_only(pfld, tmp_path):
    state = {"model_name": "pfld_0.25x", "model_args": {}, "model": pfld.state_dict(), "epoch": 3,
             "best_metric": 4.5, "rng": {"torch": torch.get_rng_state(), "python": [1, 2, 3]},
             "recipe": {"model": "pfld_0.25x", "optim": {"milestones": [30, 50]}}}
    path = save_checkpoint(tmp_path / "c.pt", state)
    assert torch.load(path, weights_only=True)["epoch"] == 3
    loaded = load_checkpoint(path)
    assert loaded["recipe"] == state["recipe"] and loaded["best_metric"] == 4.5
    assert torch.equal(loaded["rng"]["torch"], state["rng"]["torch"])
    assert not list(tmp_path.glob(".*.tmp"))  # atomic: no temp file left behind
    x = torch.rand(1, 3, 112, 112)
    assert torch.equal(load_model(path)(x)[0], pfld(x)[0])


def test_weights_of_another_model_are_refused(pfld, tmp_path):
    big = build_model("pfld_1x")
    path = save_weights(big, tmp_path / "big.safetensors")
    with pytest.raises(ModelFileError, match="weights are for model pfld_1x, not pfld_0.25x") as info:
        load_model(path, expect="pfld_0.25x")
    assert str(path) in str(info.value)
    with pytest.raises(ModelFileError, match=r"weights are for model pfld_1x, not pfld_0.25x \(.*mis-shaped"):
        load_state(build_model("pfld_0.25x"), load_weights(path)[0], path, "pfld_1x")


def test_weights_that_do_not_fit_their_own_name(pfld, tmp_path):
    state = dict(pfld.state_dict())
    state.pop("fc.bias")
    with pytest.raises(ModelFileError, match="do not fit model pfld_0.25x .1 missing"):
        load_state(build_model("pfld_0.25x"), state, tmp_path / "x.pt", "pfld_0.25x")


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_corrupt_files_give_one_line(tmp_path, suffix):
    path = tmp_path / f"junk{suffix}"
    path.write_bytes(b"\x00garbage" * 50)
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_pickled_objects_are_never_loaded(tmp_path):
    buffer = io.BytesIO()
    torch.save({"model_name": "pfld_0.25x", "model": {}, "payload": ModelFileError("x")}, buffer)
    path = tmp_path / "evil.pt"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(ModelFileError, match="not a readable checkpoint"):
        load_checkpoint(path)


def test_plain_state_dict_is_not_an_edgekit_checkpoint(pfld, tmp_path):
    path = tmp_path / "plain.pt"
    torch.save(pfld.state_dict(), path)
    with pytest.raises(ModelFileError, match="not an edgekit checkpoint"):
        load_model(path)


def test_registered_name_without_shipped_weights(monkeypatch, tmp_path):
    monkeypatch.setattr("edgekit.train.checkpoint.WEIGHTS_DIR", tmp_path)
    with pytest.raises(ModelFileError, match="no shipped weights"):
        load_model("pfld_1x")
    with pytest.raises(ModelFileError, match="not a registered model name"):
        load_model("no_such_model")
