"""``--json`` on every verb (one object on stdout, nothing else there), progress flags, "did you mean"."""
from __future__ import annotations

import json

import pytest

from edgekit.cli import build_parser


def test_every_verb_answers_json_and_progress_flags():
    parser, modules = build_parser()
    verbs = parser._subparsers._group_actions[0].choices  # noqa: SLF001
    for name, verb in verbs.items():
        leaf = verb._subparsers._group_actions[0].choices["check"] if verb._subparsers else verb  # noqa: SLF001
        assert "--json" in leaf._option_string_actions, name  # noqa: SLF001
        assert "--no-progress" in verb._option_string_actions, name  # noqa: SLF001


def test_list_json_is_one_object_and_nothing_else(run_cli):
    code, out, err = run_cli("list", "targets", "--json")
    record = json.loads(out)
    assert code == 0 and out.count("\n") == 1 and list(record) == ["targets"]
    assert {"name": "cpu-x86-int8", "runtime": "onnxruntime"}.items() <= record["targets"][2].items()


def test_list_table_columns_line_up(run_cli):
    code, out, _ = run_cli("list", "targets")
    lines = out.splitlines()
    starts = {line.index(line.split()[1], len(line.split()[0]) + 2) for line in lines[3:]}
    assert code == 0 and lines[0] == "targets:" and len(starts) == 1  # every runtime in one column


def test_a_verb_without_a_record_still_answers_one_object(run_cli, monkeypatch):
    from edgekit.cli import list_verb

    def chatty(args):
        print("a human line")
        return 0

    monkeypatch.setattr(list_verb, "run", chatty)
    code, out, err = run_cli("list", "--json")
    assert code == 0 and json.loads(out) == {"verb": "list", "exit_code": 0} and err == "a human line\n"


def test_an_error_under_json_leaves_stdout_empty(run_cli, tmp_path):
    code, out, err = run_cli("build", tmp_path, "--json")
    assert code == 2 and out == "" and err.startswith("edgekit: error: ") and err.count("\n") == 1


def test_json_file_must_be_json_so_a_model_is_never_overwritten(run_cli, tiny_onnx):
    before = tiny_onnx.read_bytes()
    code, out, err = run_cli("profile", "--json", tiny_onnx)
    assert code == 2 and f"{tiny_onnx}: --json writes .json files" in err and tiny_onnx.read_bytes() == before


def test_did_you_mean_in_one_line(capsys, tmp_path, monkeypatch):
    from edgekit.cli import main

    monkeypatch.chdir(tmp_path)
    for argv, hint in ((["evl"], "invalid choice: 'evl' (did you mean 'eval'?)"),
                       (["list", "modls"], "(did you mean 'models'?)")):
        with pytest.raises(SystemExit):
            main(argv)
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and hint in err
    for argv, hint in ((["export", "pfl_0.25x", "--target", "cpu-x86-int8", "--out", "o"],
                        "(did you mean 'pfld_0.25x'"),
                       (["export", "pfld_0.25x", "--target", "cpu-x86-in8", "--out", "o"],
                        "(did you mean 'cpu-x86-int8'")):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and hint in err


def test_data_check_json_on_stdout(run_cli, tmp_path):
    import numpy as np

    from edgekit.data.synthetic import write_synthetic_folder

    write_synthetic_folder(tmp_path / "faces", 2, np.random.default_rng(3), size=64)
    code, out, err = run_cli("data", "check", tmp_path / "faces", "--json")
    record = json.loads(out)
    assert code == 0 and err == "" and record["count"] == 2 and record["problems"] == []
    assert record["schemes"] == {"ibug68": 2}


def test_json_is_strict(run_cli, monkeypatch):
    from edgekit.cli import list_verb, output

    monkeypatch.setattr(list_verb, "run", lambda args: output.emit(args, {"delta": float("inf"), "x": [float("nan")]}))
    code, out, _ = run_cli("list", "--json")
    assert code == 0 and out == '{"delta": null, "x": [null]}\n'
