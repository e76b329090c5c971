"""Every verb that writes x every output path it must refuse (edgekit/outputs.py): exit 2, one stderr line naming
the path, refused before any work, the user's files byte-identical and nothing new beside them. Then what must
work: an export replacing a previous artifact, ``train --overwrite`` of a previous run, and the leftovers of a
SIGKILLed export removed by the next run (never a live process's, never a look-alike).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

BOX = "20,20,108,108"  # the drawn face in the 128 px corpus images
TRIED: list[str] = []  # every case run, for the summary

Argv = Callable[[dict, str], list]  # (corpus, the output path) -> argv after "edgekit"

FOLDER_VERBS: dict[str, Argv] = {  # verbs whose --out is a folder
    "export": lambda c, out: ["export", "pfld_0.25x", "--target", c["target_tiny_int8_ok"], "--calib",
                              c["face_ok_dir"], "--out", out],
    "train": lambda c, out: ["train", "pfld_0.25x", "--data", c["face_ok_dir"], "--val", c["face_ok_dir"],
                             "--epochs", 1, "--threads", 1, "--no-progress", "--out", out],
    "train-overwrite": lambda c, out: ["train", "pfld_0.25x", "--data", c["face_ok_dir"], "--val",
                                       c["face_ok_dir"], "--epochs", 1, "--overwrite", "--out", out],
    "demo": lambda c, out: ["demo", "--no-peer", "--runs", 1, "--out", out],
}
FILE_VERBS: dict[str, tuple[Argv, str]] = {  # verb and flag -> (argv, the file suffix it writes)
    "eval-json": (lambda c, f: ["eval", c["onnx_ok"], "--data", c["face_ok_dir"], "--json", f], ".json"),
    "eval-ced": (lambda c, f: ["eval", c["onnx_ok"], "--data", c["face_ok_dir"], "--ced", f], ".png"),
    "predict-draw": (lambda c, f: ["predict", c["onnx_ok"], c["face_ok"], "--box", BOX, "--draw", f], ".png"),
    "profile-json": (lambda c, f: ["profile", c["onnx_ok"], "--runs", 1, "--warmup", 0, "--json", f], ".json"),
    "profile-csv": (lambda c, f: ["profile", c["onnx_ok"], "--runs", 1, "--warmup", 0, "--csv", f], ".csv"),
    "profile-plot": (lambda c, f: ["profile", c["onnx_ok"], "--runs", 1, "--warmup", 0, "--plot", f], ".png"),
    "data-check-json": (lambda c, f: ["data", "check", c["face_ok_dir"], "--json", f], ".json"),
}


@dataclass(frozen=True)
class Place:
    """A bad output path in the user's folder ``work`` (``mine/`` holds their files): the argument given, the
    text the error must name, and the folder to run in."""

    arg: str
    named: str
    cwd: Path | None = None


def user_files(work: Path) -> None:
    """The user's own files, which no refused command may touch."""
    (work / "mine" / "deeper").mkdir(parents=True)
    (work / "mine" / "notes.txt").write_text("my notes\n")
    (work / "mine" / "photo.jpg").write_bytes(b"\xff\xd8 my photo")
    (work / "mine" / "deeper" / "thesis.tex").write_text("\\chapter{}\n")
    (work / "file.txt").write_text("a regular file\n")


FOLDER_PLACES: dict[str, Callable[[Path], Place]] = {
    "user-folder": lambda w: Place(str(w / "mine"), str(w / "mine")),
    "regular-file": lambda w: Place(str(w / "file.txt"), str(w / "file.txt")),
    "cwd": lambda w: Place(".", ".", w / "mine"),
    "parent-of-cwd": lambda w: Place("..", "..", w / "mine" / "deeper"),
    "absolute-parent-of-cwd": lambda w: Place(str(w), str(w), w / "mine" / "deeper"),
    "under-a-file": lambda w: Place(str(w / "file.txt" / "out"), str(w / "file.txt" / "out")),
}


def _file_places(suffix: str) -> dict[str, Callable[[Path], Place]]:
    def existing_folder(w: Path) -> Place:
        folder = w / "mine" / f"out{suffix}"
        folder.mkdir()
        (folder / "inside.txt").write_text("mine\n")
        return Place(str(folder), str(folder))

    return {
        "existing-folder": existing_folder,
        "user-folder": lambda w: Place(str(w / "mine"), str(w / "mine")),
        "under-a-file": lambda w: Place(str(w / "file.txt" / f"out{suffix}"), str(w / "file.txt" / f"out{suffix}")),
        "trailing-slash": lambda w: Place(f"{w / 'new'}/", f"{w / 'new'}/"),
        "device": lambda w: Place("/dev/null", "/dev/null"),
    }


