"""A small decorator registry of model builders (torchvision's habit).

    @register_model("pfld_0.25x")
    def pfld_025x(**kwargs) -> nn.Module: ...

A builder returns a torch module with a ``spec: ModelSpec`` attribute. Builders live in ``edgekit.models``,
imported on first use so that ``import edgekit`` and the runtime never need torch.
"""
from __future__ import annotations

from typing import Any, Callable

from edgekit.errors import EdgekitError

_BUILDERS: dict[str, Callable[..., Any]] = {}


def register_model(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in _BUILDERS:
            raise ValueError(f"model '{name}' is registered twice")
        _BUILDERS[name] = fn
        return fn

    return wrap


def _load_builders() -> None:
    try:
        import edgekit.models  # noqa: F401  (registers every builder)
    except ModuleNotFoundError as exc:
        if exc.name == "torch":
            raise EdgekitError("models need torch: pip install torch==2.13.0 --index-url "
                               "https://download.pytorch.org/whl/cpu, then pip install 'edgekit-face[train]'") from None
        raise


def list_models() -> list[str]:
    _load_builders()
    return sorted(_BUILDERS)


def create_model(name: str, **kwargs: Any) -> Any:
    _load_builders()
    if name not in _BUILDERS:
        from edgekit.suggest import did_you_mean

        raise EdgekitError(f"unknown model '{name}'{did_you_mean(name, _BUILDERS)} (registered: "
                           f"{', '.join(sorted(_BUILDERS))})")
    return _BUILDERS[name](**kwargs)
