"""Specs, YAML, manifests, model and weights files (tests/corpus/specs.py) x every verb that reads them, through
the real CLI: exit 2, one stderr line ``edgekit: error: PATH: problem`` naming the bad file, no traceback,
nothing new in the output folder (a previous artifact stays byte-identical), a run folder being resumed
untouched. A few run as ``python -m edgekit`` subprocesses (the real stderr, exit code and memory).
"""
from __future__ import annotations

import resource
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

HERE = Path(__file__).resolve().parent
BOX = "20,20,108,108"  # the drawn face in the corpus images
TRIED: list[str] = []

RECIPES = ("seed_huge", "seed_negative", "lr_nan", "lr_inf", "workers_negative", "batch_zero", "epochs_huge",
           "log_every_zero", "weight_decay_negative", "gamma_nan", "flip_p_two", "val_fraction_one",
           "split_seed_negative", "unknown_model_arg", "model_arg_nan")
HOSTILE_YAML = ("alias_bomb", "duplicate_key", "deep_nesting", "nul_byte", "not_utf8", "huge_value", "control_char",
                "huge_integer")
TARGETS = ("opset_high", "opset_low", "workspace_negative", "batch_negative", "batch_unordered",
           "images_min_above_max", "holdout_negative", "percentile_high", "budget_nan", "parity_images_zero",
           "trt_version_unknown", "dla_negative")
MANIFESTS = ("manifest_nul_path", "manifest_nul_name", "manifest_deep", "manifest_deep_checks",
             "manifest_files_string", "manifest_size_string", "manifest_huge_name",
             "manifest_huge_integer", "manifest_not_utf8", "manifest_checks_wrong_type",
             "manifest_engines_wrong_type", "manifest_input_size_huge", "manifest_workspace_negative")
ONNX = ("onnx_wrong_width", "onnx_wrong_rank", "onnx_uint8_input", "onnx_double_output", "onnx_int_output",
        "onnx_bins_wrong", "onnx_heatmap_wrong", "onnx_spec_nul", "onnx_spec_deep", "onnx_spec_wrong_type",
        "onnx_spec_not_json", "onnx_spec_huge", "onnx_spec_huge_integer", "onnx_spec_zero_points")
TFLITE = ("tflite_wrong_output", "tflite_int8_no_scale", "tflite_spec_bad_buffer")
WEIGHTS = ("weights_no_metadata", "weights_no_spec", "weights_spec_not_json", "weights_spec_wrong_type",
           "weights_spec_deep", "weights_spec_invalid", "weights_args_not_json", "weights_args_wrong_type",
           "weights_unknown_arg", "weights_int32", "weights_complex", "weights_float64", "weights_wrong_shape",
           "weights_model_name_nul")
RUNS = ("run_missing_keys", "run_bad_optimizer", "run_bad_rng", "run_epoch_string", "run_model_name_int",
        "run_model_list", "run_truncated_zip", "run_not_zip", "run_foreign_zip")

Args = Callable[[dict, Path], list]  # (corpus, scratch folder) -> argv after "edgekit"


@dataclass(frozen=True)
class Case:
    id: str
    args: Args
    names: str  # corpus key of the file the error line must name
    watch: str | None = None  # corpus key of a folder that must not change


@pytest.fixture(scope="session")
def specs(corpus, module_at, tmp_path_factory) -> dict[str, Path]:
    """The main corpus (faces, images) plus the spec corpus."""
    module = module_at("spec_corpus", HERE.parent / "corpus" / "specs.py")
    return {**corpus, **module.write_spec_corpus(tmp_path_factory.mktemp("specs"), corpus["face_ok_dir"])}


def _model_cases(key: str, named: str) -> list[Case]:
    return [Case(f"predict-{key}", lambda c, w, k=key: ["predict", c[k], c["face_ok"], "--box", BOX, "--json"], named),
            Case(f"eval-{key}", lambda c, w, k=key: ["eval", c[k], "--data", c["face_ok_dir"], "--json",
                                                     w / "m.json"], named)]


