"""MobileFAN (Zhao et al. 2020): a MobileNetV2 heatmap student distilled from a ResNet heatmap teacher.

Both nets: encoder to stride 32, three x2 deconvolution stages, 1x1 conv -> 68 heatmaps at 1/4 of the 128x128 input
(32x32), decoded with ``heatmap_dark`` (DARK with the training sigma). ``forward_train`` also returns the three
deconv stage ``features``.
Student loss = heatmap MSE + kd_pixel * sum MSE(lift(student stage), teacher stage) + kd_pair * sum MSE(cosine
affinity graphs) (field.md §1.4); one 1x1 conv + BN lift per stage (the reference code reuses stage 2's for 3).
Optionally + kd_heatmap * MSE(student heatmaps, teacher heatmaps), output distillation as in Fast Pose
Distillation (Zhang et al. 2019; not in MobileFAN), for a teacher with the student's heatmap grid and sigma.
A teacher is any ``Teacher`` (edgekit.models.base) of the same landmark scheme: ``mobilefan_teacher`` here, or the
stacked hourglass (``hourglass2``); the lifts' width is the teacher's ``feature_channels`` (``teacher_channels``).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from edgekit.models.base import FaceModel, Lesson, Teacher, make_spec, resize_to_input
from edgekit.models.blocks import BasicBlock, conv_bn_act, mobilenet_v2
from edgekit.models.losses import heatmap_loss, kd_heatmap_loss, kd_pair_loss, kd_pixel_loss
from edgekit.registry import register_model
from edgekit.heads import HeadSpec, HeatmapParams

INPUT_SIZE = 128
NUM_POINTS = 68
STRIDE = 4
TEACHER_CHANNELS = 128


def deconv_bn_relu(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    """x2 upsampling transposed conv (kernel 2 or 4) + BN + ReLU."""
    deconv = nn.ConvTranspose2d(c_in, c_out, kernel, stride=2, padding=(kernel - 2) // 2, bias=False)
    return nn.Sequential(deconv, nn.BatchNorm2d(c_out), nn.ReLU())


def resnet18_encoder(width: float) -> tuple[nn.Sequential, int]:
    """ResNet-18 layout (7x7 stem, max pool, 4 stages x 2 basic blocks) with channels 64..512 times ``width``."""
    channels = [int(c * width) for c in (64, 128, 256, 512)]
    layers: list[nn.Module] = [conv_bn_act(3, channels[0], 7, 2), nn.MaxPool2d(3, 2, 1)]
    c_prev = channels[0]
    for index, c in enumerate(channels):
        stride = 1 if index == 0 else 2
        layers += [BasicBlock(c_prev, c, stride), BasicBlock(c, c)]
        c_prev = c
    return nn.Sequential(*layers), c_prev


class HeatmapNet(FaceModel):
    """Encoder (stride 32) -> 3 deconv stages (stride 4) -> 1x1 conv to N heatmaps."""

    loss_kinds = ("mse", "adaptive_wing")

    def __init__(self, name: str, description: str, encoder: nn.Module, c_enc: int, channels: int, kernel: int,
                 sigma: float, foreground: float):  # fmt: skip
        super().__init__()
        self.encoder = encoder
        self.stages = nn.ModuleList(
            [deconv_bn_relu(c_enc if i == 0 else channels, channels, kernel) for i in range(3)]
        )
        self.final = nn.Conv2d(channels, NUM_POINTS, 1)
        self.sigma, self.foreground = sigma, foreground  # target width (cells), foreground weight of the MSE
        head = HeadSpec("heatmap_dark", ("heatmaps",), HeatmapParams(NUM_POINTS, STRIDE, sigma=sigma))
        self.spec = make_spec(name, INPUT_SIZE, head, description)

    def stage_features(self, x: Tensor) -> list[Tensor]:
        """The three deconv outputs: (B, C, 8, 8), (B, C, 16, 16), (B, C, 32, 32) for a 128 input."""
        features, y = [], self.encoder(x)
        for stage in self.stages:
            y = stage(y)
            features.append(y)
        return features

    @property
    def feature_channels(self) -> tuple[int, ...]:
        """Channels of the three ``teach`` feature stages (they size a student's lifts)."""
        return tuple(stage[0].out_channels for stage in self.stages)

    def teach(self, x: Tensor) -> Lesson:
        """As a teacher: the three deconv stages and the heatmaps for the student's images (resized to this input
        if needed)."""
        features = self.stage_features(resize_to_input(x, self.spec))
        return Lesson(features, self.final(features[-1]))

    def forward(self, x: Tensor) -> tuple[Tensor]:
        return (self.final(self.stage_features(x)[-1]),)

    def forward_train(self, x: Tensor) -> dict:
        features = self.stage_features(x)
        return {"heatmaps": self.final(features[-1]), "features": features}

    def heatmap_loss(self, train_out: dict, batch: dict[str, Tensor]) -> Tensor:
        return heatmap_loss(train_out["heatmaps"], batch["landmarks"], STRIDE, self.sigma, self.foreground,
                            self.loss_config)  # fmt: skip

    def loss(self, train_out: dict, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        total = self.heatmap_loss(train_out, batch)
        return total, {"loss": total.item(), "heatmap": total.item()}


class MobileFAN(HeatmapNet):
    """The student; with ``distill`` it owns one lift per stage (1x1 conv + BN to ``teacher_channels``, the
    teacher's ``feature_channels``) and accepts a teacher via ``set_teacher``."""

    def __init__(self, name: str, width: float = 0.5, channels: int = 64, kernel: int = 2, sigma: float = 1.5,
                 foreground: float = 10.0, distill: bool = True, kd_pixel: float = 0.01, kd_pair: float = 0.01,
                 kd_heatmap: float = 0.0, teacher_channels: int = TEACHER_CHANNELS):  # fmt: skip
        encoder, enc_channels = mobilenet_v2(width)
        description = f"MobileFAN student: MobileNetV2 {width}x + 3 deconvs, 68 heatmaps 32x32, 128 RGB"
        super().__init__(name, description, encoder, enc_channels[-1], channels, kernel, sigma, foreground)
        self.kd_pixel, self.kd_pair, self.kd_heatmap = kd_pixel, kd_pair, kd_heatmap
        self.lifts = (
            nn.ModuleList([conv_bn_act(channels, teacher_channels, 1, act=None) for _ in range(3)]) if distill else None
        )
        self.teacher: Teacher | None = None

    def stage_sizes(self) -> list[tuple[int, int]]:
        """(H, W) of the three deconv stages: 1/16, 1/8 and 1/4 of the input (8, 16, 32 for 128)."""
        width, height = self.spec.preprocess.input_size
        return [(height // (STRIDE * f), width // (STRIDE * f)) for f in (4, 2, 1)]

    def set_teacher(self, teacher: Teacher) -> None:
        """Attach a frozen teacher in eval mode; it is not a submodule, so it stays out of state_dict and export
        (and ``student.to(device)`` does not move it: move the teacher yourself). Its stage channels must be the
        lifts' and its stage sizes the student's (checked on one blank image), and with ``kd_heatmap`` its heatmap
        grid and sigma the student's, else ValueError."""
        if self.lifts is None:
            raise ValueError(f"{self.spec.name} is built without distillation; use 'mobilefan' to distil")
        lifts = [lift[0].out_channels for lift in self.lifts]
        if list(teacher.feature_channels) != lifts:
            raise ValueError(f"teacher stage channels {list(teacher.feature_channels)}, the student's lifts expect "
                             f"{lifts} (build the student with teacher_channels={teacher.feature_channels[0]})")
        teacher.eval().requires_grad_(False)
        width, height = self.spec.preprocess.input_size
        blank = torch.zeros(1, 3, height, width, device=next(teacher.parameters()).device)
        with torch.no_grad():
            lesson = teacher.teach(blank)
        sizes = [tuple(f.shape[-2:]) for f in lesson.features]
        if sizes != self.stage_sizes():
            raise ValueError(f"teacher stage sizes {sizes} for a {width}x{height} input, the student's are "
                             f"{self.stage_sizes()}")
        theirs = (tuple(lesson.heatmaps.shape[-2:]), teacher.spec.head.params.sigma)
        ours = (self.stage_sizes()[-1], self.sigma)
        if self.kd_heatmap > 0 and theirs != ours:
            raise ValueError(f"kd_heatmap needs the student's heatmap grid and sigma {ours}; the teacher's are "
                             f"{theirs}")
        object.__setattr__(self, "teacher", teacher)  # bypass nn.Module registration

    def loss(self, train_out: dict, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        heatmap = self.heatmap_loss(train_out, batch)
        pixel = pair = output = heatmap.new_zeros(())
        if self.teacher is not None and self.lifts is not None:
            with torch.no_grad():
                lesson = self.teacher.eval().teach(batch["image"])
            student = train_out["features"]
            # each term only when it weighs: the affinity graphs alone are (B, 1024, 1024) at the 32x32 stage
            if self.kd_pixel > 0:
                pixel = kd_pixel_loss([lift(s) for lift, s in zip(self.lifts, student)], lesson.features)
            if self.kd_pair > 0:
                pair = kd_pair_loss(student, lesson.features)
            if self.kd_heatmap > 0:
                output = kd_heatmap_loss(train_out["heatmaps"], lesson.heatmaps, self.foreground)
        total = heatmap + self.kd_pixel * pixel + self.kd_pair * pair + self.kd_heatmap * output
        parts = {"loss": total.item(), "heatmap": heatmap.item(), "kd_pixel": pixel.item(), "kd_pair": pair.item(),
                 "kd_heatmap": output.item()}  # fmt: skip
        return total, parts


@register_model("mobilefan_teacher")
def mobilefan_teacher(width: float = 0.5, sigma: float = 1.5, foreground: float = 10.0) -> HeatmapNet:
    encoder, c_enc = resnet18_encoder(width)
    description = f"MobileFAN teacher: ResNet-18 {width}x + 3 deconvs (128 ch, k4), 68 heatmaps 32x32, 128 RGB"
    return HeatmapNet("mobilefan_teacher", description, encoder, c_enc, TEACHER_CHANNELS, 4, sigma, foreground)


@register_model("mobilefan")
def mobilefan(**kwargs) -> MobileFAN:
    return MobileFAN("mobilefan", **kwargs)


@register_model("mobilefan_nokd")
def mobilefan_nokd(**kwargs) -> MobileFAN:
    return MobileFAN("mobilefan_nokd", distill=False, **kwargs)
