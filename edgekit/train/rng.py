"""Seeding and RNG state as checkpoint-safe values (tensors, lists, ints, floats: no pickled objects)."""
from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch; ask torch for deterministic kernels (warn where none exist)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS (read at CUDA init)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False


def seed_rank(seed: int, rank: int, epoch: int = 0) -> None:
    """Give DDP rank ``rank`` its own python / numpy / torch streams (dropout masks, any random op in a loss), drawn
    from (seed, rank, epoch); called after the model is built, so every rank starts from the same weights."""
    rank_seed = int(np.random.SeedSequence([seed, rank, epoch]).generate_state(1)[0])
    random.seed(rank_seed)
    np.random.seed(rank_seed)
    torch.manual_seed(rank_seed)


def rng_state() -> dict:
    """Global RNG states of torch (CPU + CUDA), numpy and python, as tensors and lists."""
    version, py_state, py_gauss = random.getstate()
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss),
                  "gauss": float(gauss)},
        "python": {"version": int(version), "state": list(py_state),
                   "gauss": [] if py_gauss is None else [float(py_gauss)]},
    }


def restore_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    np_state = state["numpy"]
    np.random.set_state(("MT19937", np_state["keys"].numpy().astype(np.uint32), np_state["pos"],
                         np_state["has_gauss"], np_state["gauss"]))
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss"][0] if py["gauss"] else None))
