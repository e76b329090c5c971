from __future__ import annotations

import json

import numpy as np
import pytest

from edgekit.errors import DataError, ModelFileError
from edgekit.eval.evaluate import evaluate, open_runner
from edgekit.metrics import summarize
from edgekit.models.weights import build_model, save_weights

LANDMARK_KEYS = {"nme", "fr", "auc", "count"}
POSE_KEYS = {"mae", "yaw", "pitch", "roll", "count", "dropped"}


@pytest.fixture(scope="module")
def pfld_weights(tmp_path_factory):
    import torch

    torch.manual_seed(0)
    return save_weights(build_model("pfld_0.25x"), tmp_path_factory.mktemp("w") / "pfld.safetensors")


def test_summarize_hand_computed():
    spec = build_model("pfld_0.25x").spec
    truth = np.zeros((2, 68, 2))
    truth[:, 45, 0] = 100.0  # outer eye corners 36 and 45 are 100 px apart
    shifted = truth + np.array([3.0, 4.0])  # every point 5 px off: NME 5 %
    report = summarize(spec, shifted, truth)
    assert report["nme"] == pytest.approx(5.0) and report["fr"] == 0.0 and report["count"] == 2
    assert report["auc"] == pytest.approx(0.5, abs=2e-3)
    pose_spec = build_model("fsanet").spec
    pose = summarize(pose_spec, np.array([[10.0, 0, 0], [0, 0, 0]]), np.array([[12.0, 3, -1], [0, 0, 120]]))
    assert pose == {"yaw": 2.0, "pitch": 3.0, "roll": 1.0, "mae": 2.0, "count": 1, "dropped": 1}


def test_landmark_eval_on_a_synthetic_folder(pfld_weights, synthetic_faces, tmp_path):
    report = evaluate(pfld_weights, synthetic_faces, limit=10, threads=1, batch_size=4, ced=tmp_path / "ced.png")
    assert LANDMARK_KEYS <= report.keys() and report["count"] == 10
    assert report["task"] == "landmarks" and report["nme"] > 0 and 0 <= report["auc"] <= 1
    assert (tmp_path / "ced.png").read_bytes()[:4] == b"\x89PNG"


def test_pose_eval_derives_labels_only_when_asked(synthetic_faces, tmp_path):
    weights = save_weights(build_model("fsanet"), tmp_path / "fsa.safetensors")
    with pytest.raises(DataError, match="16 of 16 faces carry no pose label .* pass --derive-pose"):
        evaluate(weights, synthetic_faces, threads=1)
    report = evaluate(weights, synthetic_faces, threads=1, derive_pose=True)
    assert POSE_KEYS <= report.keys() and report["count"] + report["dropped"] == 16
    assert np.isfinite(report["mae"]) and report["pose_labels"] == "derived from 68 landmarks by solvePnP (16)"
    assert report["file"] == {"path": str(weights), "format": "torch", "precision": "fp32"}


def test_pose_eval_cli_says_where_labels_come_from(run_cli, synthetic_faces, tmp_path):
    weights = save_weights(build_model("fsanet"), tmp_path / "fsa.safetensors")
    code, out, err = run_cli("eval", weights, "--data", synthetic_faces, "--limit", 2)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"edgekit: error: {synthetic_faces}: 2 of 2 faces carry no pose label")
    code, out, err = run_cli("eval", weights, "--data", synthetic_faces, "--limit", 2, "--derive-pose")
    lines = out.splitlines()
    assert code == 0 and lines[1] == f"ran {weights} (torch fp32)", err
    assert lines[2].startswith("pose labels: derived from 68 landmarks by solvePnP (2)")
    assert [line.split()[0] for line in lines[3:]] == ["angle", "-" * 21, "yaw", "pitch", "roll", "MAE"]


def test_eval_cli_writes_json(run_cli, pfld_weights, synthetic_faces, tmp_path):
    out = tmp_path / "m.json"
    code, stdout, stderr = run_cli("eval", pfld_weights, "--data", synthetic_faces, "--json", out, "--limit", 3)
    assert code == 0, stderr
    report = json.loads(out.read_text())
    assert LANDMARK_KEYS <= report.keys() and report["count"] == 3
    assert "NME" in stdout and "(3 faces)" in stdout
    code, stdout, stderr = run_cli("eval", pfld_weights, "--data", synthetic_faces, "--json", "--limit", 3)
    assert code == 0 and json.loads(stdout) == report and stderr == ""


def test_unknown_sources(tmp_path):
    odd = tmp_path / "model.xyz"
    odd.write_bytes(b"?")
    with pytest.raises(ModelFileError, match="unknown model file type"):
        open_runner(odd)
    with pytest.raises(ModelFileError, match="not a registered model name"):
        open_runner("no_such_model")


def test_originals_are_decoded_one_at_a_time(pfld_weights, synthetic_faces, monkeypatch):
    """Each original is cropped and dropped before the next is decoded (8 originals of 64 MP would hold 1.9 GB):
    a spy around the real load_image sees no earlier image still alive when it decodes one."""
    import weakref

    from edgekit.eval import evaluate as module

    decoded, most_alive = [], []
    real_load_image = module.load_image

    def spy(sample):
        most_alive.append(sum(ref() is not None for ref in decoded))
        image = real_load_image(sample)
        decoded.append(weakref.ref(image))
        return image

    monkeypatch.setattr(module, "load_image", spy)
    report = module.evaluate(pfld_weights, synthetic_faces, limit=8, threads=1, batch_size=8)
    assert report["count"] == 8 and len(decoded) == 8 and max(most_alive) == 0
