"""Every registered model: spec-implied output shapes, torch decode == numpy decode, two training steps, NaN
masking, ONNX export parity with ONNX Runtime, and the MAC budget."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from edgekit.models.pipnet_meanface import MEANFACE_68
from edgekit.profile.flops import onnx_macs
from edgekit.registry import create_model, list_models
from edgekit.runtime.decode import decode
from edgekit.specs import ModelSpec

torch.set_num_threads(1)

ZOO = ("fsanet", "hopenet_mbv2", "hourglass2", "mobilefan", "mobilefan_nokd", "mobilefan_teacher", "pfld_0.25x",
       "pfld_1x", "pipnet_mbv2", "pipnet_mbv3", "ssrnet_md")  # fmt: skip
MAX_MACS = 350e6  # the edge budget
TEACHER_MACS = {"hourglass2": 0.7e9}  # teachers train students, never ship to the edge: 0.60 G at 64 channels


def build(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = create_model(name)
    for module in model.modules():  # non-trivial BN statistics, so eval mode really differs from identity
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return model


def input_for(spec: ModelSpec, batch: int = 1, seed: int = 0) -> torch.Tensor:
    width, height = spec.preprocess.input_size
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, spec.preprocess.channels, height, width, generator=generator)


def make_batch(spec: ModelSpec, size: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    """Noise images, landmarks = the mean face in crop px +- 3 px, poses in [-60, 60] degrees."""
    generator = torch.Generator().manual_seed(seed)
    face = torch.tensor(MEANFACE_68).view(1, 68, 2) * torch.tensor(spec.preprocess.input_size, dtype=torch.float32)
    landmarks = face + 3 * torch.randn(size, 68, 2, generator=generator)
    pose = 120 * torch.rand(size, 3, generator=generator) - 60
    return {"image": input_for(spec, size, seed), "landmarks": landmarks, "pose": pose}


def expected_shapes(spec: ModelSpec, batch: int) -> list[tuple[int, ...]]:
    kind, params, (width, height) = spec.head.kind, spec.head.params, spec.preprocess.input_size
    n = spec.head.num_points
    if kind == "regression":
        return [(batch, 2 * n)]
    if kind in ("heatmap_argmax", "heatmap_dark"):
        return [(batch, n, height // params.stride, width // params.stride)]
    if kind == "pip":
        grid = (height // params.stride, width // params.stride)
        return [(batch, n, *grid)] * 3 + [(batch, n * params.num_neighbors, *grid)] * 2
    if kind == "bins":
        return [(batch, 3, params.count)]
    stages, bins = len(params.stages), params.stages[0]
    return [(batch, stages, 3, bins)] * 2 + [(batch, stages, 3)]


def test_every_model_is_registered():
    assert tuple(list_models()) == ZOO


@pytest.mark.parametrize("name", ZOO)
def test_outputs_match_the_head_spec(name):
    model = build(name).eval()
    spec = model.spec
    assert spec.name == name and spec.description and spec.task == spec.head.task
    with torch.no_grad():
        outputs = model(input_for(spec, batch=2))
        train_out = model.forward_train(input_for(spec, batch=2))
    assert [tuple(o.shape) for o in outputs] == expected_shapes(spec, 2)
    for got, want in zip(model.outputs_of(train_out), outputs):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("name", ZOO)
def test_decode_torch_equals_numpy_decode(name):
    model = build(name).eval()
    with torch.no_grad():
        outputs = model(input_for(model.spec, batch=2, seed=1))
        decoded = model.decode_torch(outputs).numpy()
    reference = decode([o.numpy() for o in outputs], model.spec.head, model.spec.preprocess.input_size)
    atol = 1e-4 if model.spec.task == "landmarks" else 1e-3  # px / degrees
    np.testing.assert_allclose(decoded, reference, atol=atol, rtol=0)


@pytest.mark.parametrize("name", ZOO)
def test_two_optimizer_steps_change_a_finite_loss(name):
    model = build(name).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = make_batch(model.spec)
    losses = []
    for _ in range(2):
        loss, parts = model.loss(model.forward_train(batch["image"]), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        assert parts["loss"] == pytest.approx(loss.item())
    assert np.isfinite(losses).all() and losses[0] != losses[1]


@pytest.mark.parametrize("name", ZOO)
def test_missing_labels_are_masked(name):
    model = build(name).train()
    batch = make_batch(model.spec, size=3)
    batch["landmarks"][0, 10:20] = float("nan")  # some points missing
    batch["landmarks"][1] = float("nan")  # a face without landmarks
    batch["pose"][2] = float("nan")  # a face without pose
    loss, _ = model.loss(model.forward_train(batch["image"]), batch)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize("name", ZOO)
def test_onnx_export_matches_torch_and_fits_the_budget(name, tmp_path):
    model = build(name).eval()
    x = input_for(model.spec, seed=2)
    path = tmp_path / f"{name}.onnx"
    names = list(model.spec.head.outputs)
    torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=17, input_names=["input"],
                      output_names=names)  # fmt: skip
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(names, {"input": x.numpy()})
    with torch.no_grad():
        want = model(x)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w.numpy(), atol=1e-4, rtol=1e-4)
    assert onnx_macs(path) < TEACHER_MACS.get(name, MAX_MACS)


@pytest.mark.parametrize("name", ZOO)
def test_grouped_convs_are_pure_depthwise(name):
    """Channel-multiplier grouped convs are pathological in ORT INT8 (toolchain.md §6)."""
    for module in build(name).modules():
        if isinstance(module, torch.nn.Conv2d) and module.groups > 1:
            assert module.groups == module.in_channels == module.out_channels
