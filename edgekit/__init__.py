"""edgekit: face-landmark and head-pose models from training to phones and Jetson boards, with an
accuracy gate on every exported file. ``import edgekit`` needs only numpy; torch, ONNX Runtime, LiteRT and
TensorRT are imported where they are used."""
__version__ = "0.1.0"

# The Python API (edgekit/api.py), imported on first use so that ``import edgekit`` stays light.
# edgekit.export and edgekit.profile are packages that are also callable (edgekit/callable_package.py).
_API = {"load": "edgekit.api", "Model": "edgekit.api", "Artifact": "edgekit.api", "GateResult": "edgekit.checks",
        "evaluate": "edgekit.api", "EvalResult": "edgekit.api",
        "Face": "edgekit.runtime.predictor", "Frame": "edgekit.runtime.stream",
        "OneEuroSettings": "edgekit.runtime.smoothing", "ProfileResult": "edgekit.profile.report"}
__all__ = ["__version__", "export", "profile", *_API]


def __getattr__(name: str):
    import importlib

    if name in ("export", "profile"):
        return importlib.import_module(f"edgekit.{name}")
    if name not in _API:
        raise AttributeError(f"module 'edgekit' has no attribute {name!r}")
    return getattr(importlib.import_module(_API[name]), "Measurement" if name == "ProfileResult" else name)
