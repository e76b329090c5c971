"""Parity numbers by hand, the label-free and annotated gate through the Predictor, latency."""
from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgekit.backend.onnxruntime.runner import OnnxRuntimeRunner
from edgekit.errors import EdgekitError
from edgekit.checks import GateResult
from edgekit.export.gate import Gate, latency_ms, parity, require_parity


def test_landmark_parity_in_image_pixels(pfld):
    # regression output in [0, 1] crop units; crop 112 px of a 224 px box: 1 crop px = 2 image px
    reference = [np.full((1, 136), 0.5, np.float32)]
    moved = reference[0].copy()
    moved[0, 0] += 3 / 112  # point 0 moves 3 crop px in x
    matrix = np.array([[[0.5, 0.0, 0.0], [0.0, 0.5, 0.0]]])
    result = parity(reference, [moved], pfld.spec, matrix)
    assert result.images == 1 and result.against == "torch" and result.max_deg is None
    assert result.max_abs == pytest.approx(3 / 112, rel=1e-5)
    assert result.max_px == pytest.approx(6.0, rel=1e-5)
    with pytest.raises(EdgekitError, match="up to 6 px.*limit 0.05 px"):
        require_parity(result, 0.05, 0.05, "model.onnx", "torch")
    require_parity(result, 6.5, 0.05, "model.onnx", "torch")


def test_pose_parity_in_degrees(fsanet):
    from edgekit.runtime.decode import decode

    rng = np.random.default_rng(0)
    reference = [rng.normal(size=(2, 3, 3, 3)).astype(np.float32), rng.normal(size=(2, 3, 3, 3)).astype(np.float32),
                 rng.normal(size=(2, 3, 3)).astype(np.float32)]
    changed = [reference[0] + 0.1, reference[1], reference[2]]
    result = parity(reference, changed, fsanet.spec, np.zeros((2, 2, 3)))
    expected = np.abs(decode(reference, fsanet.spec.head) - decode(changed, fsanet.spec.head)).max()
    assert result.max_deg == pytest.approx(float(expected), rel=1e-6) and result.max_px is None
    assert result.max_abs == pytest.approx(0.1, rel=1e-5)


def test_label_free_gate_against_fp32(pfld, pfld_onnx, pfld_calibration, small_int8):
    holdout = pfld_calibration.holdout
    gate = Gate(pfld.spec, small_int8, holdout_paths=holdout.paths, holdout_boxes=holdout.boxes, use_labels=False)
    with OnnxRuntimeRunner(str(pfld_onnx), 1) as runner:
        assert gate.set_baseline(runner) == 0.0
        same = gate.check(runner)
    assert same == GateResult("nme", 0.0, 0.0, 0.1, True, True, 8)


def test_held_out_annotations_make_the_gate_labeled(pfld, pfld_onnx, pfld_calibration, small_int8, tmp_path):
    """The budget is an NME increase vs labels; the held-out faces carry them, so the gate uses them (the
    label-free deviation, an upper bound, is kept as vs_fp32). Without enough labels: label-free."""
    from edgekit.export.gate import holdout_labels
    from edgekit.metrics import landmark_summary, nme

    holdout = pfld_calibration.holdout
    gate = Gate(pfld.spec, small_int8, holdout_paths=holdout.paths, holdout_boxes=holdout.boxes)
    with OnnxRuntimeRunner(str(pfld_onnx), 1) as runner:
        baseline = gate.set_baseline(runner)
        result = gate.check(runner)
    truths = holdout_labels(holdout.paths, gate.images, pfld.spec)
    assert truths.shape == (8, 68, 2) and np.isfinite(truths).all()
    assert baseline == pytest.approx(landmark_summary(nme(gate.reference, truths))["nme"]) and baseline > 0
    assert result.labels == "held-out annotations" and not result.label_free
    assert result.delta == 0.0 and result.vs_fp32 == 0.0 and result.images == 8
    bare = tmp_path / "bare"  # the same images without their annotations
    bare.mkdir()
    paths = []
    for path in holdout.paths:
        shutil.copyfile(path, bare / Path(path).name)
        paths.append(str(bare / Path(path).name))
    assert Gate(pfld.spec, small_int8, holdout_paths=tuple(paths), holdout_boxes=holdout.boxes).label_free


def test_annotated_gate_measures_nme(pfld, pfld_onnx, faces_dir, small_int8):
    strict = dataclasses.replace(small_int8, budget_nme=-1.0)
    gate = Gate(pfld.spec, strict, eval_dir=faces_dir, limit=6)
    with OnnxRuntimeRunner(str(pfld_onnx), 1) as runner:
        baseline = gate.set_baseline(runner)
        result = gate.check(runner)
    assert baseline > 0 and result.value == pytest.approx(baseline)  # random weights: a real, large NME
    assert result.images == 6 and not result.label_free and not result.passed


def test_a_recipe_gates_on_all_of_its_validation_set(pfld, faces_dir, small_int8, tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"model: pfld_0.25x\ndata:\n  train: {{path: {faces_dir}}}\n  val: {{path: {faces_dir}}}\n")
    gate = Gate(pfld.spec, small_int8, eval_dir=recipe, limit=6)  # the limit is for folders only
    assert len(gate.samples) == 24 and not gate.label_free


def test_gate_without_any_data_is_refused(pfld, small_int8):
    with pytest.raises(EdgekitError, match="annotated eval folder"):
        Gate(pfld.spec, small_int8)


def test_latency_is_a_positive_median(pfld_onnx, pfld_calibration):
    with OnnxRuntimeRunner(str(pfld_onnx), 1) as runner:
        value = latency_ms(runner, pfld_calibration.calib.tensors, runs=5, warmup=1)
    assert 0 < value < 1000
