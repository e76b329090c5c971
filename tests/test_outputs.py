"""The output-path rules (edgekit/outputs.py) on real folders and files: what each kind of output accepts, what it
refuses (one OutputError naming the path), and that a refusal or a start-over never touches a user's file."""
from __future__ import annotations

import os

import pytest

from edgekit import outputs
from edgekit.errors import OutputError


def _refused(call, *args, match: str, **kw) -> str:
    with pytest.raises(OutputError, match=match) as info:
        call(*args, **kw)
    return str(info.value)


# ----------------------------------------------------------------------------- artifact folders (export --out)


def test_artifact_out_accepts_new_empty_and_artifact_folders(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    artifact = tmp_path / "art"
    artifact.mkdir()
    (artifact / "edgekit.json").write_text('{"format": 1}')
    (artifact / "model.onnx").write_bytes(b"old model")
    for path in (tmp_path / "new" / "deeper", empty, artifact):
        assert outputs.check_artifact_out(path) == path


@pytest.mark.parametrize("manifest", [None, b"[1, 2]", b"not json", b"\xff\xfe"])
def test_a_folder_without_a_manifest_object_is_not_an_artifact(manifest, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    if manifest is not None:
        (folder / "edgekit.json").write_bytes(manifest)
    line = _refused(outputs.check_artifact_out, folder, match="holding other files")
    assert line.startswith(f"{folder}: --out is a folder") and "notes.txt" in line


def test_artifact_out_refuses_a_file_a_link_and_a_path_under_a_file(tmp_path):
    regular = tmp_path / "model.onnx"
    regular.write_bytes(b"mine")
    link = tmp_path / "link"
    link.symlink_to(tmp_path)
    assert "a file, not a folder" in _refused(outputs.check_artifact_out, regular, match=str(regular))
    _refused(outputs.check_artifact_out, link, match="symbolic link")
    line = _refused(outputs.check_artifact_out, regular / "sub" / "art", match="cannot be created")
    assert f"{regular} is a file, not a folder" in line
    assert regular.read_bytes() == b"mine"


def test_the_current_folder_and_its_parents_are_refused(tmp_path, monkeypatch):
    here = tmp_path / "a" / "b"
    here.mkdir(parents=True)
    monkeypatch.chdir(here)
    (tmp_path / "alias").symlink_to(tmp_path / "a")  # resolved: a link to a parent is a parent
    for out in (".", "..", here, tmp_path, tmp_path / "alias", "/"):
        _refused(outputs.check_artifact_out, out, match="the current folder|above the current one")
    assert outputs.check_artifact_out("sibling") == outputs.Path("sibling")


# ----------------------------------------------------------------------------- run folders (train --out)


def _run_folder(tmp_path, *extra: str):
    run = tmp_path / "run"
    (run / "tb").mkdir(parents=True)
    for name in ("last.pt", "best.pt", "log.csv", "recipe.yaml", "tb/events.out.tfevents.1.host.2.0", *extra):
        (run / name).write_text(name)
    return run


def test_an_existing_run_needs_resume_or_overwrite(tmp_path):
    run = _run_folder(tmp_path)
    line = _refused(outputs.check_run_out, run, resume=False, overwrite=False, match="holds a previous run")
    assert "--resume" in line and "--overwrite" in line
    assert outputs.check_run_out(run, resume=True, overwrite=False) == run
    assert outputs.check_run_out(run, resume=False, overwrite=True) == run
    removed = outputs.clear_run(run)
    assert sorted(p.name for p in removed) == ["best.pt", "events.out.tfevents.1.host.2.0", "last.pt", "log.csv",
                                               "recipe.yaml", "tb"]
    assert list(run.iterdir()) == []


def test_overwrite_never_removes_a_foreign_file(tmp_path):
    run = _run_folder(tmp_path, "notes.txt", "tb/mine.txt")
    line = _refused(outputs.check_run_out, run, resume=False, overwrite=True, match="not a training run's")
    assert "notes.txt" in line and "tb/mine.txt" in line
    assert outputs.check_run_out(run, resume=True, overwrite=False) == run  # resume writes only its own files
    assert (run / "notes.txt").read_text() == "notes.txt" and (run / "last.pt").is_file()


def test_run_out_refuses_a_file_and_accepts_new_or_empty(tmp_path):
    regular = tmp_path / "log.csv"
    regular.write_text("epoch\n")
    _refused(outputs.check_run_out, regular, resume=False, overwrite=True, match="a file, not a folder")
    (tmp_path / "empty").mkdir()
    for path in (tmp_path / "empty", tmp_path / "new"):
        assert outputs.check_run_out(path, resume=False, overwrite=False) == path


# ----------------------------------------------------------------------------- output files


def test_output_files_refused(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    regular = tmp_path / "file.txt"
    regular.write_text("mine")
    cases = {  # path -> part of the message
        folder: "is a folder", regular / "m.json": "cannot be created", f"{tmp_path}/x/": "ends with '/'",
        "": "an empty path", "/dev/null": "not a regular file",
    }
    for path, problem in cases.items():
        _refused(outputs.check_output_file, path, "--json", match=problem)
    _refused(outputs.check_output_file, tmp_path / "ced.jpg", "--ced", suffixes=(".png",), match="writes .png")
    _refused(outputs.check_output_file, tmp_path / "o.xyz", "--draw", image=True, match="OpenCV cannot write")
    _refused(outputs.check_output_file, tmp_path / "o", "--draw", image=True, match="no suffix")
    _refused(outputs.check_output_file, regular, "--json", inputs=("pfld_0.25x", regular), match="also an input")
    assert regular.read_text() == "mine" and os.path.exists("/dev/null")


def test_output_files_accepted(tmp_path):
    existing = tmp_path / "old.json"
    existing.write_text("{}")
    assert outputs.check_output_file(existing, "--json") == existing  # an output file is meant to be rewritten
    assert outputs.check_output_file(tmp_path / "new" / "m.json", "--json").name == "m.json"
    for name in ("o.png", "o.JPG", "o.webp", "o.bmp"):
        assert outputs.check_output_file(tmp_path / name, "--draw", image=True).name == name
    assert outputs.check_output_file(tmp_path / "c.PNG", "--ced", suffixes=(".png",)).name == "c.PNG"


def test_checking_an_output_removes_only_dead_edgekit_leftovers(tmp_path, dead_pid):
    dead, alive = dead_pid, os.getpid()
    names = {f".m.json.edgekit-{dead}-abcd1234.tmp": False, f".m.json.edgekit-{alive}-abcd1234.tmp": True,
             ".m.json.abcd1234.tmp": True, f".m.json.edgekit-{dead}-ABCD.tmp": True, "notes.txt": True}
    for name in names:
        (tmp_path / name).write_text("x")
    outputs.check_output_file(tmp_path / "m.json", "--json")
    assert {p.name for p in tmp_path.iterdir()} == {name for name, kept in names.items() if kept}
