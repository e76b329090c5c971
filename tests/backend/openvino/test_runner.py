"""OpenVinoRunner on PFLD-0.25x converted from its ONNX file: the same outputs as ONNX Runtime, the spec from the
IR's rt_info, one-line errors for bad files."""
from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest

from edgekit.backend.onnxruntime.runner import OnnxRuntimeRunner
from edgekit.backend.openvino.loader import spec_from_ir, weights_path
from edgekit.backend.openvino.runner import OpenVinoRunner
from edgekit.errors import ModelFileError


def _batch(count: int) -> np.ndarray:
    return np.random.default_rng(1).normal(size=(count, 3, 112, 112)).astype(np.float32)


def test_outputs_equal_onnx_runtime(pfld_onnx, pfld_ir):
    batch = _batch(5)
    with OpenVinoRunner(str(pfld_ir), threads=1) as ov, OnnxRuntimeRunner(str(pfld_onnx), threads=1) as ort:
        got, want = ov.infer(batch), ort.infer(batch)
        assert ov.max_batch is None and ov.layout == "NCHW"  # dynamic batch: 5 images in one call
        compiled = ov.request.get_compiled_model()  # unpinned (20-24 ms pinned on a busy shared host), FP32
        assert compiled.get_property("ENABLE_CPU_PINNING") is False
        assert compiled.get_property("INFERENCE_PRECISION_HINT").to_dtype() == np.float32
    assert got[0].shape == (5, 136) and got[0].dtype == np.float32
    np.testing.assert_allclose(got[0], want[0], atol=1e-4, rtol=0)


def test_spec_travels_in_the_ir(pfld, pfld_ir):
    assert spec_from_ir(pfld_ir) == pfld.spec
    assert OpenVinoRunner(str(pfld_ir)).spec == pfld.spec
    assert weights_path(pfld_ir).is_file() and weights_path(pfld_ir).stat().st_size > 1_000_000  # FP32 weights
    assert not list(pfld_ir.parent.glob("work/staged-*"))  # the staged pair is gone


def test_nhwc_batch_is_transposed_for_the_nchw_ir(pfld, pfld_ir):
    nhwc = dataclasses.replace(pfld.spec, preprocess=dataclasses.replace(pfld.spec.preprocess, layout="NHWC"))
    batch = _batch(2)
    with OpenVinoRunner(str(pfld_ir), 1) as plain, OpenVinoRunner(str(pfld_ir), 1, nhwc) as transposed:
        np.testing.assert_array_equal(plain.infer(batch)[0], transposed.infer(batch.transpose(0, 2, 3, 1))[0])


def test_file_of_another_model_is_refused(pfld_ir):
    import edgekit.models  # noqa: F401
    from edgekit.registry import create_model

    with pytest.raises(ModelFileError, match="does not fit model fsanet"):
        OpenVinoRunner(str(pfld_ir), spec=create_model("fsanet").spec).open()


def _bad_files(pfld_ir, folder):
    """{kind: path} of IR files OpenVINO cannot read."""
    garbage = folder / "garbage.xml"
    garbage.write_text("<net>not closed")
    no_weights = folder / "no_weights.xml"
    shutil.copyfile(pfld_ir, no_weights)
    short = folder / "short.xml"
    shutil.copyfile(pfld_ir, short)
    weights_path(short).write_bytes(weights_path(pfld_ir).read_bytes()[:1000])
    onnx_bytes = folder / "onnx.xml"
    onnx_bytes.write_bytes(b"\x08\x07\x12\x07pytorch")
    return {"garbage": garbage, "no_weights": no_weights, "short": short, "onnx_bytes": onnx_bytes}


def test_bad_ir_files_are_one_line_errors(pfld, pfld_ir, tmp_path):
    for kind, path in _bad_files(pfld_ir, tmp_path).items():
        with pytest.raises(ModelFileError) as info:
            OpenVinoRunner(str(path), spec=pfld.spec).open()
        text = str(info.value)
        assert str(path) in text and "\n" not in text, (kind, text)
    with pytest.raises(ModelFileError, match="file not found"):
        OpenVinoRunner(str(tmp_path / "missing.xml"), spec=pfld.spec).open()


def test_ir_without_spec_is_named(pfld_onnx, tmp_path):
    import openvino as ov

    bare = tmp_path / "bare.xml"
    ov.save_model(ov.convert_model(str(pfld_onnx)), str(bare), compress_to_fp16=False)  # no embed_spec
    with pytest.raises(ModelFileError, match="no edgekit spec"):
        spec_from_ir(bare)


def test_fixed_batch_ir_splits_like_the_dynamic_one(pfld_onnx, pfld_ir, tmp_path):
    import openvino as ov

    from edgekit.backend.openvino.loader import read_ir

    model = read_ir(pfld_ir)
    model.reshape([2, 3, 112, 112])  # a fixed batch of 2: 3 images run as 2 + 1 padded
    fixed = tmp_path / "fixed.xml"
    ov.save_model(model, str(fixed), compress_to_fp16=False)
    batch = _batch(3)
    with OpenVinoRunner(str(fixed), 1) as two, OpenVinoRunner(str(pfld_ir), 1) as any_batch:
        got = two.infer(batch)[0]
        assert two.max_batch == 2
        np.testing.assert_allclose(got, any_batch.infer(batch)[0], atol=1e-5, rtol=0)
