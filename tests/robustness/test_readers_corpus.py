"""Every annotation reader, image decoder and folder walk against the reader corpus (tests/corpus/readers.py),
through the real CLI: ``edgekit data check`` lists the bad file on one stdout line (escaped) and exits 1, with
nothing on stderr; every other verb exits 2 with one stderr line ``edgekit: error: ...`` naming it, no
traceback, nothing new in the output folder. The ``*_ok`` cases (odd but valid input) must work. A few run as
``python -m edgekit`` subprocesses: there libjpeg and libpng write to the real stderr.
"""
from __future__ import annotations

import importlib.util
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from edgekit.errors import printable

HERE = Path(__file__).resolve().parent
BOX = "20,20,108,108"  # the drawn face in the corpus images
TRIED: list[str] = []

PTS = ("pts_underscore", "pts_arabic_digits", "pts_binary", "pts_nul", "pts_escape_codes", "pts_long_line",
       "pts_bad_count", "pts_huge_number", "pts_far_number", "pts_three_fields", "pts_utf16")
COCO = ("coco_string_numbers", "coco_bool_numbers", "coco_null_keypoints", "coco_dict_keypoints",
        "coco_nested_keypoints", "coco_huge_int", "coco_nan", "coco_images_dict", "coco_images_strings",
        "coco_file_name_number", "coco_image_id_list", "coco_image_id_bool", "coco_annotations_null",
        "coco_annotation_string", "coco_bbox_strings", "coco_bbox_three", "coco_deep", "coco_not_utf8")
LJSON = ("ljson_strings", "ljson_triples", "ljson_points_dict", "ljson_groups_list", "ljson_group_null",
         "ljson_bool_pairs", "ljson_top_list", "ljson_huge", "ljson_deep", "ljson_not_json")
CSV = ("kaggle_short_row", "kaggle_long_row", "kaggle_huge_field", "kaggle_not_utf8", "kaggle_nul",
       "kaggle_pixel_nan", "kaggle_pixel_big", "kaggle_coordinate_text", "kaggle_coordinate_inf", "kaggle_open_quote")
WFLW = ("wflw_underscore", "wflw_text", "wflw_nan_box", "wflw_short_second_line", "wflw_not_utf8")
MAT = ("mat_pose_string", "mat_pose_numeric_string", "mat_pose_struct", "mat_pose_complex", "mat_pose_cell",
       "mat_pt3d_complex", "mat_pt2d_struct_300wlp", "mat_roi_string_300wlp", "mat_pt2d_huge_300wlp",
       "mat_cofw_text_images", "mat_cofw_float_images", "mat_cofw_complex_phis", "mat_truncated", "mat_zlib_broken",
       "mat_zlib_cut", "mat_garbage", "mat_header_only", "mat_v73_header", "mat_tag_lies")
LAYOUTS = ("link_pts_to_passwd", "link_pts_outside", "link_image_outside", "link_folder_outside", "deep_tree",
           "name_newline", "name_escape", "name_not_utf8")
ANNOTATIONS = PTS + COCO + LJSON + CSV + WFLW + MAT + LAYOUTS
IMAGES = ("jpeg_4_bytes", "jpeg_fill_bytes_only", "jpeg_garbage_body", "jpeg_zero_body_no_end", "jpeg_zero_body",
          "jpeg_huge_header", "jpeg_segment_past_end", "bmp_huge_header", "tiff_huge_header", "gif_named_jpg",
          "png_bad_crc")
VALID = ("pts_bom_ok", "pts_crlf_ok", "pts_bom_crlf_ok", "pts_cr_ok", "pts_tabs_ok", "link_inside_ok",
         "png_ancillary_crc_ok", "jpeg_big_exif_ok")
SECRET = "root:x:0:0"  # the first line of /etc/passwd: never printed, whatever links to it


