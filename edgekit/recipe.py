"""Training recipes: frozen dataclasses read strictly from YAML (unknown keys are errors naming key and file).

Data paths in a recipe are relative to the working directory, else to the project checkout, so recipes can say
``../shared/data/ytf68/train`` without hard-coding where the checkout lives."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from edgekit import serial
from edgekit.data.augment import AugmentConfig
from edgekit.errors import SpecError
from edgekit.paths import PROJECT_DIR, find_recipe
from edgekit.serial import check, finite

ModelArg = bool | int | float | str  # builder keyword values a recipe may set (e.g. width: 0.25)
SEEDS = 2**32  # numpy seeds are 32-bit: a larger or negative seed breaks the seeding
MAX_EPOCHS = 100_000
MAX_BATCH = 65_536
MAX_WORKERS = 256


@dataclass(frozen=True)
class SplitConfig:
    """A fixed split of one folder: ``part`` picks the ``val_fraction`` share or the rest.

    ``by: image`` draws single images (a seeded permutation). ``by: photo`` keeps every face of one photo on one
    side: the photo is the file stem without a trailing face index ``_1``..``_99`` (300W's ``afw_<id>_<face>``,
    ``helen_<id>_<face>``; ``lfpw_image_0001`` is its own photo), and photos go to val by the order of
    sha1(seed:photo), so adding files never moves others. ``stratify: true`` takes the share within each subset,
    the stem's prefix before the first ``_`` (afw / helen / lfpw)."""

    seed: int = 0
    val_fraction: float = 0.2
    part: Literal["train", "val"] = "train"
    by: Literal["image", "photo"] = "image"
    stratify: bool = False

    def __post_init__(self) -> None:
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        check(0 <= self.seed < SEEDS, "seed", "be in [0, 2**32)", self.seed)


@dataclass(frozen=True)
class DatasetConfig:
    path: str  # folder of images + annotations (scan_folder)
    split: SplitConfig | None = None
    max_samples: int | None = None  # first N after the split (sorted by image path), for smoke runs
    # false: the faces only (crops still boxed from their annotation), their labels dropped: for extra_train
    # folders of a distilled student, which learns them from its teacher alone
    labels: bool = True

    def __post_init__(self) -> None:
        check(self.max_samples is None or self.max_samples > 0, "max_samples", "be positive", self.max_samples)

    def resolved(self) -> Path:
        return resolve_path(self.path)


@dataclass(frozen=True)
class DataConfig:
    train: DatasetConfig
    val: DatasetConfig
    extra_train: tuple[DatasetConfig, ...] = ()  # more training folders, appended to ``train``
    max_pose_deg: float = 99.0  # pose samples with any |angle| above this are dropped (AFLW2000 protocol)

    def __post_init__(self) -> None:
        check(finite(self.max_pose_deg, 0, 360), "max_pose_deg", "be in [0, 360]", self.max_pose_deg)
        for key in ("train", "val"):  # only extra_train folders may drop their labels
            check(getattr(self, key).labels, f"{key}.labels", "be true (put unlabelled faces in extra_train)", False)

    @property
    def unlabelled(self) -> bool:
        """Whether some training folder gives faces without labels."""
        return not all(config.labels for config in self.extra_train)


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 1e-3
    weight_decay: float = 1e-4
    epochs: int = 60
    batch_size: int = 32
    schedule: Literal["cosine", "step"] = "cosine"
    warmup_epochs: float = 1.0  # linear warm-up from 0, in (fractional) epochs
    milestones: tuple[int, ...] = ()  # step schedule: epochs where lr is multiplied by gamma
    gamma: float = 0.1
    grad_clip: float | None = None  # max global grad norm

    def __post_init__(self) -> None:
        check(finite(self.lr, 0, 10) and self.lr > 0, "lr", "be a number in (0, 10]", self.lr)
        check(finite(self.weight_decay, 0, 10), "weight_decay", "be in [0, 10]", self.weight_decay)
        check(0 < self.epochs <= MAX_EPOCHS, "epochs", f"be in [1, {MAX_EPOCHS}]", self.epochs)
        check(0 < self.batch_size <= MAX_BATCH, "batch_size", f"be in [1, {MAX_BATCH}]", self.batch_size)
        check(finite(self.warmup_epochs, 0, MAX_EPOCHS), "warmup_epochs", f"be in [0, {MAX_EPOCHS}]",
              self.warmup_epochs)
        check(all(0 < m <= MAX_EPOCHS for m in self.milestones), "milestones", f"be epochs in [1, {MAX_EPOCHS}]",
              self.milestones)
        check(finite(self.gamma, 0, 1) and self.gamma > 0, "gamma", "be in (0, 1]", self.gamma)
        check(self.grad_clip is None or (finite(self.grad_clip) and self.grad_clip > 0), "grad_clip",
              "be positive and finite", self.grad_clip)


