from __future__ import annotations

import csv
import math

import pytest
import torch

from edgekit.errors import EdgekitError, ModelFileError
from edgekit.models.load import load_checkpoint
from edgekit.models.weights import load_weights
from edgekit.train.loop import lr_factor, train
from edgekit.recipe import OptimConfig


def test_cosine_schedule_with_warmup():
    factor = lr_factor(OptimConfig(epochs=4, warmup_epochs=1, schedule="cosine"), steps_per_epoch=10)
    assert [factor(0), factor(4), factor(9)] == pytest.approx([0.1, 0.5, 1.0])
    assert factor(10) == pytest.approx(1.0)
    assert factor(25) == pytest.approx(0.5)  # half way through the 30 post-warm-up steps
    assert factor(40) == pytest.approx(0.0, abs=1e-12)


def test_step_schedule():
    factor = lr_factor(OptimConfig(epochs=60, warmup_epochs=0, schedule="step", milestones=(30, 50), gamma=0.1),
                       steps_per_epoch=2)
    assert [factor(0), factor(59), factor(60), factor(99), factor(100)] == pytest.approx([1, 1, 0.1, 0.1, 0.01])


@pytest.mark.parametrize("speed", [{}, {"channels_last": False}, {"cpu_bf16": True}])
def test_resume_is_bit_exact(tiny_recipe, tmp_path, speed):
    straight = train(tiny_recipe(epochs=2, out=tmp_path / "straight", **speed), progress=False, threads=1)
    train(tiny_recipe(epochs=1, out=tmp_path / "split", **speed), progress=False, threads=1)
    resumed = train(tiny_recipe(epochs=2, out=tmp_path / "split", **speed), resume=True, progress=False, threads=1)
    assert resumed["epochs"] == straight["epochs"] == 2
    a = load_checkpoint(tmp_path / "straight" / "last.pt")
    b = load_checkpoint(tmp_path / "split" / "last.pt")
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert a["step"] == b["step"] == 4 and a["best_metric"] == b["best_metric"]
    with open(tmp_path / "split" / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert {"loss", "val_nme", "lr", "images_per_s", "seconds"} <= rows[0].keys()
    assert math.isfinite(float(rows[1]["val_nme"]))


def test_channels_last_and_cpu_bf16(tiny_recipe):
    """channels_last: 4-D weights and batch images in NHWC order; cpu_bf16: convolutions in bf16 where the CPU
    has native bf16 (this one's /proc/cpuinfo decides), float32 elsewhere; the weights stay float32."""
    from edgekit.train.distributed import DistEnv
    from edgekit.train.loop import build_for_training, cpu_has_bf16, to_device, training_autocast

    env, scaler = DistEnv(), torch.amp.GradScaler("cuda", enabled=False)
    for recipe, nhwc, dtype in [(tiny_recipe(), True, torch.float32),
                                (tiny_recipe(channels_last=False), False, torch.float32),
                                (tiny_recipe(cpu_bf16=True), True, torch.bfloat16 if cpu_has_bf16() else torch.float32)]:
        model = build_for_training(recipe, env)
        convs = [p for p in model.parameters() if p.dim() == 4 and p.shape[1] > 1 and p.shape[2] * p.shape[3] > 1]
        assert convs and all(p.is_contiguous(memory_format=torch.channels_last) == nhwc for p in convs)
        batch = to_device({"image": torch.zeros(2, 3, 112, 112)}, recipe, env)
        assert batch["image"].is_contiguous(memory_format=torch.channels_last) == nhwc
        with training_autocast(recipe, env, scaler):
            outputs = model.forward_train(batch["image"])  # PFLD: its last layer is a Linear
        assert {value.dtype for value in outputs.values() if torch.is_tensor(value)} == {dtype}
        assert all(p.dtype == torch.float32 for p in model.parameters())


def test_outputs_and_best_weights(tiny_recipe, tmp_path):
    result = train(tiny_recipe(epochs=1, out=tmp_path / "r"), progress=False, threads=1)
    out = tmp_path / "r"
    assert {p.name for p in out.iterdir()} >= {"best.safetensors", "best.pt", "last.pt", "log.csv"}
    _, spec, name = load_weights(out / "best.safetensors")
    assert name == "pfld_0.25x" and spec.task == "landmarks"
    assert result["metric"] == "nme" and result["best_epoch"] == 1 and result["best"] > 0
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt["recipe"]["model"] == "pfld_0.25x" and ckpt["epoch"] == 1


def test_resume_refuses_a_checkpoint_of_another_model(tiny_recipe, tmp_path):
    train(tiny_recipe(epochs=1, out=tmp_path / "r"), progress=False, threads=1)
    other = tiny_recipe(epochs=2, out=tmp_path / "r")
    other = type(other)(**{**other.__dict__, "model": "pfld_1x"})
    with pytest.raises(ModelFileError, match="weights are for model pfld_0.25x, not pfld_1x"):
        train(other, resume=True, progress=False, threads=1)
    with pytest.raises(EdgekitError, match="nothing to resume"):
        train(tiny_recipe(epochs=1, out=tmp_path / "empty"), resume=True, progress=False)


def test_leftovers_of_interrupted_writes_are_removed(tmp_path):
    from edgekit.outputs import check_run_out

    (tmp_path / ".last.pt.edgekit-4194304-abcd1234.tmp").write_bytes(b"half")  # pid_max's ceiling: never alive
    (tmp_path / "last.pt").write_bytes(b"whole")
    check_run_out(tmp_path, resume=True, overwrite=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]
