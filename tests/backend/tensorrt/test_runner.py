"""TensorRTRunner checks that need no TensorRT (engine bytes and build record vs this machine), and a real run
marked ``tensorrt`` that skips where TensorRT is absent."""
import hashlib
import json

import pytest

from edgekit.artifact import Manifest, write_manifest
from edgekit.backend.tensorrt.loader import GpuInfo, sidecar_path, tensorrt_available
from edgekit.backend.tensorrt.runner import TensorRTRunner, compatibility_problems, read_engine_metadata, \
    verify_engine_bytes
from edgekit.checks import EngineBuild
from edgekit.errors import EdgekitError, ModelFileError
from edgekit.specs import HeadSpec, ModelSpec, PreprocessSpec

ORIN = GpuInfo("Orin", "8.7")
META = {"trt_version": "10.3.0.30", "gpu": "Orin", "compute_capability": "8.7", "version_compatible": False}


def _engine(tmp_path, data=b"0123456789", record=None):
    path = tmp_path / "m.engine"
    path.write_bytes(data)
    if record is not None:
        sidecar_path(path).write_text(json.dumps(record))
    return path


def test_truncated_engine_is_refused_before_tensorrt(tmp_path):
    record = {"size": 10, "sha256": hashlib.sha256(b"0123456789").hexdigest(), **META}
    path = _engine(tmp_path, b"01234", record)
    with pytest.raises(ModelFileError, match="has 5 bytes but was built with 10"):
        TensorRTRunner(str(path)).open()


def test_changed_or_empty_engine(tmp_path):
    record = {"size": 10, "sha256": hashlib.sha256(b"0123456789").hexdigest()}
    assert verify_engine_bytes(b"0123456780", record) == [
        "the engine's sha256 differs from its build record (file changed or corrupt)"]
    assert verify_engine_bytes(b"", None) == ["the engine file is empty"]
    assert verify_engine_bytes(b"0123456789", record) == []
    with pytest.raises(ModelFileError, match="not found"):
        TensorRTRunner(str(tmp_path / "missing.engine")).open()


@pytest.mark.parametrize("version, gpu, expected", [
    ("10.3.0.30", ORIN, []),
    ("10.3.0.26", ORIN, []),  # same major.minor.patch
    ("10.4.0", ORIN, ["built with TensorRT 10.3.0.30, this machine has 10.4.0"]),
    ("10.3.0", GpuInfo("Xavier", "7.2"), ["built for compute capability 8.7 (Orin), this GPU is 7.2 (Xavier)"]),
])
def test_compatibility(version, gpu, expected):
    assert compatibility_problems(META, version, gpu) == expected


def test_version_compatible_engines_run_on_later_versions():
    meta = {**META, "version_compatible": True}
    assert compatibility_problems(meta, "11.4.1", ORIN) == []
    assert compatibility_problems(meta, "10.1", ORIN) == ["built with TensorRT 10.3.0.30, this machine has 10.1"]
    assert compatibility_problems(None, "8.5.2", ORIN) == []


def test_metadata_from_the_manifest(tmp_path):
    spec = ModelSpec("toy", "pose", PreprocessSpec((16, 16)), HeadSpec("pose_regression", ("pose",)))
    build = EngineBuild("m.engine", 10, "ab" * 32, "10.3.0.30", "Orin", "8.7", 1.5, inputs={"input": {"max": [4]}})
    write_manifest(tmp_path, Manifest(model=spec).with_checks(engines={"m.engine": build}))
    meta = read_engine_metadata(_engine(tmp_path))
    assert meta["trt_version"] == "10.3.0.30" and meta["inputs"] == {"input": {"max": [4]}} and meta["size"] == 10
    sidecar_path(tmp_path / "m.engine").write_text("{not json")
    with pytest.raises(ModelFileError, match="metadata unreadable"):
        read_engine_metadata(tmp_path / "m.engine")


@pytest.mark.skipif(tensorrt_available(), reason="TensorRT is installed here")
def test_garbage_engine_without_tensorrt_is_a_clean_error(tmp_path):
    with pytest.raises(EdgekitError, match="TensorRT is not installed"):
        TensorRTRunner(str(_engine(tmp_path, b"garbage"))).open()


@pytest.mark.tensorrt
@pytest.mark.skipif(not tensorrt_available(), reason="TensorRT is not installed on this machine: the engine "
                    "build was not run")
def test_garbage_engine_with_tensorrt_is_a_model_file_error(tmp_path):
    with pytest.raises(ModelFileError, match="cannot deserialize"):
        TensorRTRunner(str(_engine(tmp_path, b"garbage" * 100))).open()
