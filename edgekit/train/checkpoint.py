"""Weights (safetensors + spec metadata) and resumable training checkpoints (``.pt`` readable with
``torch.load(weights_only=True)``). Nothing here ever unpickles a user file."""
from __future__ import annotations

import io
import json
import math
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from edgekit.atomic import atomic_write_bytes
from edgekit.errors import EdgekitError, ModelFileError, SpecError
from edgekit.paths import WEIGHTS_DIR
from edgekit.serial import excerpt

FORMAT = "1"
CHECKPOINT_SUFFIXES = (".pt", ".pth")
FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)  # what a float parameter may be stored as


def build_model(name: str, model_args: dict[str, Any] | None = None) -> nn.Module:
    """``create_model(name, **model_args)`` that remembers its name and args, so weights can rebuild it."""
    from edgekit.registry import create_model

    args = dict(model_args or {})
    bad = [k for k, v in args.items() if not isinstance(v, (bool, int, float, str))
           or (isinstance(v, float) and not math.isfinite(v))]
    if bad:
        raise SpecError(f"model_args.{bad[0]} is {excerpt(args[bad[0]])}: builder arguments are finite numbers, "
                        "true/false or strings")
    try:
        model = create_model(name, **args)
    except (TypeError, ValueError) as exc:  # an argument the builder does not take, or a value it refuses
        raise SpecError(f"model {name} cannot be built with these model_args ({_first_line(exc)})") from None
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


@dataclass(frozen=True)
class WeightsFile:
    """What a ``.safetensors`` of ``save_weights`` holds, checked: tensors (float ones as float32), the spec (a
    dict that parses as a ModelSpec), the registered model name and its builder args."""

    state: dict[str, torch.Tensor]
    spec: dict
    model: str
    model_args: dict[str, Any]


def read_weights(path: str | Path) -> WeightsFile:
    """The checked contents of a weights file; anything missing or malformed is one ModelFileError naming it."""
    from safetensors import safe_open

    path = Path(path)
    _require_file(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            state = {key: f.get_tensor(key) for key in f.keys()}
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise ModelFileError(f"not a readable safetensors file ({_first_line(exc)})", path) from None
    if metadata.get("edgekit.format") != FORMAT or not metadata.get("edgekit.model"):
        raise ModelFileError("not an edgekit weights file (no edgekit metadata)", path)
    spec = _metadata_json(metadata, "edgekit.spec", dict, path)
    _check_spec(spec, path)
    args = _metadata_json(metadata, "edgekit.model_args", dict, path, default="{}")
    state = {k: v.float() if v.dtype in FLOAT_DTYPES else v for k, v in state.items()}
    return WeightsFile(state, spec, metadata["edgekit.model"], args)


def load_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict, str]:
    """(state_dict in fp32, spec dict, model name) from a ``.safetensors`` written by ``save_weights``."""
    weights = read_weights(path)
    return weights.state, weights.spec, weights.model


def _metadata_json(metadata: dict[str, str], key: str, kind: type, path: Path, default: str | None = None) -> Any:
    """``metadata[key]`` parsed as JSON of type ``kind``; ModelFileError when absent, not JSON or another type."""
    text = metadata.get(key, default)
    if text is None:
        raise ModelFileError(f"no '{key}' metadata (not written by edgekit)", path)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ModelFileError(f"'{key}' metadata is not valid JSON ({type(exc).__name__})", path) from None
    if not isinstance(value, kind):
        raise ModelFileError(f"'{key}' metadata is a JSON {type(value).__name__}, not a {kind.__name__}", path)
    return value


def _check_spec(spec: dict, path: Path) -> None:
    from edgekit.specs import ModelSpec

    try:
        ModelSpec.from_dict(spec)
    except SpecError as exc:
        raise ModelFileError(f"invalid 'edgekit.spec' metadata ({exc.message})", path) from None


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
    if not isinstance(state["model_name"], str) or not isinstance(state.get("model_args", {}), dict):
        raise ModelFileError("not an edgekit checkpoint (model_name is not a string or model_args not a "
                             "mapping)", path)
    return state


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
        raise ModelFileError(f"weights are for model {_shown(state['model_name'])}, not {expected}", path)
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
        raise ModelFileError(f"not a resumable checkpoint of this run ({_first_line(exc)})", path) from None
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