def _cases() -> list[tuple[str, Argv, Callable[[Path], Place]]]:
    cases = [(f"{verb}-{name}", argv, place) for verb, argv in FOLDER_VERBS.items()
             for name, place in FOLDER_PLACES.items()]
    for verb, (argv, suffix) in FILE_VERBS.items():
        cases += [(f"{verb}-{name}", argv, place) for name, place in _file_places(suffix).items()]
    wrong_suffix = {"predict-draw": "out.xyz", "eval-ced": "out.jpg", "profile-plot": "out.svg"}
    for verb, name in wrong_suffix.items():
        cases.append((f"{verb}-suffix", FILE_VERBS[verb][0], lambda w, n=name: Place(str(w / n), str(w / n))))
    cases.append(("predict-draw-over-its-input", lambda c, f: ["predict", c["onnx_ok"], f, "--box", BOX, "--draw", f],
                  lambda w: Place(str(w / "mine" / "photo.jpg"), str(w / "mine" / "photo.jpg"))))
    return cases


CASES = _cases()


def assert_refused(outcome, named: str) -> None:
    assert outcome.code == 2, f"exit {outcome.code}, stderr: {outcome.stderr}"
    assert len(outcome.stderr_lines) == 1, f"expected one stderr line, got:\n{outcome.stderr}"
    line = outcome.stderr_lines[0]
    assert line.startswith(f"edgekit: error: {named}: "), line
    assert "Traceback" not in outcome.stderr + outcome.stdout


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_a_refused_output_is_one_line_and_touches_nothing(case, corpus, cli_inprocess, snapshot, tmp_path,
                                                          monkeypatch):
    name, argv, place = case
    work = tmp_path / "work"
    user_files(work)
    where = place(work)
    if where.cwd is not None:
        monkeypatch.chdir(where.cwd)
    before = snapshot(tmp_path)
    started = time.perf_counter()
    outcome = cli_inprocess(*argv(corpus, where.arg))
    TRIED.append(name)
    assert_refused(outcome, where.named)
    assert snapshot(tmp_path) == before, "the user's files changed"
    assert time.perf_counter() - started < 10, "refused only after some work"  # nothing loaded, nothing run


