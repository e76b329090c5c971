"""MobileFAN distillation: KD terms need a teacher, reach only the student, and leave the exported graph alone."""
from __future__ import annotations

import pytest
import torch

from edgekit.registry import create_model

torch.set_num_threads(1)


def batch_for(model, size: int = 2) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {"image": torch.randn(size, 3, 128, 128, generator=generator),
            "landmarks": 20 + 88 * torch.rand(size, 68, 2, generator=generator),
            "pose": torch.full((size, 3), float("nan"))}  # fmt: skip


def test_kd_terms_are_zero_without_a_teacher():
    model = create_model("mobilefan").train()
    batch = batch_for(model)
    _, parts = model.loss(model.forward_train(batch["image"]), batch)
    assert parts["kd_pixel"] == parts["kd_pair"] == parts["kd_heatmap"] == 0.0 and parts["heatmap"] > 0


def test_teacher_gives_kd_terms_and_gets_no_gradient():
    torch.manual_seed(0)
    student, teacher = create_model("mobilefan").train(), create_model("mobilefan_teacher").train()
    student.set_teacher(teacher)
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    assert not any(key.startswith("teacher") for key in student.state_dict())
    batch = batch_for(student)
    loss, parts = student.loss(student.forward_train(batch["image"]), batch)
    loss.backward()
    assert parts["kd_pixel"] > 0 and parts["kd_pair"] > 0 and parts["kd_heatmap"] == 0.0  # off by default
    assert parts["loss"] == pytest.approx(parts["heatmap"] + 0.01 * (parts["kd_pixel"] + parts["kd_pair"]), rel=1e-5)
    assert all(p.grad is None for p in teacher.parameters())
    assert all(lift[0].weight.grad is not None for lift in student.lifts)  # the lifts learn from the KD term


def test_features_are_three_stages_at_growing_resolution():
    student = create_model("mobilefan").eval()
    with torch.no_grad():
        features = student.forward_train(torch.zeros(1, 3, 128, 128))["features"]
    assert [tuple(f.shape[-2:]) for f in features] == [(8, 8), (16, 16), (32, 32)]


def test_teacher_is_not_exported(tmp_path):
    student = create_model("mobilefan").eval()
    plain = tmp_path / "plain.onnx"
    torch.onnx.export(student, (torch.zeros(1, 3, 128, 128),), str(plain), dynamo=False, opset_version=17)
    student.set_teacher(create_model("mobilefan_teacher"))
    with_teacher = tmp_path / "with_teacher.onnx"
    torch.onnx.export(student, (torch.zeros(1, 3, 128, 128),), str(with_teacher), dynamo=False, opset_version=17)
    assert with_teacher.stat().st_size == plain.stat().st_size


def test_nokd_student_refuses_a_teacher():
    model = create_model("mobilefan_nokd")
    assert model.spec.name == "mobilefan_nokd" and model.lifts is None
    with pytest.raises(ValueError, match="without distillation"):
        model.set_teacher(create_model("mobilefan_teacher"))


def test_kd_heatmap_adds_the_output_term():
    torch.manual_seed(0)
    student = create_model("mobilefan", kd_pixel=0.0, kd_pair=0.0, kd_heatmap=2.0).train()
    student.set_teacher(create_model("mobilefan_teacher"))
    batch = batch_for(student)
    out = student.forward_train(batch["image"])
    _, parts = student.loss(out, batch)
    with torch.no_grad():
        taught = student.teacher.teach(batch["image"]).heatmaps
    expected = ((1 + 10.0 * taught.clamp(0, 1)) * (out["heatmaps"] - taught) ** 2).mean().item()
    assert parts["kd_heatmap"] == pytest.approx(expected, rel=1e-5) and parts["kd_heatmap"] > 0
    assert parts["loss"] == pytest.approx(parts["heatmap"] + 2.0 * parts["kd_heatmap"], rel=1e-5)
    assert parts["kd_pixel"] == parts["kd_pair"] == 0.0  # terms of weight 0 are not computed


def test_kd_heatmap_refuses_a_teacher_on_another_grid():
    teacher = create_model("hourglass2", channels=16)  # 64x64 heatmaps of a 256 crop, sigma 1
    student = create_model("mobilefan", teacher_channels=teacher.feature_channels[0], kd_heatmap=1.0)
    with pytest.raises(ValueError, match=r"kd_heatmap needs the student's heatmap grid and sigma \(\(32, 32\), 1.5\); "
                                         r"the teacher's are \(\(64, 64\), 1.0\)"):
        student.set_teacher(teacher)
    student = create_model("mobilefan", teacher_channels=teacher.feature_channels[0])  # features only: fine
    student.set_teacher(teacher)