def _cases() -> list[Case]:
    cases = [Case(f"train-recipe_{k}", lambda c, w, k=k: ["train", c[f"recipe_{k}"], "--out", w / "run"],
                  f"recipe_{k}") for k in RECIPES + HOSTILE_YAML]
    cases += [Case(f"export-target_{k}", lambda c, w, k=k: ["export", "fsanet", "--target", c[f"target_{k}"],
                                                            "--out", w / "art"], f"target_{k}")
              for k in TARGETS + HOSTILE_YAML]
    cases += [Case(f"export-{k}", lambda c, w, k=k: ["export", "pfld_0.25x", "--target", c["target_tiny_int8_ok"],
                                                     "--calib", c[k], "--out", w / "art"], k)
              for k in ("calib_negative_limit", "calib_alias_bomb")]
    for key in MANIFESTS:
        cases += [Case(f"predict-{key}", lambda c, w, k=key: ["predict", c[k], c["face_ok"], "--box", BOX],
                       f"{key}_file"),
                  Case(f"build-dry-{key}", lambda c, w, k=key: ["build", c[k], "--dry-run"], f"{key}_file", watch=key)]
    cases.append(Case("build-dry-manifest_trt_version_unknown", lambda c, w: [
        "build", c["manifest_trt_version_unknown"], "--dry-run"], "manifest_trt_version_unknown_file"))
    for version in ("99", "9.9", "abc"):
        cases.append(Case(f"build-dry-trt-version-{version}", lambda c, w, v=version: [
            "build", c["trt_artifact_ok"], "--dry-run", "--trt-version", v], "trt_artifact_ok",
            watch="trt_artifact_ok"))
    for key in ONNX + TFLITE:
        cases += _model_cases(key, key)
    for key in ("onnx_wrong_width", "onnx_uint8_input", "tflite_wrong_output"):
        cases.append(Case(f"profile-{key}", lambda c, w, k=key: [
            "profile", c[k], "--runs", 1, "--warmup", 0, "--json", w / "p.json"], key))
    for key in WEIGHTS:
        cases += [Case(f"predict-{key}", lambda c, w, k=key: ["predict", c[k], c["face_ok"], "--box", BOX], key),
                  Case(f"export-{key}", lambda c, w, k=key: ["export", c[k], "--target", "cpu-x86-int8",
                                                              "--out", w / "art"], key)]
    for key in RUNS:
        cases.append(Case(f"train-resume-{key}", lambda c, w, k=key: [
            "train", "pfld_0.25x", "--data", c["face_ok_dir"], "--val", c["face_ok_dir"], "--out", c[k],
            "--epochs", 1, "--resume", "--threads", 1, "--no-progress"], f"{key}_file", watch=key))
    return cases


CASES = _cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_spec_is_one_line(case, specs, rules, cli_inprocess, snapshot, tmp_path):
    work = tmp_path / "work"
    rules.previous_artifact(work)
    watched = [work] + ([specs[case.watch]] if case.watch else [])
    before = [snapshot(folder) for folder in watched]
    outcome = cli_inprocess(*case.args(specs, work))
    TRIED.append(case.id)
    rules.assert_one_error_line(outcome, str(specs[case.names]))
    assert len(outcome.stderr_lines[0]) < 1000, "the error line quotes too much"
    assert [snapshot(folder) for folder in watched] == before, "the output folder changed"


def test_valid_tensorrt_artifact_dry_runs(specs, cli_inprocess):
    """The control case: the same artifact with its own (valid) target prints the trtexec line."""
    outcome = cli_inprocess("build", specs["trt_artifact_ok"], "--dry-run")
    TRIED.append("build-dry-trt_artifact_ok")
    assert outcome.code == 0, outcome.stderr
    assert "--memPoolSize=workspace:1024M" in outcome.stdout and "trtexec" in outcome.stdout


# ----------------------------------------------------------------------------- the real process

SUBPROCESS = {  # id -> (argv builder, corpus key named)
    "export-target_alias_bomb": (lambda c, w: ["export", "fsanet", "--target", c["target_alias_bomb"],
                                               "--out", w / "art"], "target_alias_bomb"),
    "train-recipe_alias_bomb": (lambda c, w: ["train", c["recipe_alias_bomb"], "--out", w / "run"],
                                "recipe_alias_bomb"),
    "predict-onnx_wrong_width": (lambda c, w: ["predict", c["onnx_wrong_width"], c["face_ok"], "--box", BOX],
                                 "onnx_wrong_width"),
    "predict-weights_int32": (lambda c, w: ["predict", c["weights_int32"], c["face_ok"], "--box", BOX],
                              "weights_int32"),
    "build-dry-manifest_deep": (lambda c, w: ["build", c["manifest_deep"], "--dry-run"], "manifest_deep_file"),
}


@pytest.mark.parametrize("name", sorted(SUBPROCESS))
def test_bad_spec_in_a_real_process(name, specs, rules, cli_subprocess, snapshot, tmp_path):
    args, named = SUBPROCESS[name]
    rules.previous_artifact(tmp_path)
    before = snapshot(tmp_path)
    peak_before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    outcome = cli_subprocess(*args(specs, tmp_path))
    TRIED.append(f"subprocess-{name}")
    rules.assert_one_error_line(outcome, str(specs[named]))
    assert snapshot(tmp_path) == before, "the output folder changed"
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB, the largest child so far
    assert peak == peak_before or peak < 2_000_000, f"a refused input cost {peak // 1024} MB"


def test_summary(capsys):
    with capsys.disabled():
        print(f"\nspec corpus: {len(TRIED)} verb x case runs ({len(CASES)} in-process, {len(SUBPROCESS)} in real "
              "processes)")
    assert len(TRIED) >= len(CASES)