def test_existing_run_without_resume_or_overwrite(corpus, cli_inprocess, snapshot, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    for name in ("last.pt", "best.pt", "log.csv"):
        (run / name).write_bytes(b"a previous run's " + name.encode())
    before = snapshot(tmp_path)
    outcome = cli_inprocess(*FOLDER_VERBS["train"](corpus, str(run)))
    TRIED.append("train-existing-run")
    assert_refused(outcome, str(run))
    assert "--resume" in outcome.stderr and "--overwrite" in outcome.stderr
    assert snapshot(tmp_path) == before


def test_overwrite_starts_a_run_over(corpus, cli_inprocess, tmp_path):
    run = tmp_path / "run"
    (run / "tb").mkdir(parents=True)
    for name in ("last.pt", "best.pt", "log.csv", "recipe.yaml", "tb/events.out.tfevents.1.old.2.0"):
        (run / name).write_bytes(b"a previous run's file")
    outcome = cli_inprocess(*FOLDER_VERBS["train-overwrite"](corpus, str(run)), "--threads", 1, "--no-progress")
    TRIED.append("train-overwrite-run")
    assert outcome.code == 0, outcome.stderr
    assert (run / "log.csv").read_text().startswith("epoch,") and (run / "last.pt").read_bytes()[:2] == b"PK"
    assert not (run / "tb" / "events.out.tfevents.1.old.2.0").exists()


def test_export_replaces_a_previous_artifact_and_cleans_dead_leftovers(corpus, cli_inprocess, snapshot, tmp_path,
                                                                       dead_pid, monkeypatch):
    """The cheapest real export (FP32 only, parity on one face) onto a previous artifact: replaced whole; a dead
    export's temporary sibling is removed, a live one's and a look-alike stay; the neighbour files are intact."""
    from edgekit.artifact import read_manifest

    monkeypatch.setenv("EDGEKIT_CACHE", str(tmp_path / "cache"))
    work = tmp_path / "work"
    art = work / "art"
    art.mkdir(parents=True)
    (art / "edgekit.json").write_text('{"previous": true}\n')
    (art / "old-model.onnx").write_bytes(b"previous model")
    (work / "neighbour.txt").write_text("mine\n")
    kept = [f".art.edgekit-{os.getpid()}-abcd1234.tmp", ".art.abcd1234.tmp", "mine.edgekit-1-x.tmp"]
    for name in kept:
        (work / name).mkdir()
    neighbours = {k: v for k, v in snapshot(work).items() if not k.startswith("art")}
    (work / f".art.edgekit-{dead_pid}-abcd1234.tmp").mkdir()  # a killed export's
    target = tmp_path / "fp32-one.yaml"
    target.write_text("name: fp32-one\nruntime: onnxruntime\nonnx: {parity_images: 1}\n")
    outcome = cli_inprocess("export", "pfld_0.25x", "--target", target, "--calib", corpus["face_ok_dir"],
                            "--out", art, "--threads", 1)
    TRIED.append("export-onto-artifact")
    assert outcome.code == 0, outcome.stderr
    assert sorted(p.name for p in art.iterdir()) == ["edgekit.json", "model.onnx"]
    assert read_manifest(art).files[0].path == "model.onnx"  # a real, verified manifest replaced the old one
    assert sorted(p.name for p in work.iterdir()) == sorted(["art", "neighbour.txt", *kept])
    assert {k: v for k, v in snapshot(work).items() if not k.startswith("art")} == neighbours


def test_leftovers_of_a_killed_export_are_removed_by_the_next_run(corpus, tmp_path):
    """SIGKILL a real export once its temporary folders exist; the next edgekit run (even one refused for another
    reason) removes them, since their process is gone."""
    temp_root, work = tmp_path / "tmp", tmp_path / "work"
    temp_root.mkdir()
    work.mkdir()
    env = {**os.environ, "TMPDIR": str(temp_root), "EDGEKIT_CACHE": str(tmp_path / "cache")}

    def command(target: Path) -> list[str]:
        # --eval: the gate's faces from the corpus, not pfld_0.25x's own validation set (absent without ../shared)
        return [sys.executable, "-m", "edgekit", "export", "pfld_0.25x", "--target", str(target), "--calib",
                str(corpus["face_ok_dir"]), "--eval", str(corpus["face_ok_dir"]), "--out", str(work / "art"),
                "--threads", "1"]

    child = subprocess.Popen(command(corpus["target_tiny_int8_ok"]), env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (list(work.glob(".art.edgekit-*.tmp")) and list(temp_root.glob("edgekit-export-*"))):
        assert child.poll() is None and time.monotonic() < deadline, "the export ended before it could be killed"
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert [p.name for p in work.iterdir()][0].startswith(f".art.edgekit-{child.pid}-")
    again = subprocess.run(command(tmp_path / "missing-target.yaml"), env=env, capture_output=True, text=True,
                           timeout=120, check=False)
    TRIED.append("export-after-sigkill")
    assert again.returncode == 2 and "missing-target.yaml" in again.stderr
    # edgekit's own leftovers are gone; a library's temporary file of the killed process (a ".ses" file appeared
    # once in TMPDIR) is not edgekit's to remove
    assert list(work.iterdir()) == [] and list(temp_root.glob("edgekit-*")) == []


def _limit_file_size() -> None:
    """In the child: files of at most 64 bytes, EFBIG (not SIGXFSZ) beyond; a full disk is the same to edgekit."""
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


def test_a_write_that_fails_at_the_end_is_one_line_and_leaves_nothing(corpus, tmp_path):
    """``data check --json`` in a real process whose writes stop at 64 bytes: the report cannot be written once
    the scan is done; one line naming the file, exit 2, no partial file, the previous report intact."""
    report = tmp_path / "report.json"
    report.write_text("{}")
    done = subprocess.run([sys.executable, "-m", "edgekit", "data", "check", str(corpus["face_ok_dir"]), "--json",
                           str(report)], capture_output=True, text=True, timeout=120, check=False,
                          preexec_fn=_limit_file_size)
    TRIED.append("data-check-json-file-too-large")
    assert done.returncode == 2 and done.stderr == f"edgekit: error: {report}: File too large\n", done.stderr
    assert report.read_text() == "{}" and [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_summary(capsys):
    """Runs last in this file: how many output cases were tried (all of them passed to get here)."""
    with capsys.disabled():
        print(f"\noutputs: {len(TRIED)} verb x output-path cases tried ({len(CASES)} refusals in-process)")
    assert len(TRIED) >= len(CASES)
