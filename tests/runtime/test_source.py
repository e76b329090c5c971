"""open_source on every SOURCE kind, with real ORT / LiteRT / torch runners and one-line errors."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edgekit.artifact import Manifest, describe_file, write_manifest
from edgekit.errors import EdgekitError, ModelFileError
from edgekit.heads import RegressionParams
from edgekit.runtime.source import open_source, pick_model
from edgekit.specs import HeadSpec, ModelSpec, PreprocessSpec

SPEC = ModelSpec(name="tiny_landmarks", task="landmarks", scheme="tiny", preprocess=PreprocessSpec(input_size=(32, 32)),
                 head=HeadSpec("regression", ("landmarks",), RegressionParams(5)))


@pytest.fixture()
def artifact(make_tiny_onnx):
    def build(folder, spec=SPEC):
        """An artifact folder: two copies of the tiny model (fp32, one labelled int8), no spec in the files."""
        folder.mkdir()
        fp32 = make_tiny_onnx(folder / "model.onnx", embed=False)
        int8 = make_tiny_onnx(folder / "model_int8.onnx", embed=False)
        manifest = Manifest(model=spec, files=(describe_file(folder, fp32, "onnx"),
                                               describe_file(folder, int8, "onnx", precision="int8")))
        write_manifest(folder, manifest)
        return folder

    return build


def test_lone_onnx_uses_its_embedded_spec(tiny_onnx):
    runner, spec = open_source(tiny_onnx, threads=1)
    assert runner.is_open and runner.backend == "onnxruntime" and spec.name == "tiny_landmarks"
    (out,) = runner.infer(np.zeros((3, 3, 32, 32), np.float32))
    assert out.shape == (3, 10) and np.all((out > 0) & (out < 1))  # sigmoid outputs, any batch
    runner.close()


def test_lone_onnx_without_spec_is_refused(tmp_path, make_tiny_onnx):
    bare = make_tiny_onnx(tmp_path / "bare.onnx", embed=False)
    with pytest.raises(ModelFileError, match="edgekit.spec") as info:
        open_source(bare)
    assert str(bare) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("content, match", [(None, "not a readable ONNX|cannot load"),
                                            (b"\x08\x07garbage", "not a readable ONNX|cannot load")])
def test_truncated_or_garbage_files(tiny_onnx, tmp_path, content, match):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(tiny_onnx.read_bytes()[:300] if content is None else content)
    with pytest.raises(ModelFileError, match=match) as info:
        open_source(broken)
    assert str(info.value).startswith(str(broken))


def test_unknown_suffix_missing_file_and_stray_choice(tmp_path, tiny_onnx):
    odd = tmp_path / "model.bin"
    odd.write_bytes(b"?")
    with pytest.raises(ModelFileError, match="unknown model file type '.bin'"):
        open_source(odd)
    with pytest.raises(ModelFileError, match="file not found"):
        open_source(tmp_path / "absent.onnx")
    with pytest.raises(EdgekitError, match="picks a file of an artifact folder"):
        open_source(tiny_onnx, choice="int8")


def test_artifact_folder_spec_from_manifest_and_choices(tmp_path, artifact):
    folder = artifact(tmp_path / "art")
    runner, spec = open_source(folder)
    assert spec == SPEC and runner.path.endswith("model.onnx")  # first host-runnable file
    runner, _ = open_source(folder, choice="int8")
    assert runner.path.endswith("model_int8.onnx")
    runner, _ = open_source(folder, choice="model_int8.onnx")
    assert runner.path.endswith("model_int8.onnx")
    with pytest.raises(ModelFileError, match="no model file matches 'fp16'.*model.onnx \\(onnx fp32\\)"):
        open_source(folder, choice="fp16")
    # a file of the artifact opened alone takes the manifest's spec (it has none embedded)
    runner, spec = open_source(folder / "model_int8.onnx")
    assert spec == SPEC


def test_artifact_is_verified_and_checked_against_its_spec(tmp_path, artifact):
    folder = artifact(tmp_path / "tampered")
    (folder / "model.onnx").write_bytes((folder / "model.onnx").read_bytes() + b"\0")
    with pytest.raises(ModelFileError, match="sha256 does not match"):
        open_source(folder)
    other = dataclasses.replace(SPEC, name="big", preprocess=PreprocessSpec(input_size=(64, 64)))
    folder = artifact(tmp_path / "other", spec=other)
    with pytest.raises(ModelFileError, match="does not fit model big"):
        open_source(folder)
    with pytest.raises(ModelFileError, match="not an edgekit artifact"):
        open_source(tmp_path)


def test_pick_model_prefers_host_formats(tmp_path, artifact):
    folder = artifact(tmp_path / "art")
    from edgekit.artifact import read_manifest

    manifest = read_manifest(folder)
    engine = dataclasses.replace(manifest.files[0], path="model.engine", format="engine", precision="fp16")
    reordered = dataclasses.replace(manifest, files=(engine, *manifest.files))
    assert pick_model(reordered, folder).path == "model.onnx"
    assert pick_model(reordered, folder, "engine").path == "model.engine"
    chosen = reordered.with_checks(selected="model_int8.onnx")  # the export's pick wins by default
    assert pick_model(chosen, folder).path == "model_int8.onnx"


def test_tflite_spec_from_its_metadata(tmp_path):
    """MediaPipe's face_landmark.tflite: refused bare (no spec), runs once a spec is embedded."""
    from edgekit.backend.tflite.loader import embed_spec
    from edgekit.profile.peers import MEDIAPIPE_SPEC, mediapipe_face_landmark

    try:
        peer = mediapipe_face_landmark()
    except EdgekitError as exc:
        pytest.skip(f"mediapipe wheel not fetchable: {exc}")
    with pytest.raises(ModelFileError, match="edgekit.spec"):
        open_source(peer)
    copy = tmp_path / "face_landmark.tflite"
    copy.write_bytes(peer.read_bytes())
    assert embed_spec(copy, MEDIAPIPE_SPEC)
    runner, spec = open_source(copy, threads=1)
    assert runner.backend == "tflite" and runner.max_batch == 1 and spec == MEDIAPIPE_SPEC
    points, flag = runner.infer(np.full((2, 192, 192, 3), 0.5, np.float32))  # batch 2 runs one by one
    assert points.shape == (2, 1, 1, 1404) and flag.shape == (2, 1, 1, 1)


def test_torch_weights_and_registered_names(tmp_path):
    torch = pytest.importorskip("torch")
    from edgekit.models.weights import build_model, save_weights

    torch.manual_seed(0)
    path = save_weights(build_model("pfld_0.25x"), tmp_path / "pfld.safetensors")
    runner, spec = open_source(path, threads=1)
    assert runner.backend == "torch" and spec.name == "pfld_0.25x"
    (out,) = runner.infer(np.zeros((1, 3, 112, 112), np.float32))
    assert out.shape == (1, 2 * spec.head.num_points)
    with pytest.raises(EdgekitError, match="no_such_model"):
        open_source("no_such_model")
