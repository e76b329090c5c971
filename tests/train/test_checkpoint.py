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


def _weights_with(tmp_path, pfld, tensors: dict | None = None, **metadata: str):
    """pfld's weights with ``tensors`` replaced and metadata entries replaced (None: removed)."""
    import json

    from safetensors.torch import save

    state = {k: v.detach().contiguous().clone() for k, v in pfld.state_dict().items()}
    meta = {"edgekit.format": "1", "edgekit.model": "pfld_0.25x", "edgekit.model_args": "{}",
            "edgekit.spec": json.dumps(pfld.spec.to_dict())}
    meta.update({k.replace("_", ".", 1): v for k, v in metadata.items()})
    path = tmp_path / "w.safetensors"
    path.write_bytes(save({**state, **(tensors or {})}, metadata={k: v for k, v in meta.items() if v is not None}))
    return path


@pytest.mark.parametrize("metadata, problem", [
    ({"edgekit_spec": None}, "no 'edgekit.spec' metadata"),
    ({"edgekit_spec": "{oops"}, "'edgekit.spec' metadata is not valid JSON (JSONDecodeError)"),
    ({"edgekit_spec": '"a string"'}, "'edgekit.spec' metadata is a JSON str, not a dict"),
    ({"edgekit_spec": '{"name": "x"}'}, "invalid 'edgekit.spec' metadata (missing key 'task' in model)"),
    ({"edgekit_model_args": "[1]"}, "'edgekit.model_args' metadata is a JSON list, not a dict"),
    ({"edgekit_model_args": '{"depth": 3}'}, "unexpected keyword argument 'depth'"),
    ({"edgekit_model_args": '{"width": [1, 2]}'}, "model_args.width is [1, 2]"),
])
def test_malformed_weights_metadata_is_one_line(pfld, tmp_path, metadata, problem):
    path = _weights_with(tmp_path, pfld, **metadata)
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    assert str(info.value).startswith(f"{path}: ") and problem in str(info.value)


@pytest.mark.parametrize("dtype", [torch.int32, torch.complex64, torch.float64])
def test_parameters_of_foreign_dtypes_are_refused(pfld, tmp_path, dtype):
    path = _weights_with(tmp_path, pfld, {"fc.weight": pfld.state_dict()["fc.weight"].to(dtype)})
    with pytest.raises(ModelFileError, match=f"tensor 'fc.weight' is {dtype}, model pfld_0.25x has torch.float32"):
        load_model(path)


def test_bfloat16_weights_and_int64_buffers_load(pfld, tmp_path):
    state = pfld.state_dict()
    path = _weights_with(tmp_path, pfld, {"fc.weight": state["fc.weight"].bfloat16()})
    loaded = load_model(path).state_dict()
    assert loaded["fc.weight"].dtype == torch.float32
    assert torch.equal(loaded["fc.weight"], state["fc.weight"].bfloat16().float())
    assert loaded["stem.0.1.num_batches_tracked"].dtype == torch.int64
    with pytest.raises(ModelFileError, match="tensor 'stem.0.1.num_batches_tracked' is torch.int32"):
        load_model(_weights_with(tmp_path, pfld, {"stem.0.1.num_batches_tracked": torch.tensor(0, dtype=torch.int32)}))


def test_unknown_model_arguments_are_a_spec_error():
    from edgekit.errors import SpecError

    with pytest.raises(SpecError, match=r"pfld_0.25x cannot be built with these model_args \(TypeError: .*'wdth'"):
        build_model("pfld_0.25x", {"wdth": 0.5})
    with pytest.raises(SpecError, match="model_args.width is nan"):
        build_model("pipnet_mbv2", {"width": float("nan")})


def _run_checkpoint(pfld, tmp_path, **changes):
    """A resumable checkpoint of pfld (AdamW, LambdaLR, no AMP) with ``changes``; returns (path, live objects)."""
    from edgekit.train.rng import rng_state

    model = build_model("pfld_0.25x")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    state = {"model_name": "pfld_0.25x", "model_args": {}, "model": pfld.state_dict(),
             "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
             "epoch": 3, "step": 30, "best_metric": 7.5, "best_epoch": 2, "rng": rng_state(), **changes}
    path = save_checkpoint(tmp_path / "last.pt", {k: v for k, v in state.items() if v is not None})
    return path, (model, optimizer, scheduler, scaler)


def test_resume_into_restores_progress(pfld, tmp_path):
    from edgekit.train.checkpoint import resume_into

    path, live = _run_checkpoint(pfld, tmp_path)
    assert resume_into(path, *live) == {"epoch": 3, "step": 30, "best_metric": 7.5, "best_epoch": 2}
    assert torch.equal(live[0].state_dict()["fc.weight"], pfld.state_dict()["fc.weight"])


@pytest.mark.parametrize("changes, problem", [
    ({"optimizer": None}, "'optimizer' is missing"),
    ({"epoch": "3"}, "'epoch' is str"),
    ({"step": True}, "'step' is bool"),
    ({"epoch": -1}, "negative epoch or step"),
    ({"rng": {"torch": torch.zeros(2, dtype=torch.uint8)}}, "not a resumable checkpoint of this run"),
    ({"scheduler": {"lr_lambdas": "x"}}, "not a resumable checkpoint of this run"),
    ({"model_name": "pfld_1x"}, "weights are for model pfld_1x, not pfld_0.25x"),
    ({"model": {"fc.weight": "not a tensor"}}, "the model state is not a mapping of tensors"),
])
def test_partial_or_foreign_run_checkpoints_are_one_line(pfld, tmp_path, changes, problem):
    from edgekit.train.checkpoint import resume_into

    path, live = _run_checkpoint(pfld, tmp_path, **changes)
    before = path.read_bytes()
    with pytest.raises(ModelFileError) as info:
        resume_into(path, *live)
    assert str(info.value).startswith(f"{path}: ") and problem in str(info.value)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_optimizer_moments_must_fit_their_parameters(pfld, tmp_path):
    from edgekit.train.checkpoint import resume_into

    model = build_model("pfld_0.25x")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    first = next(model.parameters())
    first.grad = torch.zeros_like(first)
    optimizer.step()
    moments = optimizer.state_dict()
    moments["state"][0] = {**moments["state"][0], "exp_avg": torch.zeros(5)}
    path, live = _run_checkpoint(pfld, tmp_path, optimizer=moments)
    with pytest.raises(ModelFileError, match=r"optimizer state 'exp_avg' has shape \[5\]"):
        resume_into(path, *live)
