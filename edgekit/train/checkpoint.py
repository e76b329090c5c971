"""Weights (safetensors + spec metadata) and resumable training checkpoints (``.pt`` readable with
``torch.load(weights_only=True)``). Nothing here ever unpickles a user file."""
from __future__ import annotations

import io
import json
import pickle
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from edgekit.atomic import atomic_write_bytes
from edgekit.errors import EdgekitError, ModelFileError
from edgekit.paths import WEIGHTS_DIR

FORMAT = "1"
CHECKPOINT_SUFFIXES = (".pt", ".pth")


def build_model(name: str, model_args: dict[str, Any] | None = None) -> nn.Module:
    """``create_model(name, **model_args)`` that remembers its name and args, so weights can rebuild it."""
    from edgekit.registry import create_model

    args = dict(model_args or {})
    model = create_model(name, **args)
    model.edgekit_name = name
    model.edgekit_args = args
    return model


def model_identity(model: nn.Module) -> tuple[str, dict[str, Any]]:
    """(registered name, builder args) of a model made by ``build_model`` (else its spec name, no args)."""
    return getattr(model, "edgekit_name", model.spec.name), dict(getattr(model, "edgekit_args", {}))


# ----------------------------------------------------------------------------- weights (.safetensors)


def save_weights(model: nn.Module, path: str | Path, half: bool = False) -> Path:
    """Write the model's state_dict with its spec; ``half`` stores float tensors as fp16 (loaded back as fp32)."""
    from safetensors.torch import save

    name, args = model_identity(model)
    tensors = {}
    for key, value in model.state_dict().items():
        value = value.detach().cpu().contiguous().clone()  # clone: safetensors refuses shared storage
        tensors[key] = value.half() if half and value.is_floating_point() else value
    metadata = {
        "edgekit.format": FORMAT,
        "edgekit.model": name,
        "edgekit.model_args": json.dumps(args),
        "edgekit.spec": json.dumps(model.spec.to_dict()),
    }
    return atomic_write_bytes(path, save(tensors, metadata=metadata))


def load_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict, str]:
    """(state_dict in fp32, spec dict, model name) from a ``.safetensors`` written by ``save_weights``."""
    from safetensors import safe_open

    path = Path(path)
    _require_file(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            state = {key: f.get_tensor(key) for key in f.keys()}
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise ModelFileError(f"not a readable safetensors file ({_first_line(exc)})", path) from None
    if metadata.get("edgekit.format") != FORMAT or "edgekit.model" not in metadata:
        raise ModelFileError("not an edgekit weights file (no edgekit metadata)", path)
    state = {k: v.float() if v.dtype == torch.float16 else v for k, v in state.items()}
    return state, json.loads(metadata["edgekit.spec"]), metadata["edgekit.model"]


def _weights_args(path: Path) -> dict[str, Any]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return json.loads((f.metadata() or {}).get("edgekit.model_args", "{}"))


# ----------------------------------------------------------------------------- training checkpoints (.pt)


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write a checkpoint of plain tensors / lists / dicts / str / int / float atomically."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; anything else is a one-line ModelFileError."""
    path = Path(path)
    _require_file(path)
    try:
        with warnings.catch_warnings():  # "Detected pickle protocol 4 ...": the error below says it all
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # a pickle naming callables other than tensor rebuilders, or garbage
        raise ModelFileError("not a readable checkpoint: refused by the tensors-only loader "
                             f"({_unpickler_reason(exc)}); edgekit never unpickles code", path) from None
    except Exception as exc:  # corrupt zip, truncated file
        raise ModelFileError(f"not a readable checkpoint ({_first_line(exc)})", path) from None
    if not isinstance(state, dict) or "model" not in state or "model_name" not in state:
        raise ModelFileError("not an edgekit checkpoint (no model state and name)", path)
    return state


# ----------------------------------------------------------------------------- models from any source


def load_model(source: str | Path, expect: str | None = None) -> nn.Module:
    """A model in eval mode from a registered name (its shipped weights), a ``.safetensors`` or a ``.pt``.

    ``expect``: the registered name the file must hold (e.g. the model being resumed), else ModelFileError."""
    path = _source_path(source)
    if path.suffix in CHECKPOINT_SUFFIXES:
        ckpt = load_checkpoint(path)
        name, args, state = ckpt["model_name"], dict(ckpt.get("model_args", {})), ckpt["model"]
    else:
        state, _, name = load_weights(path)
        args = _weights_args(path)
    if expect is not None and name != expect:
        raise ModelFileError(f"weights are for model {name}, not {expect}", path)
    try:
        model = build_model(name, args)
    except EdgekitError as exc:
        raise ModelFileError(f"weights are for model {name}, which cannot be built ({exc})", path) from None
    load_state(model, state, path, name)
    return model.eval()


def load_state(model: nn.Module, state: dict[str, torch.Tensor], path: str | Path, file_model: str) -> None:
    """``model.load_state_dict(state)`` that turns a key or shape mismatch into one ModelFileError line."""
    own = model.state_dict()
    wrong_shape = [k for k in own.keys() & state.keys() if own[k].shape != state[k].shape]
    if own.keys() != state.keys() or wrong_shape:
        target = model_identity(model)[0]
        detail = f"{len(own.keys() - state.keys())} missing, {len(state.keys() - own.keys())} unexpected, " \
                 f"{len(wrong_shape)} mis-shaped tensors"
        if file_model != target:
            raise ModelFileError(f"weights are for model {file_model}, not {target} ({detail})", path)
        raise ModelFileError(f"weights do not fit model {target} ({detail})", path)
    model.load_state_dict(state)


def shipped_weights(name: str) -> Path:
    return WEIGHTS_DIR / f"{name}.safetensors"


def _source_path(source: str | Path) -> Path:
    path = Path(source)
    if path.suffix in (".safetensors", *CHECKPOINT_SUFFIXES):
        return path
    from edgekit.registry import list_models

    if str(source) in list_models():
        shipped = shipped_weights(str(source))
        if not shipped.is_file():
            raise ModelFileError(f"model {source} has no shipped weights yet: train it (edgekit train {source}) "
                                 "and pass the .safetensors", shipped)
        return shipped
    raise ModelFileError("not a registered model name, .safetensors or .pt checkpoint", path)


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise ModelFileError("file not found", path)


def _unpickler_reason(exc: Exception) -> str:
    """torch's multi-paragraph weights_only error -> its one useful sentence ('Unsupported global: GLOBAL io.open')."""
    detail = str(exc).partition("WeightsUnpickler error:")[2].strip()
    return detail.split(". ")[0].splitlines()[0][:120] if detail else type(exc).__name__


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:120]}" if text else type(exc).__name__