# ----------------------------------------------------------------------------- models from any source


def load_model(source: str | Path, expect: str | None = None) -> nn.Module:
    """A model in eval mode from a registered name (its shipped weights), a ``.safetensors`` or a ``.pt``.

    ``expect``: the registered name the file must hold (e.g. the model being resumed), else ModelFileError."""
    path = _source_path(source)
    if path.suffix in CHECKPOINT_SUFFIXES:
        ckpt = load_checkpoint(path)
        name, args, state = ckpt["model_name"], dict(ckpt.get("model_args", {})), ckpt["model"]
    else:
        weights = read_weights(path)
        name, args, state = weights.model, weights.model_args, weights.state
    if expect is not None and name != expect:
        raise ModelFileError(f"weights are for model {_shown(name)}, not {expect}", path)
    try:
        model = build_model(name, args)
    except EdgekitError as exc:
        raise ModelFileError(f"cannot rebuild the model it is for: {exc.message}", path) from None
    load_state(model, state, path, name)
    return model.eval()


def load_state(model: nn.Module, state: dict[str, torch.Tensor], path: str | Path, file_model: str) -> None:
    """``model.load_state_dict(state)`` that turns a key, shape or dtype mismatch into one ModelFileError line."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelFileError("the model state is not a mapping of tensors", path)
    own = model.state_dict()
    wrong_shape = [k for k in own.keys() & state.keys() if own[k].shape != state[k].shape]
    if own.keys() != state.keys() or wrong_shape:
        target = model_identity(model)[0]
        detail = f"{len(own.keys() - state.keys())} missing, {len(state.keys() - own.keys())} unexpected, " \
                 f"{len(wrong_shape)} mis-shaped tensors"
        if file_model != target:
            raise ModelFileError(f"weights are for model {file_model}, not {target} ({detail})", path)
        raise ModelFileError(f"weights do not fit model {target} ({detail})", path)
    wrong_type = next((k for k in own if not _dtype_fits(own[k].dtype, state[k].dtype)), None)
    if wrong_type is not None:
        raise ModelFileError(f"tensor {excerpt(wrong_type)} is {state[wrong_type].dtype}, model "
                             f"{file_model} has {own[wrong_type].dtype} there", path)
    model.load_state_dict(state)


def _dtype_fits(own: torch.dtype, stored: torch.dtype) -> bool:
    """A float parameter may be stored as float32 / float16 / bfloat16; integer buffers (BatchNorm's
    num_batches_tracked) only as their own dtype. Never complex, float64 or an integer for a float."""
    return stored in FLOAT_DTYPES if own.is_floating_point else stored == own


def shipped_weights(name: str) -> Path:
    return WEIGHTS_DIR / f"{name}.safetensors"


def _source_path(source: str | Path) -> Path:
    path = Path(source)
    if path.suffix in (".safetensors", *CHECKPOINT_SUFFIXES):
        return path
    from edgekit.registry import list_models
    from edgekit.suggest import did_you_mean

    if str(source) in list_models():
        shipped = shipped_weights(str(source))
        if not shipped.is_file():
            raise ModelFileError(f"model {source} has no shipped weights yet: train it (edgekit train {source}) "
                                 "and pass the .safetensors", shipped)
        return shipped
    raise ModelFileError(f"not a registered model name, .safetensors or .pt checkpoint"
                         f"{did_you_mean(str(source), list_models())}", path)


def _shown(name: Any) -> str:
    """A model name from a file as an error shows it: as is when short and printable, else an escaped excerpt."""
    return name if isinstance(name, str) and len(name) <= 64 and name.isprintable() else excerpt(name)


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise ModelFileError("file not found", path)


def _unpickler_reason(exc: Exception) -> str:
    """torch's multi-paragraph weights_only error -> its one useful sentence ('Unsupported global: GLOBAL io.open')."""
    detail = str(exc).partition("WeightsUnpickler error:")[2].strip()
    return detail.split(". ")[0].splitlines()[0][:120] if detail else type(exc).__name__


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0].split('. ')[0][:120]}" if text else type(exc).__name__
