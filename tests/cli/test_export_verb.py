"""``edgekit export``: bad input is one line and exit 2 with nothing written; success prints the table."""
from __future__ import annotations

import json

import numpy as np
import pytest


@pytest.fixture()
def weights(tmp_path):
    import torch

    from edgekit.models.weights import build_model, save_weights

    torch.manual_seed(0)
    return save_weights(build_model("fsanet"), tmp_path / "fsanet.safetensors")


@pytest.fixture()
def target_yaml(tmp_path):
    path = tmp_path / "small-cpu.yaml"
    path.write_text("name: small-cpu\nruntime: onnxruntime\nonnx:\n  parity_images: 4\n"
                    "int8:\n  min_images: 8\n  max_images: 8\n  holdout_images: 4\n")
    return path


@pytest.fixture()
def faces(tmp_path):
    from edgekit.data.synthetic import write_synthetic_folder

    folder = tmp_path / "faces"
    write_synthetic_folder(folder, 12, np.random.default_rng(5), size=96)
    return folder


def _one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgekit: error:"), err
    for fragment in fragments:
        assert fragment in lines[0]


def test_export_prints_the_table(run_cli, weights, target_yaml, faces, tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEKIT_CACHE", str(tmp_path / "cache"))
    code, out, _ = run_cli("export", weights, "--target", target_yaml, "--out", tmp_path / "art",
                           "--calib", faces, "--threads", "1", "--json", tmp_path / "export.json")
    assert code == 0
    assert "file" in out and "model.int8.onnx" in out and "label-free" in out and "default file:" in out
    record = json.loads((tmp_path / "export.json").read_text())  # --json FILE: the same files, machine-readable
    assert record["artifact"] == str(tmp_path / "art") and record["selected"] in [f["path"] for f in record["files"]]
    assert {f["path"]: f["precision"] for f in record["files"]}["model.int8.onnx"] == "int8"


@pytest.mark.parametrize("case", ["empty", "tiny", "non_image"])
def test_bad_calibration_folders(case, run_cli, weights, target_yaml, faces, tmp_path):
    folder = tmp_path / case
    folder.mkdir()
    if case == "tiny":
        for image in sorted(faces.glob("*.jpg"))[:3]:
            (folder / image.name).write_bytes(image.read_bytes())
    if case == "non_image":
        for image in sorted(faces.glob("*.jpg")):
            (folder / image.name).write_bytes(image.read_bytes())
        (folder / "model.bin").write_bytes(b"\0" * 10)
    code, _, err = run_cli("export", weights, "--target", target_yaml, "--out", tmp_path / "art", "--calib", folder)
    expected = {"empty": "no images", "tiny": "only 3 images", "non_image": "model.bin"}[case]
    _one_line_error(code, err, expected)
    assert not (tmp_path / "art").exists()


def test_unknown_target_key(run_cli, weights, faces, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nruntime: onnxruntime\nonnx:\n  opsett: 17\n")
    code, _, err = run_cli("export", weights, "--target", bad, "--out", tmp_path / "art", "--calib", faces)
    _one_line_error(code, err, "bad.yaml", "opsett")


def test_weights_of_another_model(run_cli, target_yaml, faces, tmp_path):
    import json

    from safetensors.torch import save_file

    from edgekit.models.weights import build_model

    state = {k: v.contiguous() for k, v in build_model("fsanet").state_dict().items()}
    spec = json.dumps(build_model("pfld_0.25x").spec.to_dict())
    path = tmp_path / "mislabelled.safetensors"
    save_file(state, str(path), metadata={"edgekit.format": "1", "edgekit.model": "pfld_0.25x",
                                          "edgekit.model_args": "{}", "edgekit.spec": spec})
    code, _, err = run_cli("export", path, "--target", target_yaml, "--out", tmp_path / "art", "--calib", faces)
    _one_line_error(code, err, "mislabelled.safetensors")
    assert not (tmp_path / "art").exists()


def test_a_registered_model_is_gated_on_its_own_validation_set_by_default(tmp_path):
    from edgekit.export.pipeline import own_validation_set
    from edgekit.paths import shared_data_dir

    if not (shared_data_dir() / "300w-train").is_dir():
        pytest.skip("../shared/data/300w-train is absent: no validation set to default to")
    lines = []
    assert own_validation_set("pfld_0.25x", lines.append).endswith("recipes/pfld_0.25x.yaml")
    assert "own validation set" in lines[0] and "300w-train" in lines[0]
    assert own_validation_set(str(tmp_path / "pfld_0.25x.safetensors"), lines.append) is None  # a file: no recipe
    assert own_validation_set("not_a_model", lines.append) is None and len(lines) == 1


def test_eval_held_out_keeps_the_calibration_faces_gate(weights, target_yaml, faces, tmp_path, run_cli):
    from edgekit.artifact import read_manifest

    code, out, _ = run_cli("export", weights, "--target", target_yaml, "--out", tmp_path / "art", "--calib", faces,
                           "--eval", "held-out")
    assert code == 0, out
    gate = read_manifest(tmp_path / "art").checks.gate
    assert gate.label_free or gate.files["model.int8.onnx"].labels == "held-out annotations"
