import json

import pytest

from edgekit.artifact import Manifest, describe_file, read_manifest, write_manifest
from edgekit.errors import ModelFileError
from edgekit.specs import HeadSpec, ModelSpec, PreprocessSpec

SPEC = ModelSpec(
    name="toy",
    task="pose",
    preprocess=PreprocessSpec(input_size=(64, 64)),
    head=HeadSpec(output="pose", decode="regression", outputs=("pose",)),
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
