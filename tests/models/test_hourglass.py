"""Stacked hourglass: shapes of every stack, intermediate supervision, the heatmap decode at 64x64, training steps,
its teacher features, and its recipe losses. (The zoo-wide tests in test_zoo.py cover ONNX export, NaN masking and
torch == numpy decode on random weights for the registered default.)"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from edgekit.models.heatmap_targets import gaussian_heatmaps
from edgekit.models.losses import heatmap_mse
from edgekit.registry import create_model
from edgekit.runtime.decode import decode
from edgekit.recipe import LossConfig

torch.set_num_threads(1)


def small_hourglass(**kwargs):
    torch.manual_seed(0)
    return create_model("hourglass2", channels=16, **kwargs)


def face_batch(size: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {"image": torch.randn(size, 3, 256, 256, generator=generator),
            "landmarks": 40 + 176 * torch.rand(size, 68, 2, generator=generator)}  # fmt: skip


def train_steps(model, batch: dict[str, torch.Tensor], steps: int, lr: float) -> list[dict[str, float]]:
    """``steps`` Adam steps on one batch; the loss parts of each."""
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    history = []
    for _ in range(steps):
        loss, parts = model.loss(model.forward_train(batch["image"]), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(parts)
    return history


def test_two_stacks_of_64x64_heatmaps_and_only_the_last_is_the_output():
    model = small_hourglass().eval()
    assert len(model.stacks) == 2 and len(model.remaps) == 1
    assert model.spec.preprocess.input_size == (256, 256) and model.spec.head.params.stride == 4
    image = face_batch()["image"]
    with torch.no_grad():
        (output,) = model(image)
        train_out = model.forward_train(image)
    assert [tuple(m.shape) for m in train_out["stack_heatmaps"]] == [(2, 68, 64, 64)] * 2
    torch.testing.assert_close(output, train_out["stack_heatmaps"][-1])
    assert not torch.allclose(train_out["stack_heatmaps"][0], output)  # the second stack refines the first


def test_every_stack_is_supervised():
    model = small_hourglass().train()
    batch = face_batch()
    train_out = model.forward_train(batch["image"])
    loss, parts = model.loss(train_out, batch)
    per_stack = [heatmap_mse(maps, batch["landmarks"], 4, model.sigma, model.foreground).item()
                 for maps in train_out["stack_heatmaps"]]  # fmt: skip
    assert [parts["stack1"], parts["stack2"]] == pytest.approx(per_stack, rel=1e-6)
    assert loss.item() == pytest.approx(sum(per_stack), rel=1e-6) and parts["heatmap"] == parts["stack2"]
    first_head = model.stacks[0].head.weight
    first_only = torch.autograd.grad(model.loss({**train_out, "stack_heatmaps": train_out["stack_heatmaps"][:1]},
                                                batch)[0], first_head)[0]  # fmt: skip
    assert first_only.abs().sum() > 0  # the first stack's head learns from its own term


def test_decode_of_64x64_targets_finds_the_landmarks_like_the_torch_twin():
    model = small_hourglass()
    landmarks = torch.tensor([[[30.0, 41.0], [128.5, 100.25], [201.0, 230.0]]])
    maps = gaussian_heatmaps(landmarks, (64, 64), 4, model.sigma)
    got = model.decode_torch((maps,)).numpy()
    reference = decode([maps.numpy()], model.spec.head, model.spec.preprocess.input_size)
    np.testing.assert_allclose(got, reference, atol=1e-5, rtol=0)
    np.testing.assert_allclose(got, landmarks.numpy(), atol=1.0, rtol=0)  # a quarter cell = 1 px at stride 4


def test_decode_of_the_model_output_equals_the_numpy_decode():
    model = small_hourglass().eval()
    with torch.no_grad():
        outputs = model(face_batch(seed=1)["image"])
    reference = decode([o.numpy() for o in outputs], model.spec.head, model.spec.preprocess.input_size)
    np.testing.assert_allclose(model.decode_torch(outputs).numpy(), reference, atol=1e-4, rtol=0)


@pytest.mark.parametrize("kind", ["mse", "adaptive_wing"])
def test_training_steps_lower_the_loss(kind):
    model = small_hourglass().train()
    model.use_loss(LossConfig(kind=kind))
    losses = [parts["loss"] for parts in train_steps(model, face_batch(), steps=3, lr=2e-3)]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]


def test_regression_losses_are_refused():
    with pytest.raises(ValueError, match="loss 'wing' does not apply to hourglass2 \\(it takes: mse, adaptive_wing\\)"):
        small_hourglass().use_loss(LossConfig(kind="wing"))


def test_teacher_features_sit_on_the_student_stage_grids():
    model = small_hourglass().eval()
    with torch.no_grad():
        features = model.teach(torch.zeros(1, 3, 128, 128)).features  # the student's crop, resized to 256
    assert [tuple(f.shape[1:]) for f in features] == [(16, 8, 8), (16, 16, 16), (16, 32, 32)]
    assert model.feature_channels == (16, 16, 16)


def test_hourglass_teaches_mobilefan_for_two_steps():
    teacher = small_hourglass()
    student = create_model("mobilefan", teacher_channels=teacher.feature_channels[0]).train()
    student.set_teacher(teacher)
    generator = torch.Generator().manual_seed(0)
    batch = {"image": torch.randn(2, 3, 128, 128, generator=generator),
             "landmarks": 20 + 88 * torch.rand(2, 68, 2, generator=generator)}  # fmt: skip
    for parts in train_steps(student, batch, steps=2, lr=1e-3):
        assert parts["kd_pixel"] > 0 and parts["kd_pair"] > 0 and np.isfinite(parts["loss"])
    assert all(p.grad is None for p in teacher.parameters())


def test_a_student_with_lifts_of_another_width_refuses_the_teacher():
    student = create_model("mobilefan")  # lifts to 128 channels
    with pytest.raises(ValueError, match="build the student with teacher_channels=16"):
        student.set_teacher(small_hourglass())


def test_another_scheme_changes_the_heatmap_count():
    model = small_hourglass(scheme="wflw98")
    assert model.spec.scheme == "wflw98" and model.spec.head.num_points == 98
    assert model.stacks[0].head.out_channels == 98 and model.remaps[0].heatmaps.in_channels == 98
