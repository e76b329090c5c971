"""The openvino export stage through the one export loop: model.xml and model.int8.xml beside the ONNX file, each
.bin hashed and listed as its support file, the default file of the target's format, an artifact that runs."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from edgekit.backend.formats import by_suffix, with_companions


def test_companions_travel_with_the_xml():
    assert with_companions(Path("a/model.int8-p99.9.xml")) == [Path("a/model.int8-p99.9.xml"),
                                                               Path("a/model.int8-p99.9.bin")]
    assert with_companions(Path("a/model.onnx")) == [Path("a/model.onnx")]
    assert by_suffix("model.xml").name == "openvino" and by_suffix("model.bin") is None


def test_export_ships_ir_pairs(pfld, small_int8, synthetic_faces, tmp_path):
    from edgekit.artifact import read_manifest
    from edgekit.export.pipeline import export
    from edgekit.runtime.source import open_source
    from edgekit.specs import load_target

    target = load_target("cpu-x86-openvino-int8")
    target = dataclasses.replace(target, int8=dataclasses.replace(small_int8, budget_nme=100.0))  # no search
    out = export(pfld, target, tmp_path / "art", calib=str(synthetic_faces), log=lambda line: None, threads=1)
    manifest = read_manifest(out)  # verifies every listed file's sha256, the .bin files too
    listed = {f.path: (f.format, f.role, f.precision) for f in manifest.files}
    assert listed["model.xml"] == ("openvino", "model", "fp32")
    assert listed["model.int8.xml"] == ("openvino", "model", "int8")
    assert listed["model.bin"][:2] == listed["model.int8.bin"][:2] == ("openvino", "support")
    assert manifest.checks.selected.endswith(".xml")  # the target deploys OpenVINO files
    assert manifest.checks.calibration.quantization["openvino"].tool == "nncf"
    assert manifest.checks.gate.files["model.int8.xml"].passed
    runner, spec = open_source(out, threads=1)
    with runner:
        assert runner.backend == "openvino" and spec == pfld.spec