@dataclass(frozen=True)
class DistillConfig:
    teacher: str  # registered name (shipped weights), .safetensors or .pt of the teacher
    kd_pixel: float = 0.01  # feature-aligned loss weight (MobileFAN T_pixel)
    kd_pair: float = 0.01  # feature-similarity loss weight (MobileFAN T_pair)
    kd_heatmap: float = 0.0  # output distillation: weight of MSE(student heatmaps, teacher heatmaps)

    def __post_init__(self) -> None:
        for key in ("kd_pixel", "kd_pair", "kd_heatmap"):
            check(finite(getattr(self, key), 0, 1e6), key, "be in [0, 1e6]", getattr(self, key))


LossKind = Literal["l2", "wing", "mse", "adaptive_wing"]


@dataclass(frozen=True)
class LossConfig:
    """The landmark loss. Regression models (PFLD) take ``l2`` (their default, with PFLD's pose and attribute
    weights) or ``wing``; heatmap models (MobileFAN, hourglass) take ``mse`` (their default) or ``adaptive_wing``.
    Every parameter defaults to its paper's value; each kind reads only its own."""

    kind: LossKind
    # Wing (Feng et al. 2018): w, eps in pixels of a wing_scale-pixel crop (the paper's CNN-6 reads 64x64 faces);
    # regression outputs are [0, 1] crop units, so errors are multiplied by wing_scale first
    wing_width: float = 10.0
    wing_curvature: float = 2.0
    wing_scale: float = 64.0
    # Adaptive Wing (Wang et al. 2019) on heatmap cells, and its loss map W = awing_weight * dilate(target >
    # awing_threshold, 3x3) + 1
    awing_alpha: float = 2.1
    awing_omega: float = 14.0
    awing_epsilon: float = 1.0
    awing_theta: float = 0.5
    awing_weight: float = 10.0
    awing_threshold: float = 0.2

    def __post_init__(self) -> None:
        positive = ("wing_width", "wing_curvature", "wing_scale", "awing_omega", "awing_epsilon", "awing_theta")
        for key in positive:
            if not 0 < getattr(self, key) < 1e6:
                raise ValueError(f"loss.{key} must be positive (and below 1e6), got {getattr(self, key)}")
        if not 1 < self.awing_alpha < 100:  # alpha - y > 0 for every target y in [0, 1]
            raise ValueError(f"loss.awing_alpha must be in (1, 100), got {self.awing_alpha}")
        if not (0 <= self.awing_weight < 1e6 and 0 <= self.awing_threshold < 1):
            raise ValueError("loss.awing_weight must be in [0, 1e6) and loss.awing_threshold in [0, 1)")


