"""The decoder table and ``HeadSpec``: what a model outputs and how those tensors decode into landmarks or angles.

A head is ``HeadSpec(kind, outputs, params)``: ``kind`` names a row of the decoder table (``DECODERS``), ``outputs``
the model's tensors in forward() order (also the ONNX output names), ``params`` the kind's typed parameters. A row
holds the numpy decode (the only one eval and the runtime use), the torch twin training needs gradients or
batches on the device from (a ``module:function`` reference imported on first use), the per-image shape of every
output and the task. Built-in rows register in ``edgekit.runtime.decoders``; a peer may register its own
(``edgekit.profile.peers``: MediaPipe's face mesh). Layouts: docs/ARCHITECTURE.md.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Literal, Union

from edgekit.errors import SpecError
from edgekit.serial import check, excerpt, finite

MAX_POINTS = 1000  # landmarks per face: the largest scheme (WFLW) has 98
MAX_SIDE = 4096  # strides, radii, neighbour and bin counts: at most the largest model input side (zoo: 256)
Task = Literal["landmarks", "pose"]
Shape = tuple[int, ...]


def _check_points(count: int) -> None:
    check(1 <= count <= MAX_POINTS, "num_points", f"be in [1, {MAX_POINTS}]", count)


def _check_side(key: str, value: int, low: int = 1) -> None:
    check(low <= value <= MAX_SIDE, key, f"be in [{low}, {MAX_SIDE}]", value)


def _check_positive(key: str, value: float) -> None:
    check(finite(value) and value > 0, key, "be positive and finite", value)


@dataclass(frozen=True)
class RegressionParams:
    """``regression``: (B, 2N) x0 y0 x1 y1 ... in [0, 1] crop units; crop px = value x input size."""

    num_points: int

    def __post_init__(self) -> None:
        _check_points(self.num_points)


@dataclass(frozen=True)
class PoseRegressionParams:
    """``pose_regression``: (B, 3) degrees yaw, pitch, roll, as the model gives them. No parameters."""


@dataclass(frozen=True)
class HeatmapParams:
    """``heatmap_argmax`` / ``heatmap_dark`` / ``soft_argmax`` / ``local_soft_argmax``: (B, N, H, W), H = input /
    stride; cell (j, i) <-> crop px x = j * stride + (stride - 1) / 2. ``beta``: softmax temperature; ``radius``:
    local window; ``sigma``: the training targets' Gaussian width in cells (DARK blurs with it)."""

    num_points: int
    stride: int = 4
    beta: float = 1.0
    radius: int = 2
    sigma: float = 1.0

    def __post_init__(self) -> None:
        _check_points(self.num_points)
        _check_side("stride", self.stride)
        _check_side("radius", self.radius, low=0)
        _check_positive("beta", self.beta)
        check(finite(self.sigma, 0, 64) and self.sigma > 0, "sigma", "be in (0, 64] cells", self.sigma)  # blur radius


@dataclass(frozen=True)
class PipParams:
    """``pip`` (PIPNet): score, offset_x, offset_y (B, N, h, w), nb_x, nb_y (B, N*nb, h, w); crop px
    x = (col + offset) * stride. ``meanface``: 2N values x0 y0 ... in [0, 1] crop units; ``neighbors``: N rows of
    nb landmark indices. Both belong to the spec, so an exported model needs no side file."""

    stride: int
    meanface: tuple[float, ...]
    neighbors: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        _check_side("stride", self.stride)
        _check_points(self.num_points)
        if len(self.meanface) != 2 * self.num_points:
            raise ValueError(f"meanface needs {2 * self.num_points} values, has {len(self.meanface)}")
        check(all(finite(v) for v in self.meanface), "meanface", "hold finite values", self.meanface)
        _check_side("neighbors per row", self.num_neighbors)
        if any(len(row) != self.num_neighbors for row in self.neighbors):
            raise ValueError(f"every neighbors row needs {self.num_neighbors} indices")
        check(all(0 <= i < self.num_points for row in self.neighbors for i in row), "neighbors",
              f"hold landmark indices in [0, {self.num_points})", self.neighbors)

    @property
    def num_points(self) -> int:
        return len(self.neighbors)

    @property
    def num_neighbors(self) -> int:
        return len(self.neighbors[0]) if self.neighbors else 0


@dataclass(frozen=True)
class BinsParams:
    """``bins`` (Hopenet): (B, 3, count) logits; angle = width * sum(softmax * i) + start (keep -99, not -97.5)."""

    count: int = 66
    width: float = 3.0
    start: float = -99.0

    def __post_init__(self) -> None:
        _check_side("count", self.count)
        _check_positive("width", self.width)
        check(finite(self.start), "start", "be finite", self.start)


@dataclass(frozen=True)
class SsrParams:
    """``ssr`` (FSA-Net, SSR-Net): p logits (B, K, 3, s), eta (B, K, 3, s), delta (B, K, 3) pre-tanh; stages s_k
    (all one size: the decode stacks them), range V and the scale term's lambda."""

    stages: tuple[int, ...] = (3, 3, 3)
    value_range: float = 99.0
    lam: float = 1.0

    def __post_init__(self) -> None:
        check(0 < len(self.stages) <= 16 and all(1 <= s <= 1024 for s in self.stages), "stages",
              "hold 1 to 16 stages of 1 to 1024 bins", self.stages)
        check(len(set(self.stages)) == 1, "stages", "be stages of one size (the ssr decode stacks them)",
              self.stages)
        _check_positive("value_range", self.value_range)
        check(finite(self.lam), "lam", "be finite", self.lam)


