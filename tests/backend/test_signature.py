"""edgekit.backend.signature: the output shapes each decode reads, checked against every registered model's real
forward pass, and the refusals of files that do not fit."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from edgekit.backend.signature import check_dtype, check_outputs, dtype_name, expected_outputs
from edgekit.errors import ModelFileError
from edgekit.registry import create_model, list_models


@pytest.mark.parametrize("name", list_models())
def test_expected_outputs_are_what_the_model_gives(name):
    model = create_model(name).eval()
    width, height = model.spec.preprocess.input_size
    with torch.no_grad():
        outputs = model(torch.zeros(2, model.spec.preprocess.channels, height, width))
    outputs = (outputs,) if isinstance(outputs, torch.Tensor) else outputs
    assert [tuple(o.shape[1:]) for o in outputs] == expected_outputs(model.spec)
    check_outputs([list(o.shape) for o in outputs], model.spec, "m.onnx")  # no error


def test_the_zoo_covers_every_decode_kind():
    assert [expected_outputs(create_model(n).spec) for n in ("pfld_0.25x", "hopenet_mbv2", "fsanet")] == [
        [(136,)], [(3, 66)], [(3, 3, 3), (3, 3, 3), (3, 3)]]
    assert expected_outputs(create_model("pipnet_mbv2").spec)[3] == (680, 8, 8)


def test_heatmap_grids_round_up():
    spec = create_model("mobilefan").spec
    odd = dataclasses.replace(spec, preprocess=dataclasses.replace(spec.preprocess, input_size=(130, 126)))
    assert expected_outputs(odd) == [(68, 32, 33)]  # ceil(126 / 4), ceil(130 / 4)


def test_symbolic_dims_pass_and_fixed_ones_must_match():
    spec = create_model("mobilefan").spec
    check_outputs([["batch", 68, None, -1]], spec, "m.onnx")
    with pytest.raises(ModelFileError, match=r"m.onnx: output 'heatmaps' has shape \['batch', 68, 16, 16\], model "
                                             r"mobilefan gives \['batch', 68, 32, 32\]"):
        check_outputs([["batch", 68, 16, 16]], spec, "m.onnx")
    with pytest.raises(ModelFileError, match="2 outputs, model mobilefan has 1"):
        check_outputs([[1, 68, 32, 32]] * 2, spec, "m.onnx")


def test_a_head_names_as_many_outputs_as_its_kind_reads():
    spec = create_model("pfld_0.25x").spec
    with pytest.raises(ValueError, match=r"outputs must name 1 tensors for kind 'regression' \(points\)"):
        dataclasses.replace(spec.head, outputs=("a", "b", "c"))


def test_every_decode_kind_gives_one_shape_per_output():
    from edgekit.heads import decoder_table
    from edgekit.profile.peers import MEDIAPIPE_SPEC

    for name in list_models():
        spec = create_model(name).spec
        assert len(expected_outputs(spec)) == len(spec.head.outputs) == len(spec.head.decoder.roles)
    assert len(expected_outputs(MEDIAPIPE_SPEC)) == 2 and "face_mesh" in decoder_table()


def test_the_face_mesh_kind_reads_points_and_a_score():
    """MediaPipe's face mesh (the peer registers the kind): (B, 1, 1, 3N) points and a (B, 1, 1, 1) presence."""
    from edgekit.profile.peers import MEDIAPIPE_SPEC

    assert expected_outputs(MEDIAPIPE_SPEC) == [(1, 1, 1404), (1, 1, 1)]
    check_outputs([[1, 1, 1, 1404], [1, 1, 1, 1]], MEDIAPIPE_SPEC, "m.tflite")
    with pytest.raises(ModelFileError, match="output 'conv2d_21' has shape"):
        check_outputs([[1, 1404], [1, 1]], MEDIAPIPE_SPEC, "m.tflite")
    pfld = create_model("pfld_0.25x").spec  # a landmark regression head is not the mesh layout
    with pytest.raises(ModelFileError, match="2 outputs, model pfld_0.25x has 1"):
        check_outputs([[1, 1, 1, 204], [1, 1, 1, 1]], pfld, "m.tflite")


@pytest.mark.parametrize("dtype, name", [("tensor(float)", "float32"), ("tensor(float16)", "float16"),
                                         ("tensor(uint8)", "uint8"), (np.int8, "int8"),
                                         (np.dtype("float64"), "float64"), ("float32", "float32")])
def test_dtype_names(dtype, name):
    assert dtype_name(dtype) == name


def test_check_dtype():
    assert check_dtype("input 'x'", "tensor(float)", ("float32",), "m.onnx") == "float32"
    with pytest.raises(ModelFileError, match="m.onnx: input 'x' is uint8, edgekit runs only float32 there"):
        check_dtype("input 'x'", "tensor(uint8)", ("float32",), "m.onnx")
