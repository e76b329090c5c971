"""TorchRunner: the eager PyTorch reference runner, same lifecycle as the ONNX Runtime and LiteRT runners."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from edgekit.backend.base import Runner


class TorchRunner(Runner):
    """Runs an ``nn.Module`` with a ``spec``, or the model in a ``.safetensors`` / ``.pt`` / registered name.

    ``infer`` takes a float32 batch in the model's layout (``spec.preprocess.layout``) and returns numpy outputs
    in ``spec.head.outputs`` order. ``threads`` sets ``torch.set_num_threads`` (process-wide: torch has no
    per-model thread pool)."""

    backend = "torch"

    def __init__(self, model_or_path, threads: int | None = None):
        from torch import nn

        is_module = isinstance(model_or_path, nn.Module)
        label = f"<{type(model_or_path).__name__}>" if is_module else str(model_or_path)
        super().__init__(label, threads)
        self.model = model_or_path.eval() if is_module else None
        self._source = None if is_module else model_or_path

    @property
    def spec(self):
        """The model's ModelSpec (loads the model if it came as a path)."""
        self.open()
        return self.model.spec

    def _open(self) -> None:
        import torch

        if self.threads:
            torch.set_num_threads(int(self.threads))
        if self.model is None:
            from edgekit.models.load import load_model

            self.model = load_model(self._source)

    def _infer(self, batch: np.ndarray) -> Sequence[np.ndarray]:
        import torch

        device = next(self.model.parameters()).device
        inputs = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(device)
        with torch.inference_mode():
            outputs = self.model(inputs)
        return [out.float().cpu().numpy() for out in outputs]