@dataclass(frozen=True)
class Recipe:
    model: str  # registered model name
    data: DataConfig
    model_args: dict[str, ModelArg] = field(default_factory=dict)  # create_model(model, **model_args)
    optim: OptimConfig = field(default_factory=OptimConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    distill: DistillConfig | None = None
    loss: LossConfig | None = None  # None: the model's own default loss (l2 / mse)
    seed: int = 0
    out: str = ""  # run folder; empty = runs/<model>
    amp: bool = True  # mixed precision when CUDA is available (ignored on CPU)
    init: str = ""  # weights to start from: a registered name (its shipped weights), .safetensors or .pt of this
    # model (fine-tuning, e.g. from a ytf68-trained file); '' = random initialisation. --resume overrides it.
    channels_last: bool = True  # NHWC weights and images (conv nets: faster steps on this CPU, docs/TRAINING.md)
    cpu_bf16: bool = False  # bf16 autocast on a CPU with native bf16 (avx512_bf16 / AMX), else ignored
    num_workers: int = 0  # DataLoader workers
    log_every: int = 20  # progress-bar refresh, in steps

    def __post_init__(self) -> None:
        check(0 <= self.seed < SEEDS, "seed", "be in [0, 2**32)", self.seed)
        check(0 <= self.num_workers <= MAX_WORKERS, "num_workers", f"be in [0, {MAX_WORKERS}]", self.num_workers)
        check(self.log_every > 0, "log_every", "be positive", self.log_every)
        for key, value in self.model_args.items():
            check(not isinstance(value, float) or finite(value), f"model_args.{key}", "be finite", value)
        check_augment(self.augment)
        check(self.distill is not None or not self.data.unlabelled, "data.extra_train",
              "keep its labels without a distill section (only a teacher teaches unlabelled faces)", "labels: false")

    @property
    def out_dir(self) -> Path:
        return Path(self.out or f"runs/{self.model}")

    def to_dict(self) -> dict:
        return serial.to_dict(self)


def check_augment(augment: AugmentConfig) -> None:
    """Probabilities in [0, 1], magnitudes finite and in the range their draw assumes, (low, high) ordered."""
    for key in ("flip_p", "blur_p", "occlusion_p", "downscale_p", "grayscale_p", "shift", "brightness",
                "contrast", "saturation"):
        check(finite(getattr(augment, key), 0, 1), f"augment.{key}", "be in [0, 1]", getattr(augment, key))
    check(finite(augment.rotation_deg, 0, 180), "augment.rotation_deg", "be in [0, 180]", augment.rotation_deg)
    ranges = {"scale": (0.01, 100), "blur_sigma": (0, 100), "occlusion_size": (0, 1), "downscale_factor": (0.01, 1)}
    for key, (low, high) in ranges.items():
        pair = getattr(augment, key)
        check(all(finite(v, low, high) for v in pair) and pair[0] <= pair[1], f"augment.{key}",
              f"be (low, high) with {low} <= low <= high <= {high}", pair)


def load_recipe(name_or_path: str | Path) -> Recipe:
    """A recipe from a YAML path or by name from ``recipes/``; its ``model_args`` are tried on the builder."""
    path = find_recipe(str(name_or_path))
    recipe = serial.load_yaml(Recipe, path)
    check_model_args(recipe, path)
    return recipe


def check_model_args(recipe: Recipe, path: Path) -> None:
    """SpecError naming the recipe when the builder refuses its ``model_args`` (an argument it does not take),
    found by building the model once. Skipped without model_args, or without torch (no training there)."""
    import importlib.util

    from edgekit.errors import EdgekitError

    if not recipe.model_args or importlib.util.find_spec("torch") is None:
        return
    from edgekit.models.weights import build_model

    try:
        build_model(recipe.model, recipe.model_args)
    except EdgekitError as exc:
        raise SpecError(exc.message, path) from None


def recipe_from_dict(data: dict) -> Recipe:
    return serial.from_dict(Recipe, data, "recipe")


def with_overrides(recipe: Recipe, *, train: str | None = None, val: str | None = None, epochs: int | None = None,
                   out: str | None = None, max_samples: int | None = None) -> Recipe:
    """The recipe with command-line overrides applied. A new folder keeps the recipe's split; when train and val
    split one folder, a new ``train`` folder moves both."""
    data = recipe.data
    if val is None and train is not None and data.val.path == data.train.path:
        val = train
    if train is not None:
        data = dataclasses.replace(data, train=dataclasses.replace(data.train, path=str(train)))
    if val is not None:
        data = dataclasses.replace(data, val=dataclasses.replace(data.val, path=str(val)))
    if max_samples is not None:
        data = dataclasses.replace(data, train=dataclasses.replace(data.train, max_samples=max_samples),
                                   val=dataclasses.replace(data.val, max_samples=max_samples))
    try:
        optim = recipe.optim if epochs is None else dataclasses.replace(recipe.optim, epochs=epochs)
        return dataclasses.replace(recipe, data=data, optim=optim, out=recipe.out if out is None else str(out))
    except ValueError as exc:  # an override out of range (--epochs, --max-samples)
        raise SpecError(f"command-line override: {exc}") from None


def resolve_path(path: str | Path) -> Path:
    """Absolute as is; relative: under the working directory if it exists there, else under the checkout."""
    path = Path(path).expanduser()
    if path.is_absolute():
        return path
    return path.resolve() if path.exists() else (PROJECT_DIR / path).resolve()
