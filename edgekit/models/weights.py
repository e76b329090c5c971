"""Weights files (safetensors + spec metadata) and the models they rebuild. Training writes them, everything else
reads them (backends, export, eval): they live here, below train/. Nothing here ever unpickles a user file."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from edgekit.atomic import atomic_write_bytes
from edgekit.errors import ModelFileError, SpecError
from edgekit.paths import WEIGHTS_DIR
from edgekit.serial import excerpt
from edgekit.specs import ModelSpec

FORMAT = "1"
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
        raise SpecError(f"model {name} cannot be built with these model_args ({first_line(exc)})") from None
    model.edgekit_name = name
    model.edgekit_args = args
    return model


def model_identity(model: nn.Module) -> tuple[str, dict[str, Any]]:
    """(registered name, builder args) of a model made by ``build_model`` (else its spec name, no args)."""
    return getattr(model, "edgekit_name", model.spec.name), dict(getattr(model, "edgekit_args", {}))


def shipped_weights(name: str) -> Path:
    return WEIGHTS_DIR / f"{name}.safetensors"


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
    """What a ``.safetensors`` of ``save_weights`` holds, checked: tensors (float ones as float32), the spec it was
    saved with (the flat heads of edgekit 0.1 files converted), the registered model name and its builder args."""

    state: dict[str, torch.Tensor]
    spec: ModelSpec
    model: str
    model_args: dict[str, Any]


def read_weights(path: str | Path) -> WeightsFile:
    """The checked contents of a weights file; anything missing or malformed is one ModelFileError naming it."""
    from safetensors import safe_open

    path = Path(path)
    require_file(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            state = {key: f.get_tensor(key) for key in f.keys()}
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise ModelFileError(f"not a readable safetensors file ({first_line(exc)})", path) from None
    if metadata.get("edgekit.format") != FORMAT or not metadata.get("edgekit.model"):
        raise ModelFileError("not an edgekit weights file (no edgekit metadata)", path)
    spec = _parse_spec(_metadata_json(metadata, "edgekit.spec", dict, path), path)
    args = _metadata_json(metadata, "edgekit.model_args", dict, path, default="{}")
    state = {k: v.float() if v.dtype in FLOAT_DTYPES else v for k, v in state.items()}
    return WeightsFile(state, spec, metadata["edgekit.model"], args)


def load_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], ModelSpec, str]:
    """(state_dict in fp32, spec, model name) from a ``.safetensors`` written by ``save_weights``."""
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


def _parse_spec(data: dict, path: Path) -> ModelSpec:
    try:
        return ModelSpec.from_dict(data)
    except SpecError as exc:
        raise ModelFileError(f"invalid 'edgekit.spec' metadata ({exc.message})", path) from None


def require_file(path: Path) -> None:
    if not path.is_file():
        raise ModelFileError("file not found", path)


def first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0].split('. ')[0][:120]}" if text else type(exc).__name__
