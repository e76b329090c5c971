import json

import pytest

from edgekit.artifact import Manifest, describe_file, read_manifest, write_manifest
from edgekit.errors import ModelFileError
from edgekit.specs import HeadSpec, ModelSpec, PreprocessSpec

SPEC = ModelSpec(
    name="toy",
    task="pose",
    preprocess=PreprocessSpec(input_size=(64, 64)),
    head=HeadSpec("pose_regression", ("pose",)),
)


def _artifact(tmp_path):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "model.onnx").write_bytes(b"onnx-bytes")
    entry = describe_file(tmp_path, tmp_path / "model.onnx", "onnx")
    write_manifest(tmp_path, Manifest(model=SPEC, files=(entry,)).with_check("parity", {"max_abs": 1e-6}))
    return tmp_path


def test_manifest_round_trip_and_verify(tmp_path):
    manifest = read_manifest(_artifact(tmp_path))
    assert manifest.model == SPEC
    import hashlib
    assert manifest.find("onnx").sha256 == hashlib.sha256(b"onnx-bytes").hexdigest()
    assert manifest.checks["parity"]["max_abs"] == 1e-6


def test_changed_file_is_refused(tmp_path):
    folder = _artifact(tmp_path)
    (folder / "model.onnx").write_bytes(b"onnx-bytez")
    with pytest.raises(ModelFileError, match="sha256 does not match"):
        read_manifest(folder)


@pytest.mark.parametrize("bad", ["../outside.onnx", "/etc/passwd", "sub/../../x"])
def test_paths_cannot_escape(tmp_path, bad):
    folder = _artifact(tmp_path / "a")
    data = json.loads((folder / "edgekit.json").read_text())
    data["files"][0]["path"] = bad
    (folder / "edgekit.json").write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match="escapes|not a relative"):
        read_manifest(folder)


def test_missing_manifest(tmp_path):
    with pytest.raises(ModelFileError, match="not an edgekit artifact"):
        read_manifest(tmp_path)


def _edited(tmp_path, edit) -> str:
    """The one-line error of reading the test artifact after ``edit(manifest dict)`` returns its new JSON text."""
    folder = _artifact(tmp_path / "a")
    manifest = folder / "edgekit.json"
    manifest.write_bytes(edit(json.loads(manifest.read_text())).encode("utf-8", "surrogateescape"))
    with pytest.raises(ModelFileError) as info:
        read_manifest(folder)
    assert str(info.value).startswith(f"{manifest}: ") and "\n" not in str(info.value)
    return str(info.value)


@pytest.mark.parametrize("edit, problem", [
    (lambda m: json.dumps({**m, "files": [{**m["files"][0], "path": "a\0b"}]}), r"files[0].path: control character"),
    (lambda m: json.dumps({**m, "files": {"path": "model.onnx"}}), "manifest.files: expected a list, got dict"),
    (lambda m: json.dumps({**m, "format": 0}), "manifest format 0 is not one this edgekit reads"),
    (lambda m: json.dumps({**m, "format": 10 ** 4000}), "manifest format an integer of 13288 bits"),
    (lambda m: '{"model": ' + "[" * 5000 + "]" * 5000 + "}", "not valid JSON (RecursionError)"),
    (lambda m: json.dumps(m)[:-1] + ', "provenance": {"a": ' + "[" * 40 + "]" * 40 + "}}",
     "manifest.provenance.a: nested more than 32 levels deep"),
    (lambda m: json.dumps({**m, "checks": {"selected": ["model.onnx"]}}), "checks.selected: expected a str, got list"),
    (lambda m: json.dumps({**m, "checks": {"gate": {"files": {"model.onnx": True}}}}),
     "checks.gate: expected a mapping of file name -> mapping"),
    (lambda m: json.dumps({**m, "checks": {"tensorrt_engines": []}}), "checks.tensorrt_engines: expected a dict"),
    (lambda m: json.dumps({**m, "model": {**m["model"], "name": "n" * 100_000}}), "a string of 100000 characters"),
])
def test_malformed_manifests_are_one_line(tmp_path, edit, problem):
    assert problem in _edited(tmp_path, edit)


def test_manifest_bytes_are_checked_before_parsing(tmp_path, monkeypatch):
    assert "not UTF-8 text" in _edited(tmp_path, lambda m: json.dumps(m).replace("toy", "to\udcff"))
    monkeypatch.setattr("edgekit.artifact.MAX_MANIFEST_BYTES", 100)
    assert "larger than 0 KiB" in _edited(tmp_path / "b", json.dumps)