def _load(name: str, path: Path):
    """The module at ``path``, registered as ``name`` (dataclasses need their module in sys.modules)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


RULES = _load("bad_input_rules", HERE / "test_bad_input.py")  # assert_one_error_line, previous_artifact


@pytest.fixture(scope="session")
def reader_cases(tmp_path_factory) -> dict[str, Path]:
    """The reader corpus alone: case name -> file, ``<name>_dir`` -> its folder."""
    module = _load("reader_corpus", HERE.parent / "corpus" / "readers.py")
    return module.write_reader_corpus(tmp_path_factory.mktemp("readers"))


@pytest.fixture(scope="session")
def readers_corpus(corpus, reader_cases) -> dict[str, Path]:
    """The main corpus (models, the tiny int8 target) plus the reader corpus."""
    return {**corpus, **reader_cases}


def named(corpus: dict, key: str) -> str:
    """How a line names the corpus file ``key``: escaped as edgekit prints it (a newline becomes ``\\n``)."""
    return printable(str(corpus[key]))


@dataclass(frozen=True)
class Case:
    id: str
    args: Callable[[dict, Path], list]  # (corpus, scratch folder) -> argv after "edgekit"
    names: str  # corpus key of the file the error line must name


def _eval(key: str) -> Case:
    return Case(f"eval-{key}", lambda c, w: ["eval", c["onnx_ok"], "--data", c[f"{key}_dir"], "--json",
                                             w / "m.json"], key)


def _train(key: str) -> Case:
    return Case(f"train-{key}", lambda c, w: ["train", "pfld_0.25x", "--data", c[f"{key}_dir"], "--val",
                                              c[f"{key}_dir"], "--out", w / "run", "--epochs", 1, "--no-progress"],
                key)


def _cases() -> list[Case]:
    cases = []
    for key in ANNOTATIONS:
        cases += [_eval(key), _train(key)]
    for key in IMAGES:
        cases += [_eval(key), _train(key),
                  Case(f"predict-{key}", lambda c, w, k=key: ["predict", c["onnx_ok"], c[k], "--box", BOX,
                                                              "--draw", w / "overlay.png"], key),
                  Case(f"export-calib-{key}", lambda c, w, k=key: [
                      "export", "pfld_0.25x", "--target", c["target_tiny_int8_ok"], "--calib", c[f"{k}_dir"],
                      "--out", w / "art"], key)]
    return cases


CASES = _cases()


def test_the_lists_cover_the_corpus(reader_cases):
    assert {k for k in reader_cases if not k.endswith("_dir")} == set(ANNOTATIONS + IMAGES + VALID)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_file_is_one_line(case, readers_corpus, cli_inprocess, snapshot, tmp_path):
    work = tmp_path / "work"
    RULES.previous_artifact(work)
    before = snapshot(work)
    outcome = cli_inprocess(*case.args(readers_corpus, work))
    TRIED.append(case.id)
    RULES.assert_one_error_line(outcome, named(readers_corpus, case.names))
    assert SECRET not in outcome.stderr and len(outcome.stderr) < 1000, outcome.stderr
    assert snapshot(work) == before, "the output folder changed"


@pytest.mark.parametrize("key", ANNOTATIONS + IMAGES)
def test_data_check_lists_the_bad_file(key, readers_corpus, cli_inprocess):
    args = ["data", "check", readers_corpus[f"{key}_dir"]] + (["--decode"] if key in IMAGES else [])
    outcome = cli_inprocess(*args)
    TRIED.append(f"data-check-{key}")
    assert outcome.stderr_lines == [], outcome.stderr
    assert outcome.code == 1 and "Traceback" not in outcome.stdout
    problems = [line for line in outcome.stdout.splitlines()[5:] if not line.startswith(("problems:", "duplicates:"))]
    assert problems == [line for line in problems if line.startswith(named(readers_corpus, key) + ": ")]
    assert len(problems) == 1 and outcome.stdout.splitlines()[-1] == "problems: 1", outcome.stdout
    assert SECRET not in outcome.stdout


@pytest.mark.parametrize("key", VALID)
def test_odd_but_valid_input_is_read(key, readers_corpus, cli_inprocess, tmp_path):
    check = cli_inprocess("data", "check", readers_corpus[f"{key}_dir"], "--decode")
    TRIED.append(f"data-check-{key}")
    assert (check.code, check.stderr_lines) == (0, []), check.stdout + check.stderr
    assert "count: 1" in check.stdout and check.stdout.splitlines()[-1] == "problems: 0"
    evaluated = cli_inprocess("eval", readers_corpus["onnx_ok"], "--data", readers_corpus[f"{key}_dir"],
                              "--json", tmp_path / "m.json")
    TRIED.append(f"eval-{key}")
    assert (evaluated.code, evaluated.stderr_lines) == (0, []), evaluated.stderr
    assert '"count": 1' in (tmp_path / "m.json").read_text()


# ----------------------------------------------------------------------------- the real process

SUBPROCESS = {  # id -> (argv builder, corpus key named): where libjpeg / libpng print to the real stderr
    "predict-jpeg_garbage_body": (lambda c, w: ["predict", c["onnx_ok"], c["jpeg_garbage_body"], "--box", BOX],
                                  "jpeg_garbage_body"),
    "predict-jpeg_4_bytes": (lambda c, w: ["predict", c["onnx_ok"], c["jpeg_4_bytes"], "--box", BOX],
                             "jpeg_4_bytes"),
    "eval-jpeg_garbage_body": (lambda c, w: ["eval", c["onnx_ok"], "--data", c["jpeg_garbage_body_dir"]],
                               "jpeg_garbage_body"),
    "eval-png_bad_crc": (lambda c, w: ["eval", c["onnx_ok"], "--data", c["png_bad_crc_dir"]], "png_bad_crc"),
    "eval-link_pts_to_passwd": (lambda c, w: ["eval", c["onnx_ok"], "--data", c["link_pts_to_passwd_dir"]],
                                "link_pts_to_passwd"),
}
CHECKED = {  # data check in a real process: (folder key, extra flags) -> exit 1, stdout names it, stderr empty
    "data-check-jpeg_garbage_body": ("jpeg_garbage_body", ["--decode"]),
    "data-check-jpeg_4_bytes": ("jpeg_4_bytes", []),
    "data-check-name_newline": ("name_newline", []),
}
QUIET = {  # valid input whose decoder warns on stderr: exit 0 and nothing printed there
    "predict-png_ancillary_crc_ok": lambda c, w: ["predict", c["onnx_ok"], c["png_ancillary_crc_ok"], "--box", BOX],
}


@pytest.fixture(scope="module")
def subprocess_outcomes(readers_corpus, cli_subprocess, tmp_path_factory) -> dict:
    """id -> Outcome of every real-process case, two processes at a time."""
    runs = {name: args for name, (args, _) in SUBPROCESS.items()}
    runs.update({name: (lambda c, w, k=key, f=flags: ["data", "check", c[f"{k}_dir"], *f])
                 for name, (key, flags) in CHECKED.items()})
    runs.update(QUIET)

    def run(item):
        name, args = item
        return name, cli_subprocess(*args(readers_corpus, tmp_path_factory.mktemp(name)))

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(run, runs.items()))


@pytest.mark.parametrize("name", sorted(SUBPROCESS))
def test_bad_file_in_a_real_process(name, subprocess_outcomes, readers_corpus):
    outcome = subprocess_outcomes[name]
    TRIED.append(f"subprocess-{name}")
    RULES.assert_one_error_line(outcome, named(readers_corpus, SUBPROCESS[name][1]))
    assert SECRET not in outcome.stderr


@pytest.mark.parametrize("name", sorted(CHECKED))
def test_data_check_in_a_real_process(name, subprocess_outcomes, readers_corpus):
    outcome = subprocess_outcomes[name]
    TRIED.append(f"subprocess-{name}")
    assert (outcome.code, outcome.stderr_lines) == (1, []), outcome.stderr
    assert f"\n{named(readers_corpus, CHECKED[name][0])}: " in outcome.stdout


@pytest.mark.parametrize("name", sorted(QUIET))
def test_valid_input_in_a_real_process_is_quiet(name, subprocess_outcomes):
    outcome = subprocess_outcomes[name]
    TRIED.append(f"subprocess-{name}")
    assert (outcome.code, outcome.stderr_lines) == (0, []), outcome.stderr


def test_summary(capsys):
    """Runs last in this file: how many verb x case combinations were tried (all passed to get here)."""
    with capsys.disabled():
        print(f"\nreaders corpus: {len(TRIED)} verb x case combinations tried ({len(CASES)} bad-input cases "
              f"in-process, {len(SUBPROCESS) + len(CHECKED) + len(QUIET)} in real processes)")
    assert len(TRIED) >= len(CASES)
