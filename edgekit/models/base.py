"""The common face of every zoo module: spec, inference forward, training forward, loss, torch decode."""
from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Protocol

import torch.nn.functional as F
from torch import Tensor, nn

from edgekit.models.decode_torch import decode_torch
from edgekit.specs import HeadSpec, ModelSpec, PreprocessSpec

if TYPE_CHECKING:
    from edgekit.recipe import LossConfig

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def rgb_preprocess(size: int) -> PreprocessSpec:
    """Square RGB crop, ImageNet normalization, NCHW (the convention every zoo model trains with)."""
    return PreprocessSpec(input_size=(size, size), color="RGB", mean=IMAGENET_MEAN, std=IMAGENET_STD)


def resize_to_input(x: Tensor, spec: ModelSpec) -> Tensor:
    """(B, C, h, w) model inputs -> the spec's input size (bilinear); unchanged when they have it already. Lets a
    teacher read the student's crops (both normalised alike: bilinear commutes with the per-channel affine)."""
    width, height = spec.preprocess.input_size
    if tuple(x.shape[-2:]) == (height, width):
        return x
    return F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False)


def make_spec(name: str, size: int, head: HeadSpec, description: str, scheme: str = "ibug68") -> ModelSpec:
    return ModelSpec(name=name, task=head.task, preprocess=rgb_preprocess(size), head=head, scheme=scheme,
                     description=description)  # fmt: skip


class Lesson(NamedTuple):
    """What a teacher gives for a batch of the student's crops: three feature stages at the student's stage
    resolutions (B, C, h, w) and its heatmaps (B, N, H, W) on its own cell grid."""

    features: list[Tensor]
    heatmaps: Tensor


class Teacher(Protocol):
    """What a distillation student needs of its teacher: a ``Lesson`` for the student's images (any input size;
    the teacher resizes them to its own), the features' channels, and its spec (scheme, heatmap grid)."""

    spec: ModelSpec
    feature_channels: tuple[int, ...]

    def teach(self, x: Tensor) -> Lesson: ...


class FaceModel(nn.Module):
    """Subclasses set ``self.spec`` and implement ``forward`` (outputs in ``spec.head.outputs`` order) and ``loss``.

    ``forward`` is the inference graph only (what ONNX exports); ``forward_train`` adds training extras.
    """

    spec: ModelSpec
    loss_kinds: tuple[str, ...] = ()  # the recipe ``loss.kind`` values the model accepts; its default comes first
    loss_config: LossConfig | None = None  # set by ``use_loss``; None = the model's default loss

    def use_loss(self, config: LossConfig) -> None:
        """Train with the recipe's loss; a kind this model does not take is a ValueError naming the ones it does."""
        if config.kind not in self.loss_kinds:
            takes = ", ".join(self.loss_kinds) or "only its own loss"
            raise ValueError(f"loss '{config.kind}' does not apply to {self.spec.name} (it takes: {takes})")
        self.loss_config = config

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
