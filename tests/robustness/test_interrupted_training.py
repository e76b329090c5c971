"""SIGKILL ``edgekit train`` in the middle of epoch 2, ``--resume``, and get bit for bit what an uninterrupted
run of the same seed gets (CPU: data order and augmentation depend only on (seed, epoch, index); every RNG state,
the optimizer and the scheduler travel in last.pt)."""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

PROJECT = Path(__file__).resolve().parents[2]
EPOCHS = 3
TIMING_COLUMNS = {"seconds", "images_per_s"}  # wall-clock columns of log.csv: the only ones allowed to differ


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> Path:
    """PFLD 0.25x on 24 synthetic faces, batch 4: 6 steps per epoch (~1 s), long enough to be killed inside."""
    from edgekit.data.synthetic import write_synthetic_folder

    root = tmp_path_factory.mktemp("interrupted")
    write_synthetic_folder(root / "faces", 24, np.random.default_rng(7), size=128)
    path = root / "recipe.yaml"
    faces = f"{{path: {root / 'faces'}}}"
    path.write_text(f"model: pfld_0.25x\ndata: {{train: {faces}, val: {faces}}}\nseed: 11\n"
                    f"optim: {{epochs: {EPOCHS}, batch_size: 4, lr: 0.002, warmup_epochs: 1}}\n")
    return path


def start(recipe: Path, out: Path, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "edgekit", "train", str(recipe), "--out", str(out), "--threads", "1",
               "--no-progress", *extra]
    return subprocess.Popen(command, cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> None:
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err


def logged_epochs(out: Path) -> int:
    """Rows in log.csv: written after last.pt, so epoch k's row means its checkpoint is complete."""
    try:
        return len((out / "log.csv").read_text().splitlines()) - 1
    except FileNotFoundError:
        return 0


def kill_in_epoch_2(process: subprocess.Popen, out: Path) -> None:
    deadline = time.monotonic() + 60
    while logged_epochs(out) < 1:
        assert process.poll() is None and time.monotonic() < deadline, "training ended before epoch 1 was logged"
        time.sleep(0.005)
    time.sleep(0.2)  # a few steps into epoch 2
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def log_rows(out: Path) -> list[dict]:
    with (out / "log.csv").open(newline="") as f:
        return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in csv.DictReader(f)]


def assert_same_weights(ours: Path, theirs: Path) -> None:
    """Same tensors and metadata. Not the same bytes: safetensors writes its metadata map in a per-process
    random order (a Rust HashMap), so even identical weights differ in the file header."""
    from edgekit.models.weights import load_weights

    (a, spec_a, name_a), (b, spec_b, name_b) = load_weights(ours), load_weights(theirs)
    assert (spec_a, name_a) == (spec_b, name_b) and a.keys() == b.keys()
    assert all(torch.equal(a[key], b[key]) for key in a)


def test_resume_after_sigkill_is_bit_identical(recipe, tmp_path):
    reference, interrupted = tmp_path / "reference", tmp_path / "interrupted"
    whole = start(recipe, reference)  # runs beside the interrupted one (each on 1 thread)
    killed = start(recipe, interrupted)
    kill_in_epoch_2(killed, interrupted)
    assert killed.returncode == -signal.SIGKILL
    state = torch.load(interrupted / "last.pt", map_location="cpu", weights_only=True)
    assert state["epoch"] == 1, "the kill came after epoch 2 had finished: not a mid-epoch interruption"
    finish(start(recipe, interrupted, "--resume"))
    finish(whole)
    ours = torch.load(interrupted / "last.pt", map_location="cpu", weights_only=True)
    theirs = torch.load(reference / "last.pt", map_location="cpu", weights_only=True)
    assert ours["epoch"] == theirs["epoch"] == EPOCHS and ours["step"] == theirs["step"] == EPOCHS * 6
    assert ours["model"].keys() == theirs["model"].keys()
    for key, value in theirs["model"].items():
        assert torch.equal(ours["model"][key], value), f"weights differ at {key}"
    for key, value in theirs["optimizer"]["state"].items():  # Adam moments too
        for name, tensor in value.items():
            assert torch.equal(ours["optimizer"]["state"][key][name], tensor), f"optimizer {key}.{name} differs"
    assert_same_weights(interrupted / "best.safetensors", reference / "best.safetensors")
    assert log_rows(interrupted) == log_rows(reference) and len(log_rows(reference)) == EPOCHS