DecodeParams = Union[RegressionParams, PoseRegressionParams, HeatmapParams, PipParams, BinsParams, SsrParams]
InputSize = tuple[int, int]  # (width, height) of the model input


@dataclass(frozen=True)
class Decoder:
    """One row of the decoder table."""

    kind: str
    task: Task
    params: type  # the frozen dataclass of its parameters (one of DecodeParams, or a peer's own)
    roles: tuple[str, ...]  # what each output tensor is, in order (their count is what the decode reads)
    numpy: Callable[[list, Any, InputSize | None], Any]  # (float32 outputs, params, input size) -> (B, N, 2) / (B, 3)
    shapes: Callable[[Any, InputSize], list[Shape]]  # (params, input size) -> per-image shape of every output
    torch: str | None = None  # "module:function" of the torch twin, same arguments; None: none (not trained)

    def torch_decode(self) -> Callable:
        """The torch twin (imports torch): (tensors, params, input size) -> (B, N, 2) crop px / (B, 3) degrees."""
        if self.torch is None:
            raise ValueError(f"no torch decoder for '{self.kind}' (no zoo model trains with it)")
        module, name = self.torch.split(":")
        return getattr(importlib.import_module(module), name)


DECODERS: dict[str, Decoder] = {}
# Kinds registered outside edgekit.runtime.decoders, by the module that registers them: imported when a spec
# read from a file names one (a MediaPipe file with its spec embedded), so no caller has to import it first.
KIND_MODULES = {"face_mesh": "edgekit.profile.peers"}


def register_decoder(decoder: Decoder) -> Decoder:
    """Add a row; a kind is registered once (a second, different row for it is a ValueError)."""
    known = DECODERS.get(decoder.kind)
    if known is not None and known != decoder:
        raise ValueError(f"decode kind '{decoder.kind}' is registered already")
    DECODERS[decoder.kind] = decoder
    return decoder


def decoder_table() -> dict[str, Decoder]:
    """Every registered row by kind, the built-in ones included (they register when first asked for)."""
    import edgekit.runtime.decoders  # noqa: F401  (the built-in rows register on import)

    return DECODERS


def decoder_for(kind: str) -> Decoder:
    """The table's row for ``kind``; ValueError naming the known kinds."""
    decoder_table()
    if kind not in DECODERS and kind in KIND_MODULES:
        importlib.import_module(KIND_MODULES[kind])
    if kind not in DECODERS:
        raise ValueError(f"kind must be one of {', '.join(sorted(DECODERS))}, got {excerpt(kind)}")
    return DECODERS[kind]


@dataclass(frozen=True)
class HeadSpec:
    """What the model outputs and how those outputs decode into landmarks or angles. ``params`` omitted: the
    kind's defaults (a kind with required parameters, e.g. ``num_points``, needs them given)."""

    kind: str
    outputs: tuple[str, ...]  # output tensor names, in forward() order (also the ONNX output names)
    params: DecodeParams | None = None

    def __post_init__(self) -> None:
        decoder = decoder_for(self.kind)
        if self.params is None:
            try:
                object.__setattr__(self, "params", decoder.params())
            except TypeError:
                raise ValueError(f"kind '{self.kind}' needs params ({decoder.params.__name__})") from None
        check(isinstance(self.params, decoder.params), "params", f"be {decoder.params.__name__} for kind "
              f"'{self.kind}'", type(self.params).__name__)
        check(len(self.outputs) == len(decoder.roles), "outputs", f"name {len(decoder.roles)} tensors for kind "
              f"'{self.kind}' ({', '.join(decoder.roles)})", self.outputs)

    @property
    def decoder(self) -> Decoder:
        return decoder_for(self.kind)

    @property
    def task(self) -> Task:
        return self.decoder.task

    @property
    def num_points(self) -> int:
        """Landmarks per face; 0 for a pose head."""
        return self.params.num_points if self.task == "landmarks" else 0

    @classmethod
    def serial_input(cls, data: Any, where: str) -> tuple[Any, dict[str, type]]:
        """For ``serial.from_dict``: the flat form of edgekit 0.1 files converted (``edgekit.head_v1``), and the
        type of ``params`` by the kind (SpecError naming ``where`` for an unknown kind)."""
        if not isinstance(data, dict):
            return data, {}
        if "decode" in data or "output" in data:
            from edgekit.head_v1 import head_from_flat

            data = head_from_flat(data, where)
        if "kind" not in data:
            return data, {}
        try:
            return data, {"params": decoder_for(data["kind"]).params}
        except (ValueError, TypeError) as exc:  # TypeError: an unhashable kind (a list)
            raise SpecError(f"{where}: {exc}" if isinstance(exc, ValueError) else
                            f"{where}.kind: expected a string, got {excerpt(data['kind'])}") from None
