"""A model from any torch source: a registered name (its shipped weights), a ``.safetensors`` or a training
checkpoint ``.pt`` (read with ``torch.load(weights_only=True)``: nothing here ever unpickles a user file)."""
from __future__ import annotations

import dataclasses
import pickle
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from edgekit.errors import EdgekitError, ModelFileError
from edgekit.heads import HeadSpec, HeatmapParams
from edgekit.models.weights import (FLOAT_DTYPES, build_model, first_line, model_identity, read_weights,
                                    require_file, shipped_weights)
from edgekit.serial import excerpt
from edgekit.specs import ModelSpec

CHECKPOINT_SUFFIXES = (".pt", ".pth")
# Preprocess fields that frame a detector's box at inference: defaults of the code (retuned on real faces since
# fsanet and ssrnet_md were shipped), not something the weights learned.
FRAMING = ("detector_box_scale", "detector_box_shift_y")


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; anything else is a one-line ModelFileError."""
    path = Path(path)
    require_file(path)
    try:
        with warnings.catch_warnings():  # "Detected pickle protocol 4 ...": the error below says it all
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # a pickle naming callables other than tensor rebuilders, or garbage
        raise ModelFileError("not a readable checkpoint: refused by the tensors-only loader "
                             f"({_unpickler_reason(exc)}); edgekit never unpickles code", path) from None
    except Exception as exc:  # corrupt zip, truncated file
        raise ModelFileError(f"not a readable checkpoint ({first_line(exc)})", path) from None
    if not isinstance(state, dict) or "model" not in state or "model_name" not in state:
        raise ModelFileError("not an edgekit checkpoint (no model state and name)", path)
    if not isinstance(state["model_name"], str) or not isinstance(state.get("model_args", {}), dict):
        raise ModelFileError("not an edgekit checkpoint (model_name is not a string or model_args not a "
                             "mapping)", path)
    return state


def load_model(source: str | Path, expect: str | None = None) -> nn.Module:
    """A model in eval mode from a registered name (its shipped weights), a ``.safetensors`` or a ``.pt``.

    ``expect``: the registered name the file must hold (e.g. the model being resumed), else ModelFileError. A
    weights file's stored spec must be the rebuilt model's (``check_stored_spec``)."""
    path = _source_path(source)
    stored = None
    if path.suffix in CHECKPOINT_SUFFIXES:
        ckpt = load_checkpoint(path)
        name, args, state = ckpt["model_name"], dict(ckpt.get("model_args", {})), ckpt["model"]
    else:
        weights = read_weights(path)
        name, args, state, stored = weights.model, weights.model_args, weights.state, weights.spec
    if expect is not None and name != expect:
        raise ModelFileError(f"weights are for model {shown(name)}, not {expect}", path)
    try:
        model = build_model(name, args)
    except EdgekitError as exc:
        raise ModelFileError(f"cannot rebuild the model it is for: {exc.message}", path) from None
    if stored is not None:
        check_stored_spec(stored, model.spec, path)
    load_state(model, state, path, name)
    return model.eval()


def check_stored_spec(stored: ModelSpec, built: ModelSpec, path: str | Path) -> None:
    """ModelFileError unless the spec saved with the weights preprocesses and decodes as the rebuilt model's: a
    head, scheme or normalization changed since the file was written would decode its outputs wrongly. The
    detector framing (``FRAMING``), the description and the way heatmaps of the same layout are decoded (weights
    written before DARK decode with it now) follow the code."""
    framing = {key: getattr(built.preprocess, key) for key in FRAMING}
    head = built.head if same_heatmaps(stored.head, built.head) else stored.head
    comparable = dataclasses.replace(stored, description=built.description, head=head,
                                     preprocess=dataclasses.replace(stored.preprocess, **framing))
    differing = [f.name for f in dataclasses.fields(ModelSpec)
                 if getattr(comparable, f.name) != getattr(built, f.name)]
    if differing:
        raise ModelFileError(f"the spec saved with the weights differs from model {built.name}'s in "
                             f"{', '.join(differing)}: weights of an older {built.name}?", path)


def same_heatmaps(stored: HeadSpec, built: HeadSpec) -> bool:
    """Both heads read the same heatmaps (count and stride): only the decode method may differ."""
    params = (stored.params, built.params)
    return (stored.outputs == built.outputs and all(isinstance(p, HeatmapParams) for p in params)
            and (stored.params.num_points, stored.params.stride) == (built.params.num_points, built.params.stride))


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


def shown(name: Any) -> str:
    """A model name from a file as an error shows it: as is when short and printable, else an escaped excerpt."""
    return name if isinstance(name, str) and len(name) <= 64 and name.isprintable() else excerpt(name)


def _unpickler_reason(exc: Exception) -> str:
    """torch's multi-paragraph weights_only error -> its one useful sentence ('Unsupported global: GLOBAL io.open')."""
    detail = str(exc).partition("WeightsUnpickler error:")[2].strip()
    return detail.split(". ")[0].splitlines()[0][:120] if detail else type(exc).__name__
