"""``edgekit train`` under ``torchrun --nproc_per_node 2`` (gloo on CPU): each rank trains its half of the faces,
the checkpoint holds every rank's RNG state, ``--resume`` gives each rank its own state back and continues the
run bit for bit; BatchNorm running statistics are averaged over the ranks (torch's SyncBatchNorm refuses CPU
tensors, which the second test pins down)."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

PROJECT = Path(__file__).resolve().parents[2]
FACES, BATCH = 16, 4  # 2 ranks x 8 faces: 2 steps per epoch on each rank (one process would take 4)


def torchrun(*args: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args]
    return subprocess.Popen(command, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


def finish(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=240)
    assert process.returncode == 0, err[-3000:]
    return out


def train(recipe: Path, out: Path, epochs: int, *extra: str) -> subprocess.Popen:
    return torchrun("-m", "edgekit", "train", str(recipe), "--out", str(out), "--epochs", str(epochs),
                    "--threads", "1", "--no-progress", *extra)


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> Path:
    from edgekit.data.synthetic import write_synthetic_folder

    root = tmp_path_factory.mktemp("torchrun")
    write_synthetic_folder(root / "faces", FACES, np.random.default_rng(5), size=128)
    faces = f"{{path: {root / 'faces'}}}"
    path = root / "recipe.yaml"
    path.write_text(f"model: pfld_0.25x\ndata: {{train: {faces}, val: {faces}}}\nseed: 4\n"
                    f"optim: {{epochs: 2, batch_size: {BATCH}, lr: 0.002, warmup_epochs: 1}}\n")
    return path


def checkpoint(out: Path) -> dict:
    return torch.load(out / "last.pt", map_location="cpu", weights_only=True)


def same_rng(a: dict, b: dict) -> bool:
    return torch.equal(a["torch"], b["torch"]) and torch.equal(a["numpy"]["keys"], b["numpy"]["keys"]) \
        and a["numpy"]["pos"] == b["numpy"]["pos"] and a["python"] == b["python"]


@pytest.mark.slow  # three torchrun launches of two processes: ~60 s on 2 busy cores
def test_two_ranks_train_and_resume_bit_for_bit(recipe, tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    whole = train(recipe, straight, 2)  # beside the split run, each rank on 1 thread
    assert "best val nme" in finish(train(recipe, split, 1))
    first = checkpoint(split)
    assert first["epoch"] == 1 and first["step"] == FACES // 2 // BATCH  # each rank stepped over half the faces
    ranks = first["rng_ranks"]
    assert len(ranks) == 2 and not same_rng(ranks[0], ranks[1])  # both ranks ran, each with its own streams
    assert same_rng(first["rng"], ranks[0])

    finish(train(recipe, split, 2, "--resume"))
    finish(whole)
    resumed, reference = checkpoint(split), checkpoint(straight)
    assert resumed["epoch"] == reference["epoch"] == 2 and resumed["step"] == reference["step"] == 4
    for rank in (0, 1):  # each rank continued from its own state, not rank 0's
        assert same_rng(resumed["rng_ranks"][rank], reference["rng_ranks"][rank]), rank
    for key, value in reference["model"].items():  # BatchNorm running statistics included
        assert torch.equal(resumed["model"][key], value), key
    with (split / "log.csv").open(newline="") as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["1", "2"]


BATCHNORM_CHECK = textwrap.dedent("""
    import sys
    import torch, torch.distributed as dist
    from torch import nn
    from edgekit.train.distributed import average_batchnorm_stats, prepare_batchnorm, setup_distributed

    env = setup_distributed()
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4)).train()
    assert prepare_batchnorm(model, env) is model and type(model[1]) is nn.BatchNorm2d  # CPU: kept
    model(torch.full((2, 3, 4, 4), float(env.rank)) + torch.arange(4.0))  # rank-dependent statistics
    own = [model[1].running_mean.clone(), model[1].running_var.clone()]
    average_batchnorm_stats(model, env)
    for mine, averaged in zip(own, (model[1].running_mean, model[1].running_var)):
        total = mine.clone()
        dist.all_reduce(total)
        assert torch.allclose(averaged, total / 2), (averaged, total / 2)
    try:
        nn.SyncBatchNorm.convert_sync_batchnorm(model)(torch.ones(2, 3, 4, 4))
    except ValueError as exc:
        assert "expected input tensor to be on GPU" in str(exc), exc
        said = f"rank {env.rank}: averaged; SyncBatchNorm refuses CPU"
    else:
        said = f"rank {env.rank}: SyncBatchNorm ran on CPU"
    with open(f"{sys.argv[1]}/rank{env.rank}.txt", "w") as f:  # one file per rank: stdout lines interleave
        f.write(said)
    dist.destroy_process_group()
""")


def test_batchnorm_statistics_are_averaged_and_syncbatchnorm_refuses_cpu(tmp_path):
    script = tmp_path / "batchnorm_check.py"
    script.write_text(BATCHNORM_CHECK)
    finish(torchrun(str(script), str(tmp_path)))
    said = [(tmp_path / f"rank{rank}.txt").read_text() for rank in (0, 1)]
    assert said == [f"rank {rank}: averaged; SyncBatchNorm refuses CPU" for rank in (0, 1)]
