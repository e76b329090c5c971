"""Every CLI verb x every bad input that applies to it (corpus: tests/corpus/make_corpus.py).

The rule: exit 2, exactly one stderr line ``edgekit: error: PATH: problem`` naming the bad file, no traceback,
nothing new in the output folder (a previous artifact stays byte-identical), and no pickle code ever runs.
Most cases run in-process (fast); one per verb, plus the ones where C libraries might print, run as
``python -m edgekit`` subprocesses to see the real stderr and exit code. ``data check`` reports bad files
on stdout and exits 1 (its documented contract); its own bad input (a missing folder) exits 2.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

BOX = "20,20,108,108"  # the drawn face in the 128 px corpus images
BAD_IMAGES = ("truncated_jpg", "truncated_png", "corrupt_jpg", "empty_jpg", "huge_png")
GOOD_IMAGES = ("gray_png_ok", "rgba_png_ok", "png16_ok")
BAD_ANNOTATIONS = ("pts67", "pts69", "pts_nan", "pts_text", "pts_degenerate", "mat_no_pose")
BAD_SOURCES = {  # model source -> the corpus file its error must name
    "onnx_wrong_shape": "onnx_wrong_shape", "onnx_empty": "onnx_empty", "onnx_corrupt": "onnx_corrupt",
    "tflite_other": "tflite_other", "artifact_bad_sha": "artifact_bad_sha_file",
    "artifact_escape": "artifact_escape_manifest", "artifact_truncated_engine": "artifact_truncated_engine_file",
    "engine_truncated": "engine_truncated", "wrong_arch_safetensors": "wrong_arch_safetensors",
    "wrong_arch_pt": "wrong_arch_pt", "pickle_pt": "pickle_pt", "pickle_zip_pt": "pickle_zip_pt",
}
PROFILED = ("artifact_bad_sha", "artifact_escape", "artifact_truncated_engine", "onnx_wrong_shape", "onnx_corrupt",
            "tflite_other")  # torch sources cost a worker process each (~3 s): predict/eval/export cover them;
# a lone engine is listed, not measured, where TensorRT is absent: no error to check there
EXPORTED = ("pickle_pt", "pickle_zip_pt", "wrong_arch_safetensors", "wrong_arch_pt", "onnx_wrong_shape")

Args = Callable[[dict, Path], list]  # (corpus, scratch folder) -> argv after "edgekit"
TRIED: list[str] = []  # every case run, for the summary


@dataclass(frozen=True)
class Case:
    id: str
    args: Args
    names: str  # corpus key of the file the error line must name
    watch: str | None = None  # corpus key of a folder that must not change (a run folder being resumed)


def _model_for(key: str) -> str:
    return "fsanet" if key == "mat_no_pose" else "pfld_0.25x"  # only a pose model can want Pose_Para


def _cases() -> list[Case]:
    cases = []
    for key in BAD_IMAGES:
        cases += [
            Case(f"predict-{key}", lambda c, w, k=key: ["predict", c["onnx_ok"], c[k], "--box", BOX,
                                                        "--draw", w / "overlay.png"], key),
            Case(f"eval-{key}", lambda c, w, k=key: ["eval", c["onnx_ok"], "--data", c[f"{k}_dir"],
                                                     "--json", w / "m.json"], key),
            Case(f"train-{key}", lambda c, w, k=key: ["train", "pfld_0.25x", "--data", c[f"{k}_dir"], "--val",
                                                      c[f"{k}_dir"], "--out", w / "run", "--epochs", 1], key),
            Case(f"export-calib-{key}", lambda c, w, k=key: [
                "export", "pfld_0.25x", "--target", c["target_tiny_int8_ok"], "--calib", c[f"{k}_dir"],
                "--out", w / "art"], key),
        ]
    for key in BAD_ANNOTATIONS:
        cases += [
            Case(f"eval-{key}", lambda c, w, k=key: ["eval", _model_for(k), "--data", c[f"{k}_dir"]], key),
            Case(f"train-{key}", lambda c, w, k=key: ["train", _model_for(k), "--data", c[f"{k}_dir"], "--val",
                                                      c[f"{k}_dir"], "--out", w / "run", "--epochs", 1], key),
        ]
    for source, named in BAD_SOURCES.items():
        cases += [
            Case(f"predict-{source}", lambda c, w, s=source: ["predict", c[s], c["face_ok"], "--box", BOX,
                                                              "--draw", w / "overlay.png"], named),
            Case(f"eval-{source}", lambda c, w, s=source: ["eval", c[s], "--data", c["face_ok_dir"],
                                                           "--json", w / "m.json", "--ced", w / "ced.png"], named),
        ]
        if source in PROFILED:
            cases.append(Case(f"profile-{source}", lambda c, w, s=source: [
                "profile", c[s], "--runs", 2, "--warmup", 0, "--json", w / "p.json", "--csv", w / "p.csv"], named))
        if source in EXPORTED:
            cases.append(Case(f"export-{source}", lambda c, w, s=source: [
                "export", c[s], "--target", "cpu-x86-int8", "--out", w / "art"], named))
    for key in ("huge_png", "truncated_png"):  # the image is read in the worker process: two cases only
        cases.append(Case(f"profile-image-{key}", lambda c, w, k=key: [
            "profile", c["onnx_ok"], "--image", c[k], "--runs", 2, "--warmup", 0, "--json", w / "p.json"], key))
    for key in ("target_unknown_key", "target_wrong_type"):
        cases.append(Case(f"export-{key}", lambda c, w, k=key: ["export", "fsanet", "--target", c[k],
                                                                "--out", w / "art"], key))
    for key in ("calib_empty", "calib_non_images"):
        cases.append(Case(f"export-{key}", lambda c, w, k=key: ["export", "pfld_0.25x", "--target", "cpu-x86-int8",
                                                                "--calib", c[k], "--out", w / "art"], key))
    for key in ("recipe_unknown_key", "recipe_wrong_type"):
        cases.append(Case(f"train-{key}", lambda c, w, k=key: ["train", c[k], "--out", w / "run"], key))
    for key in ("run_wrong_arch_pt", "run_pickle_pt", "run_pickle_zip_pt"):
        cases.append(Case(f"train-resume-{key}", lambda c, w, k=key: [
            "train", "pfld_0.25x", "--data", c["face_ok_dir"], "--val", c["face_ok_dir"], "--out", c[k],
            "--epochs", 1, "--resume", "--threads", 1], key, watch=key))
    for key in ("artifact_bad_sha", "artifact_escape", "artifact_truncated_engine"):
        named = BAD_SOURCES[key]
        cases += [Case(f"build-dry-{key}", lambda c, w, k=key: ["build", c[k], "--dry-run"], named),
                  Case(f"build-{key}", lambda c, w, k=key: ["build", c[k]], named, watch=key)]
    cases.append(Case("build-not-an-artifact", lambda c, w: ["build", c["calib_empty"], "--dry-run"], "calib_empty"))
    cases.append(Case("data-check-missing", lambda c, w: ["data", "check", w / "missing"], "missing"))
    return cases


CASES = _cases()


def _named(corpus: dict, work: Path, key: str) -> str:
    return str(corpus.get(key, work / key))


def assert_one_error_line(outcome, named: str) -> None:
    assert outcome.code == 2, f"exit {outcome.code}, stderr: {outcome.stderr}"
    assert len(outcome.stderr_lines) == 1, f"expected one stderr line, got:\n{outcome.stderr}"
    line = outcome.stderr_lines[0]
    assert line.startswith("edgekit: error: "), line
    assert named in line, f"the error does not name {named}: {line}"
    assert "Traceback" not in outcome.stderr + outcome.stdout


def previous_artifact(work: Path) -> None:
    """A finished artifact already at ``work/art``: a failed export must leave it byte-identical."""
    (work / "art").mkdir(parents=True)
    (work / "art" / "edgekit.json").write_text('{"previous": true}\n')
    (work / "art" / "model.onnx").write_bytes(b"previous model")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line(case, corpus, cli_inprocess, snapshot, tmp_path):
    work = tmp_path / "work"
    previous_artifact(work)
    watched = [work] + ([corpus[case.watch]] if case.watch else [])
    before = [snapshot(folder) for folder in watched]
    outcome = cli_inprocess(*case.args(corpus, work))
    TRIED.append(case.id)
    assert_one_error_line(outcome, _named(corpus, work, case.names))
    assert [snapshot(folder) for folder in watched] == before, "the output folder changed"
    assert not corpus["pickle_marker"].exists(), "a pickle payload was executed"


@pytest.mark.parametrize("key", GOOD_IMAGES)
def test_odd_but_valid_images_work(key, corpus, cli_inprocess, tmp_path):
    overlay = tmp_path / "overlay.png"
    outcome = cli_inprocess("predict", "pfld_0.25x", corpus[key], "--box", BOX, "--json", "--draw", overlay)
    TRIED.append(f"predict-{key}")
    assert outcome.code == 0, outcome.stderr
    assert '"landmarks": [[' in outcome.stdout and overlay.stat().st_size > 0
    import cv2

    assert cv2.imread(str(overlay)).shape == (128, 128, 3)  # drawn on the image converted to BGR uint8


def test_collapsed_prediction_predicts_without_pose(corpus, cli_inprocess):
    """A model whose 68 points all coincide (onnx_ok predicts a constant) used to crash solvePnP (cv2.error)."""
    outcome = cli_inprocess("predict", corpus["onnx_ok"], corpus["face_ok"], "--box", BOX, "--json")
    TRIED.append("predict-collapsed-landmarks")
    assert outcome.code == 0 and outcome.stderr_lines == [], outcome.stderr
    assert '"pose": null' in outcome.stdout and '"landmarks": [[' in outcome.stdout


@pytest.mark.parametrize("key", BAD_IMAGES + BAD_ANNOTATIONS + GOOD_IMAGES)
def test_data_check_reports_the_bad_file(key, corpus, cli_inprocess):
    folder = corpus[f"{key}_dir"]
    outcome = cli_inprocess("data", "check", folder)
    TRIED.append(f"data-check-{key}")
    assert outcome.stderr_lines == [] and "Traceback" not in outcome.stdout
    if key in GOOD_IMAGES:
        assert outcome.code == 0 and "count: 1" in outcome.stdout and "problems: 0" in outcome.stdout
    else:
        assert outcome.code == 1 and "count: 0" in outcome.stdout and "problems: 1" in outcome.stdout
        assert f"{corpus[key]}: " in outcome.stdout


# ----------------------------------------------------------------------------- the real process

SUBPROCESS = {  # id -> (argv builder, corpus key named): one per verb, and where C libraries might print
    "predict-pickle_pt": (lambda c, w: ["predict", c["pickle_pt"], c["face_ok"], "--box", BOX], "pickle_pt"),
    "predict-truncated_png": (lambda c, w: ["predict", c["onnx_ok"], c["truncated_png"], "--box", BOX,
                                            "--draw", w / "o.png"], "truncated_png"),
    "eval-pts67": (lambda c, w: ["eval", c["onnx_ok"], "--data", c["pts67_dir"], "--json", w / "m.json"], "pts67"),
    "export-target_unknown_key": (lambda c, w: ["export", "fsanet", "--target", c["target_unknown_key"],
                                                "--out", w / "art"], "target_unknown_key"),
    "build-artifact_escape": (lambda c, w: ["build", c["artifact_escape"], "--dry-run"], "artifact_escape_manifest"),
    "profile-tflite_other": (lambda c, w: ["profile", c["tflite_other"], "--runs", 2, "--warmup", 0,
                                           "--json", w / "p.json"], "tflite_other"),
    "train-recipe_wrong_type": (lambda c, w: ["train", c["recipe_wrong_type"], "--out", w / "run"],
                                "recipe_wrong_type"),
    "data-check-missing": (lambda c, w: ["data", "check", c["calib_empty"] / "missing"], "calib_empty"),
}


@pytest.fixture(scope="module")
def subprocess_outcomes(corpus, cli_subprocess, snapshot, tmp_path_factory) -> dict:
    """id -> (Outcome, scratch unchanged?) for every SUBPROCESS case, two processes at a time."""
    def run(item):
        name, (args, _) = item
        work = tmp_path_factory.mktemp(name)
        previous_artifact(work)
        before = snapshot(work)
        outcome = cli_subprocess(*args(corpus, work))
        return name, (outcome, snapshot(work) == before)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(run, SUBPROCESS.items()))


@pytest.mark.parametrize("name", sorted(SUBPROCESS))
def test_bad_input_in_a_real_process(name, subprocess_outcomes, corpus):
    outcome, unchanged = subprocess_outcomes[name]
    TRIED.append(f"subprocess-{name}")
    assert_one_error_line(outcome, str(corpus[SUBPROCESS[name][1]]))
    assert unchanged, "the output folder changed"
    assert not corpus["pickle_marker"].exists(), "a pickle payload was executed"


def test_summary(capsys):
    """Runs last in this file: how many verb x case combinations were tried (all of them passed to get here)."""
    with capsys.disabled():
        print(f"\nrobustness: {len(TRIED)} verb x case combinations tried "
              f"({len(CASES)} bad-input cases in-process, {len(SUBPROCESS)} in real processes)")
    assert len(TRIED) >= len(CASES)
