"""The training loop's teachers and recipe losses: a stacked hourglass teaches MobileFAN (lifts sized from it), a
teacher of another landmark scheme and a loss the model does not take are one-line errors naming the recipe."""
from __future__ import annotations

import pytest
import torch

from edgekit.models.load import load_checkpoint, load_model
from edgekit.models.weights import build_model, save_weights
from edgekit.train.loop import train
from edgekit.recipe import recipe_from_dict


def write_recipe(path, faces, extra: str) -> str:
    folder = f"{{path: {faces}}}"
    path.write_text(f"data: {{train: {folder}, val: {folder}}}\noptim: {{epochs: 1, batch_size: 8}}\n{extra}\n")
    return str(path)


def _one_line_error(result) -> str:
    code, _, stderr = result
    lines = stderr.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("edgekit: error: "), stderr
    return lines[0]


def test_hourglass_teaches_mobilefan_through_the_loop(synthetic_faces, tmp_path):
    teacher = save_weights(build_model("hourglass2", {"channels": 8}), tmp_path / "hg.safetensors")
    folder = {"path": str(synthetic_faces)}
    recipe = recipe_from_dict({"model": "mobilefan", "data": {"train": folder, "val": folder},
                               "optim": {"epochs": 1, "batch_size": 8}, "distill": {"teacher": str(teacher)},
                               "out": str(tmp_path / "run")})  # fmt: skip
    result = train(recipe, progress=False, threads=1)  # 16 faces: two steps
    assert result["epochs"] == 1
    state = load_checkpoint(tmp_path / "run" / "last.pt")
    assert state["step"] == 2 and state["model_args"]["teacher_channels"] == 8
    assert state["model"]["lifts.0.0.weight"].shape == (8, 64, 1, 1)  # 1x1 lift to the teacher's 8 channels
    student = load_model(tmp_path / "run" / "best.safetensors")  # the args rebuild the 8-wide lifts
    assert student.lifts[2][0].out_channels == 8


def test_teacher_of_another_scheme_names_the_recipe(run_cli, synthetic_faces, tmp_path):
    teacher = save_weights(build_model("hourglass2", {"channels": 8, "scheme": "wflw98"}), tmp_path / "t.safetensors")
    recipe = write_recipe(tmp_path / "kd.yaml", synthetic_faces,
                          f"model: mobilefan\ndistill: {{teacher: {teacher}}}\nout: {tmp_path / 'o'}")
    line = _one_line_error(run_cli("train", recipe))
    assert line.startswith(f"edgekit: error: {recipe}: distill.teacher {teacher} (hourglass2) predicts 98 wflw98")
    assert "mobilefan 68 ibug68" in line and not (tmp_path / "o" / "last.pt").exists()


def test_output_distillation_from_a_teacher_on_another_grid_is_one_line(run_cli, synthetic_faces, tmp_path):
    teacher = save_weights(build_model("hourglass2", {"channels": 8}), tmp_path / "t.safetensors")
    recipe = write_recipe(tmp_path / "kd.yaml", synthetic_faces,
                          f"model: mobilefan\ndistill: {{teacher: {teacher}, kd_heatmap: 1.0}}\nout: {tmp_path / 'o'}")
    line = _one_line_error(run_cli("train", recipe))
    assert f"{teacher}: teacher weights are for model hourglass2, which cannot teach mobilefan" in line
    assert "kd_heatmap needs the student's heatmap grid and sigma ((32, 32), 1.5)" in line
    assert not (tmp_path / "o" / "last.pt").exists()


def test_output_distillation_through_the_loop_with_unlabelled_faces(synthetic_faces, tmp_path):
    """kd_heatmap reaches the model; an unlabelled extra folder (the same 16 faces) doubles the steps."""
    teacher = save_weights(build_model("mobilefan_teacher", {"width": 0.25}), tmp_path / "mt.safetensors")
    folder = {"path": str(synthetic_faces)}
    data = {"train": folder, "val": folder, "extra_train": [{**folder, "labels": False}]}
    recipe = recipe_from_dict({"model": "mobilefan", "data": data, "optim": {"epochs": 1, "batch_size": 8},
                               "distill": {"teacher": str(teacher), "kd_heatmap": 0.5}, "out": str(tmp_path / "run")})
    train(recipe, progress=False, threads=1)
    state = load_checkpoint(tmp_path / "run" / "last.pt")
    assert state["model_args"]["kd_heatmap"] == 0.5 and state["step"] == 4
    header, row = (tmp_path / "run" / "log.csv").read_text().splitlines()[:2]
    assert float(dict(zip(header.split(","), row.split(",")))["kd_heatmap"]) > 0


@pytest.mark.parametrize("model, kind", [("pfld_0.25x", "adaptive_wing"), ("hourglass2", "wing"),
                                         ("fsanet", "l2")])  # fmt: skip
def test_a_loss_the_model_does_not_take_names_the_recipe(run_cli, synthetic_faces, tmp_path, model, kind):
    recipe = write_recipe(tmp_path / "r.yaml", synthetic_faces,
                          f"model: {model}\nloss: {{kind: {kind}}}\nout: {tmp_path / 'o'}")
    line = _one_line_error(run_cli("train", recipe))
    assert line.startswith(f"edgekit: error: {recipe}: recipe loss: loss '{kind}' does not apply to {model}")


def test_an_unknown_loss_kind_is_a_recipe_error(run_cli, synthetic_faces, tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", synthetic_faces, "model: pfld_0.25x\nloss: {kind: huber}")
    line = _one_line_error(run_cli("train", recipe))
    assert recipe in line and "huber" in line


def test_wing_trains_pfld(tiny_recipe, tmp_path):
    result = train(tiny_recipe(epochs=1, loss={"kind": "wing"}), progress=False, threads=1)
    state = load_checkpoint(tmp_path / "run" / "last.pt")
    assert result["best"] > 0 and state["recipe"]["loss"]["kind"] == "wing"
    assert "wing" in (tmp_path / "run" / "log.csv").read_text().splitlines()[0].split(",")


def test_student_started_from_weights_of_another_teacher_gets_fresh_lifts(synthetic_faces, tmp_path):
    """init: the shipped mobilefan (lifts to mobilefan_teacher's widths) distilled from an 8-wide hourglass: the
    lifts start fresh at the new width, every other tensor is the shipped one."""
    teacher = save_weights(build_model("hourglass2", {"channels": 8}), tmp_path / "hg.safetensors")
    folder = {"path": str(synthetic_faces)}
    recipe = recipe_from_dict({"model": "mobilefan", "init": "mobilefan", "data": {"train": folder, "val": folder},
                               "optim": {"epochs": 1, "batch_size": 8, "lr": 1e-9}, "channels_last": False,
                               "distill": {"teacher": str(teacher)}, "out": str(tmp_path / "run")})  # fmt: skip
    train(recipe, progress=False, threads=1)
    trained = load_checkpoint(tmp_path / "run" / "last.pt")["model"]
    shipped = load_model("mobilefan").state_dict()
    assert trained["lifts.0.0.weight"].shape == (8, 64, 1, 1)
    conv = "encoder.0.0.weight" if "encoder.0.0.weight" in shipped else next(k for k in shipped if "conv" in k)
    assert torch.allclose(trained[conv], shipped[conv].float(), atol=1e-4)
