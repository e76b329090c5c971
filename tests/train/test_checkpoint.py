"""edgekit.train.checkpoint: resumable run checkpoints (weights files: tests/models/test_weights.py)."""
from __future__ import annotations

import pytest
import torch

from edgekit.errors import ModelFileError
from edgekit.models.load import load_checkpoint, load_model
from edgekit.models.weights import build_model
from edgekit.train.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def pfld():
    torch.manual_seed(0)
    return build_model("pfld_0.25x").eval()


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
