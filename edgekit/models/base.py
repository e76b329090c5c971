"""The common face of every zoo module: spec, inference forward, training forward, loss, torch decode."""
from __future__ import annotations

from torch import Tensor, nn

from edgekit.models.decode_torch import decode_torch
from edgekit.specs import HeadSpec, ModelSpec, PreprocessSpec

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def rgb_preprocess(size: int) -> PreprocessSpec:
    """Square RGB crop, ImageNet normalization, NCHW (the convention every zoo model trains with)."""
    return PreprocessSpec(input_size=(size, size), color="RGB", mean=IMAGENET_MEAN, std=IMAGENET_STD)


def make_spec(name: str, size: int, head: HeadSpec, description: str) -> ModelSpec:
    return ModelSpec(name=name, task=head.output, preprocess=rgb_preprocess(size), head=head, description=description)


class FaceModel(nn.Module):
    """Subclasses set ``self.spec`` and implement ``forward`` (outputs in ``spec.head.outputs`` order) and ``loss``.

    ``forward`` is the inference graph only (what ONNX exports); ``forward_train`` adds training extras.
    """

    spec: ModelSpec

    def forward_train(self, x: Tensor) -> dict[str, Tensor]:
        return dict(zip(self.spec.head.outputs, self(x)))

    def outputs_of(self, train_out: dict[str, Tensor]) -> tuple[Tensor, ...]:
        """The inference outputs, in ``spec.head.outputs`` order, from a ``forward_train`` dict."""
        return tuple(train_out[name] for name in self.spec.head.outputs)

    def decode_torch(self, outputs: tuple[Tensor, ...]) -> Tensor:
        """(B, N, 2) crop pixels or (B, 3) degrees; equals the numpy ``edgekit.runtime.decode.decode``."""
        return decode_torch(outputs, self.spec)

    def loss(self, train_out: dict[str, Tensor], batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        raise NotImplementedError
