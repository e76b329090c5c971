"""``edgekit`` itself (edgekit/cli/__init__.py): the last guard, one-line flag errors, silenced warnings."""
from __future__ import annotations

import warnings

import pytest

from edgekit.cli import list_verb, main


def _boom(exc: BaseException):
    def run(args):
        raise exc

    return run


def test_an_unexpected_exception_is_one_line_and_exit_70(monkeypatch, capsys):
    monkeypatch.setattr(list_verb, "run", _boom(RuntimeError("something\nbroke")))
    assert main(["list"]) == 70
    err = capsys.readouterr().err
    assert err == ("edgekit: internal error: RuntimeError: something broke (a bug in edgekit; run with --debug for "
                   "the traceback)\n")


@pytest.mark.parametrize("argv", [["--debug", "list"], ["list", "--debug"]])
def test_debug_prints_the_traceback(argv, monkeypatch, capsys):
    monkeypatch.setattr(list_verb, "run", _boom(KeyError("key")))
    assert main(argv) == 70
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and err.splitlines()[-1].startswith("edgekit: internal error")


def test_out_of_memory_and_a_full_disk_are_one_line(monkeypatch, capsys):
    monkeypatch.setattr(list_verb, "run", _boom(MemoryError()))
    assert main(["list"]) == 2
    assert capsys.readouterr().err.startswith("edgekit: error: out of memory")
    monkeypatch.setattr(list_verb, "run", _boom(OSError(28, "No space left on device", "/full/m.json")))
    assert main(["list"]) == 2
    assert capsys.readouterr().err == "edgekit: error: /full/m.json: No space left on device\n"


def test_warnings_do_not_reach_the_user(monkeypatch, capsys):
    import numpy as np

    def noisy(args):
        warnings.warn("a library's chatter", UserWarning)
        np.log(np.zeros(1))  # RuntimeWarning: divide by zero
        return 0

    monkeypatch.setattr(list_verb, "run", noisy)
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        assert main(["list"]) == 0
    assert shown == [] and capsys.readouterr().err == ""


@pytest.mark.parametrize("argv, fragment", [
    (["predict", "m.onnx", "a.jpg", "--threads", "0"], "argument --threads: must be positive"),
    (["eval", "m.onnx", "--data", "d", "--batch", "-3"], "argument --batch: must be positive"),
    (["train", "r.yaml", "--threads", "1_000"], "argument --threads: expected an integer, got '1_000'"),
    (["predict", "m.onnx", "a.jpg", "--box", "0,0,inf,9"], "a face box is four finite numbers"),
    (["predict", "m.onnx", "a.jpg", "--detector", "nope"], "unknown face detector 'nope'"),
    (["profile", "m.onnx", "--batch", "100000"], "argument --batch: must be positive, from 1 to 4096"),
    (["profile", "m.onnx", "--warmup", "-1"], "argument --warmup: must be from 0"),
    (["train", "r.yaml", "--resume", "--overwrite"], "not allowed with argument --resume"),
    (["demo", "--runs", "0"], "argument --runs: must be positive"),
    (["export", "m", "--target", "t", "--out", "o", "--threads", "\n"], "expected an integer, got '\\n'"),
])
def test_a_bad_flag_is_one_line(argv, fragment, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and err.startswith("edgekit: error: ")
    assert fragment in err, err


def test_a_batch_beyond_available_memory_is_refused_before_a_worker_starts(tmp_path, run_cli, make_tiny_onnx):
    """3 x 4096 faces of 2048 x 2048 x 3 float32 is about 600 GiB: refused from the file's spec, nothing run."""
    model = make_tiny_onnx(tmp_path / "big-input.onnx", size=2048)
    code, out, err = run_cli("profile", model, "--batch", "1,4096", "--runs", "1", "--json", tmp_path / "p.json")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "--batch 4096 (2048x2048x3 float32 inputs per face, 3 copies) needs about" in err
    assert "GiB this machine has available" in err and not (tmp_path / "p.json").exists()
