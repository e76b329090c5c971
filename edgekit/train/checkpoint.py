"""Resumable training checkpoints (``.pt`` readable with ``torch.load(weights_only=True)``). Weights files and
loading a model from any source are edgekit.models.weights / edgekit.models.load (read below train/ too)."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
from torch import nn

from edgekit.atomic import atomic_write_bytes
from edgekit.errors import ModelFileError
from edgekit.models.load import load_checkpoint, load_state, shown
from edgekit.models.weights import first_line, model_identity


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write a checkpoint of plain tensors / lists / dicts / str / int / float atomically."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


PROGRESS_KEYS = {"epoch": int, "step": int, "best_metric": (int, float), "best_epoch": int}
TRAINING_KEYS = {"optimizer": dict, "scheduler": dict, "scaler": dict, "rng": dict}


def resume_into(path: str | Path, model: nn.Module, optimizer: Any, scheduler: Any, scaler: Any) -> dict:
    """Load the run checkpoint ``path`` (``last.pt``) into the live model, optimizer, scheduler, AMP scaler and
    RNGs; returns its progress values (``PROGRESS_KEYS``). A checkpoint of another model, or a foreign or partial
    one (keys missing, wrong types, optimizer state that does not fit the parameters), is one ModelFileError;
    nothing is written."""
    from edgekit.train.rng import restore_rng_state

    path = Path(path)
    state = load_checkpoint(path)
    expected = model_identity(model)[0]
    if state["model_name"] != expected:
        raise ModelFileError(f"weights are for model {shown(state['model_name'])}, not {expected}", path)
    _check_keys(state, {**TRAINING_KEYS, **PROGRESS_KEYS}, path)
    if min(state["epoch"], state["step"], state["best_epoch"]) < 0:
        raise ModelFileError("not a resumable checkpoint: negative epoch or step", path)
    load_state(model, state["model"], path, state["model_name"])
    try:
        optimizer.load_state_dict(state["optimizer"])
        _check_optimizer_state(optimizer)
        scheduler.load_state_dict(state["scheduler"])
        if state["scaler"]:  # empty when saved without AMP (CPU)
            scaler.load_state_dict(state["scaler"])
        restore_rng_state(state["rng"])
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as exc:
        raise ModelFileError(f"not a resumable checkpoint of this run ({first_line(exc)})", path) from None
    return {key: state[key] for key in PROGRESS_KEYS}


def _check_keys(state: dict, kinds: dict[str, Any], path: Path) -> None:
    for key, kind in kinds.items():
        value = state.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            found = type(value).__name__ if key in state else "missing"
            raise ModelFileError(f"not a resumable checkpoint: '{key}' is {found}", path)


def _check_optimizer_state(optimizer: Any) -> None:
    """ValueError when a loaded per-parameter state tensor (AdamW's moments) does not have its parameter's shape:
    torch accepts it and fails at the first step."""
    for group in optimizer.param_groups:
        for param in group["params"]:
            for name, value in optimizer.state.get(param, {}).items():
                if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape != param.shape:
                    raise ValueError(f"optimizer state '{name}' has shape {list(value.shape)}, its parameter "
                                     f"{list(param.shape)}")
