"""OnnxRuntimeRunner and the ONNX spec metadata, on real exported registered models (seeded random weights)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edgekit.backend.onnxruntime.loader import spec_from_onnx
from edgekit.backend.onnxruntime.runner import OnnxRuntimeRunner
from edgekit.errors import ModelFileError
from edgekit.specs import OnnxSection


@pytest.fixture(scope="module")
def fsanet_model():
    import torch

    from edgekit.models.weights import build_model

    torch.manual_seed(0)
    return build_model("fsanet").eval()


@pytest.fixture(scope="module")
def onnx_files(fsanet_model, tmp_path_factory):
    from edgekit.export.onnx import export_onnx

    folder = tmp_path_factory.mktemp("ort")
    fixed = export_onnx(fsanet_model, folder / "fixed.onnx", OnnxSection())
    dynamic = export_onnx(fsanet_model, folder / "dynamic.onnx", OnnxSection(dynamic_batch=True))
    return fixed, dynamic


def _batch(n: int) -> np.ndarray:
    return np.random.default_rng(1).normal(size=(n, 3, 64, 64)).astype(np.float32)


def test_outputs_match_torch_in_spec_order(fsanet_model, onnx_files):
    from edgekit.export.onnx import torch_outputs

    batch = _batch(3)
    reference = torch_outputs(fsanet_model, batch)
    with OnnxRuntimeRunner(str(onnx_files[1]), threads=1) as runner:
        outputs = runner.infer(batch)
        assert runner.max_batch is None  # symbolic batch: any size in one call
    assert [o.shape for o in outputs] == [r.shape for r in reference]  # p, eta, delta
    for out, ref in zip(outputs, reference):
        np.testing.assert_allclose(out, ref, atol=1e-5)


def test_fixed_batch_file_pads_and_splits(onnx_files):
    batch = _batch(3)
    with OnnxRuntimeRunner(str(onnx_files[0]), threads=1) as fixed, \
            OnnxRuntimeRunner(str(onnx_files[1]), threads=1) as dynamic:
        assert fixed.max_batch == 1
        for a, b in zip(fixed.infer(batch), dynamic.infer(batch)):
            np.testing.assert_allclose(a, b, atol=1e-6)


def test_nhwc_batch_is_transposed_for_an_nchw_file(fsanet_model, onnx_files):
    nhwc_spec = dataclasses.replace(fsanet_model.spec, preprocess=dataclasses.replace(
        fsanet_model.spec.preprocess, layout="NHWC"))
    batch = _batch(2)
    with OnnxRuntimeRunner(str(onnx_files[1]), 1) as plain, OnnxRuntimeRunner(str(onnx_files[1]), 1, nhwc_spec) as t:
        assert t.layout == "NCHW"
        np.testing.assert_array_equal(plain.infer(batch)[0], t.infer(batch.transpose(0, 2, 3, 1))[0])


def test_spec_round_trips_through_metadata(fsanet_model, onnx_files):
    assert spec_from_onnx(onnx_files[0]) == fsanet_model.spec
    assert OnnxRuntimeRunner(str(onnx_files[0])).spec == fsanet_model.spec


def test_corrupt_and_truncated_files_are_one_line_errors(onnx_files, tmp_path):
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(onnx_files[0].read_bytes()[:5000])
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model at all")
    for path in (truncated, garbage):
        with pytest.raises(ModelFileError) as info:
            OnnxRuntimeRunner(str(path), spec=spec_from_onnx(onnx_files[0])).open()
        assert str(path) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ModelFileError, match="file not found"):
        OnnxRuntimeRunner(str(tmp_path / "missing.onnx")).open()


def test_file_of_another_model_is_refused(onnx_files):
    import edgekit.models  # noqa: F401
    from edgekit.registry import create_model

    other = create_model("pfld_0.25x").spec  # 112x112 input, the file takes 64x64
    with pytest.raises(ModelFileError, match="does not fit model pfld_0.25x"):
        OnnxRuntimeRunner(str(onnx_files[0]), spec=other).open()


def test_file_without_spec_metadata(onnx_files, tmp_path):
    import onnx

    proto = onnx.load(str(onnx_files[0]))
    del proto.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(proto, str(bare))
    with pytest.raises(ModelFileError, match="no 'edgekit.spec' metadata"):
        spec_from_onnx(bare)
