from __future__ import annotations

import pytest

from edgekit.models.weights import build_model, save_weights


def test_one_epoch_through_the_cli(run_cli, synthetic_faces, tmp_path):
    out = tmp_path / "run"
    code, stdout, stderr = run_cli("train", "pfld_0.25x", "--data", synthetic_faces, "--val", synthetic_faces,
                                   "--epochs", 1, "--out", out, "--threads", 1, "--no-progress")
    assert code == 0, stderr
    assert {"best.safetensors", "best.pt", "last.pt", "log.csv"} <= {p.name for p in out.iterdir()}
    assert "best val nme" in stdout
    header, row = (out / "log.csv").read_text().splitlines()
    assert header.startswith("epoch,") and "val_nme" in header and row.startswith("1,")


def _one_line_error(result) -> str:
    code, _, stderr = result
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgekit: error: "), stderr
    return lines[0]


def test_unknown_recipe_key(run_cli, tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("model: pfld_0.25x\ndata: {train: {path: a}, val: {path: b}}\nlearning_rate: 3\n")
    line = _one_line_error(run_cli("train", path))
    assert "'learning_rate'" in line and str(path) in line


def test_folder_without_annotations(run_cli, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    line = _one_line_error(run_cli("train", "pfld_0.25x", "--data", empty, "--val", empty, "--out", tmp_path / "o"))
    assert "no annotated faces" in line and str(empty) in line


def test_resume_from_another_model(run_cli, synthetic_faces, tmp_path):
    out = tmp_path / "run"
    common = ("--data", synthetic_faces, "--val", synthetic_faces, "--out", out, "--no-progress", "--epochs", 1)
    assert run_cli("train", "pfld_0.25x", *common)[0] == 0
    line = _one_line_error(run_cli("train", "pfld_1x", *common, "--resume"))
    assert "weights are for model pfld_0.25x, not pfld_1x" in line and "last.pt" in line


def test_teacher_of_another_model(run_cli, synthetic_faces, tmp_path):
    teacher = save_weights(build_model("pfld_0.25x"), tmp_path / "teacher.safetensors")
    recipe = tmp_path / "kd.yaml"
    folder = f"{{path: {synthetic_faces}}}"
    recipe.write_text(f"model: mobilefan\ndata: {{train: {folder}, val: {folder}}}\n"
                      f"distill: {{teacher: {teacher}}}\nout: {tmp_path / 'o'}\n")
    line = _one_line_error(run_cli("train", recipe))
    assert "teacher weights are for model pfld_0.25x" in line and str(teacher) in line


@pytest.mark.parametrize("flag", ["--epochs", "--max-samples", "--threads"])
def test_non_positive_numbers(run_cli, capsys, flag):
    with pytest.raises(SystemExit) as info:  # argparse refuses it: one line, exit 2
        run_cli("train", "pfld_0.25x", flag, 0)
    assert "must be positive" in _one_line_error((info.value.code, "", capsys.readouterr().err))


def test_an_existing_run_needs_resume_or_overwrite(run_cli, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "log.csv").write_text("epoch,val_nme\n1,9.5\n")
    line = _one_line_error(run_cli("train", "pfld_0.25x", "--out", run))
    assert line.startswith(f"edgekit: error: {run}: --out holds a previous run (log.csv)") and "--overwrite" in line
    assert (run / "log.csv").read_text() == "epoch,val_nme\n1,9.5\n"


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a GPU is visible: --device cuda would train")
def test_device_cuda_without_a_gpu_is_one_line_and_writes_nothing(run_cli, synthetic_faces, tmp_path):
    out = tmp_path / "run"
    line = _one_line_error(run_cli("train", "pfld_0.25x", "--data", synthetic_faces, "--val", synthetic_faces,
                                   "--epochs", 1, "--out", out, "--device", "cuda"))
    assert "--device cuda: no CUDA device is visible" in line
    assert not out.exists() or not any(out.iterdir())
