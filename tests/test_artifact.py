import json

import pytest

from edgekit.artifact import Manifest, describe_file, read_manifest, write_manifest
from edgekit.checks import Parity
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
    parity = Parity("torch", 4, 1e-6, 1e-7, max_deg=1e-5)
    write_manifest(tmp_path, Manifest(model=SPEC, files=(entry,)).with_checks(parity={"model.onnx": parity}))
    return tmp_path


def test_manifest_round_trip_and_verify(tmp_path):
    manifest = read_manifest(_artifact(tmp_path))
    assert manifest.model == SPEC
    import hashlib
    assert manifest.find("onnx").sha256 == hashlib.sha256(b"onnx-bytes").hexdigest()
    assert manifest.checks.parity["model.onnx"] == Parity("torch", 4, 1e-6, 1e-7, max_deg=1e-5)
    assert manifest.format == 2


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
    (lambda m: json.dumps({**m, "checks": {"selected": ["model.onnx"]}}),
     "manifest.checks.selected: expected a string, got a list"),
    (lambda m: json.dumps({**m, "checks": {"gate": {"files": {"model.onnx": True}}}}),
     "manifest.checks.gate.files.model.onnx: expected a mapping, got bool"),
    (lambda m: json.dumps({**m, "checks": {"engines": []}}), "manifest.checks.engines: expected a mapping"),
    (lambda m: json.dumps({**m, "checks": {"x": 1}}), "unknown key 'x' in manifest.checks"),
    (lambda m: json.dumps({**m, "format": 1, "checks": {"tensorrt_engines": []}}),
     "manifest.checks.engines: expected a mapping"),
    (lambda m: json.dumps({**m, "format": 1, "checks": {"calibration": 3}}),
     "manifest.checks.calibration: expected a mapping, got int"),
    (lambda m: json.dumps({**m, "model": {**m["model"], "name": "n" * 100_000}}), "a string of 100000 characters"),
])
def test_malformed_manifests_are_one_line(tmp_path, edit, problem):
    assert problem in _edited(tmp_path, edit)


def test_manifest_bytes_are_checked_before_parsing(tmp_path, monkeypatch):
    assert "not UTF-8 text" in _edited(tmp_path, lambda m: json.dumps(m).replace("toy", "to\udcff"))
    monkeypatch.setattr("edgekit.artifact.MAX_MANIFEST_BYTES", 100)
    assert "larger than 0 KiB" in _edited(tmp_path / "b", json.dumps)


# A format-1 manifest's checks as the export of 2026-11-30 wrote them (pfld_0.25x, cpu-x86-int8, held-out gate),
# plus the TFLite, TensorRT and profile checks of that format.
V1_CHECKS = {
    "onnx": {"opset": 17, "dynamic_batch": True, "simplify": "onnxslim", "exporter": "torch.onnx legacy (dynamo=False)",
             "spec_in": "onnx metadata_props"},
    "parity": {"model.onnx": {"images": 16, "max_abs": 7.9e-07, "rel_l2": 3.1e-07, "max_px": 0.00016,
                              "against": "torch"}},
    "calibration": {"source": "calibration/default.yaml", "images": 256, "holdout_images": 32, "sha256": "8a" * 32,
                    "preprocess": "edgekit.runtime.preprocess (the artifact's spec)", "method": "minmax",
                    "percentile": None, "per_channel": True, "activations": "QUInt8", "weights": "QInt8",
                    "format": "QDQ", "bias": "int32"},
    "recalibration": {"method": "percentile", "tried": {"99.99": 0.0714}, "chosen": 99.99, "delta": 0.0714,
                      "passed": True},
    "recalibration_tflite": {"method": "percentile", "tried": {}, "chosen": None, "delta": None, "passed": False},
    "sensitivity_tflite": {"calibration": "minmax ranges", "candidates": 40, "sqnr_drop_db": {"DIV x": None},
                           "single_node_delta": {"DIV x": 0.1}, "float_layers": ["DIV x"],
                           "unweighted_in_float": False, "delta": 0.05, "passed": True, "float_op_types": ["DIV"],
                           "latency_cost_ms": 0.02},
    "tflite_failed": {"model.int8.tflite": "LiteRT failed to invoke"},
    "gate": {"metric": "nme", "label_free": False, "files": {
        "model.onnx": {"metric": "nme", "value": 11.59, "delta": 0.0, "budget": 0.1, "passed": True,
                       "label_free": False},
        "model.int8.onnx": {"metric": "nme", "value": 11.72, "delta": 0.13, "budget": 0.1, "passed": False,
                            "label_free": False, "images": 32, "labels": "held-out annotations", "vs_fp32": 1.25}}},
    "latency_ms": {"threads": 1, "runs": 50, "statistic": "median, warm-up excluded",
                   "files": {"model.onnx": 0.40, "model.int8.onnx": 0.37}},
    "selected": "model.int8.onnx",
    "tensorrt": {"onnx_problems": [], "qdq_problems": [], "calibration_table": "model.int8.calib"},
    "tensorrt_engines": {"m.engine": {"engine": "m.engine", "size": 10, "sha256": "ab" * 32, "trt_version": "10.3.0",
                                      "gpu": "Orin", "compute_capability": "8.7", "build_seconds": 1.5,
                                      "inputs": {"input": {"min": [1, 3, 112, 112]}}}},
    "profile": {"tool": "edgekit profile", "runs": 200, "results": [{"name": "a/model.onnx", "p50_ms": 0.4}]},
}


def test_format_1_manifests_are_read_through_the_converter(tmp_path):
    folder = _artifact(tmp_path)
    data = json.loads((folder / "edgekit.json").read_text())
    data.update(format=1, checks=V1_CHECKS, target={"name": "cpu", "runtime": "onnxruntime",
                                                    "int8": {"select": "fastest_within_budget"}})
    (folder / "edgekit.json").write_text(json.dumps(data))
    manifest = read_manifest(folder)
    checks = manifest.checks
    assert checks.parity["model.onnx"].max_px == 0.00016 and checks.parity["model.onnx"].against == "torch"
    assert checks.calibration.data.images == 256 and checks.calibration.quantization["onnx"].activations == "QUInt8"
    assert checks.calibration.quantization["onnx"].tool == "onnxruntime"
    assert checks.recalibration["onnx"].chosen == 99.99 and checks.recalibration["tflite"].tried == {}
    assert checks.sensitivity["tflite"].float_layers == ("DIV x",) and checks.sensitivity == {
        "tflite": checks.sensitivity["tflite"]}
    assert checks.failed == {"model.int8.tflite": "LiteRT failed to invoke"}
    assert checks.gate.files["model.int8.onnx"].vs_fp32 == 1.25 and not checks.gate.files["model.int8.onnx"].passed
    assert checks.latency.files == {"model.onnx": 0.40, "model.int8.onnx": 0.37} and checks.latency.runs == 50
    assert checks.selected == "model.int8.onnx" and checks.tensorrt.calibration_table == "model.int8.calib"
    assert checks.engines["m.engine"].compute_capability == "8.7"
    assert checks.profile.context == {"tool": "edgekit profile", "runs": 200}
    assert checks.profile.results == ({"name": "a/model.onnx", "p50_ms": 0.4},)
    assert manifest.target.select.prefer == "latency" and manifest.format == 2
    write_manifest(folder, manifest)  # written back as format 2, read the same
    assert read_manifest(folder) == manifest
