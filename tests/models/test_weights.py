"""edgekit.models.weights and edgekit.models.load: weights files with their spec, models from any source (the
spec stored with the weights checked against the model they rebuild), and the one-line refusals of files that
do not fit."""
from __future__ import annotations

import dataclasses
import io
import json

import pytest
import torch

from edgekit.errors import ModelFileError
from edgekit.heads import HeadSpec, HeatmapParams, RegressionParams
from edgekit.models.load import check_stored_spec, load_checkpoint, load_model, load_state
from edgekit.models.weights import build_model, load_weights, save_weights, shipped_weights


@pytest.fixture(scope="module")
def pfld():
    torch.manual_seed(0)
    return build_model("pfld_0.25x").eval()


def test_weights_round_trip_with_spec(pfld, tmp_path):
    path = save_weights(pfld, tmp_path / "w.safetensors")
    state, spec, name = load_weights(path)
    assert name == "pfld_0.25x" and spec == pfld.spec
    for key, value in pfld.state_dict().items():
        assert torch.equal(state[key], value), key
    x = torch.rand(2, 3, 112, 112)
    assert torch.equal(load_model(path)(x)[0], pfld(x)[0])


def test_half_weights_load_as_float32(pfld, tmp_path):
    full = save_weights(pfld, tmp_path / "full.safetensors")
    half = save_weights(pfld, tmp_path / "half.safetensors", half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    state, _, _ = load_weights(half)
    weight = pfld.state_dict()["fc.weight"]
    assert state["fc.weight"].dtype == torch.float32
    assert torch.equal(state["fc.weight"], weight.half().float())
    assert state["stem.0.1.num_batches_tracked"].dtype == torch.int64  # integers stay as they are


def test_weights_of_another_model_are_refused(pfld, tmp_path):
    big = build_model("pfld_1x")
    path = save_weights(big, tmp_path / "big.safetensors")
    with pytest.raises(ModelFileError, match="weights are for model pfld_1x, not pfld_0.25x") as info:
        load_model(path, expect="pfld_0.25x")
    assert str(path) in str(info.value)
    with pytest.raises(ModelFileError, match=r"weights are for model pfld_1x, not pfld_0.25x \(.*mis-shaped"):
        load_state(build_model("pfld_0.25x"), load_weights(path)[0], path, "pfld_1x")


def test_weights_that_do_not_fit_their_own_name(pfld, tmp_path):
    state = dict(pfld.state_dict())
    state.pop("fc.bias")
    with pytest.raises(ModelFileError, match="do not fit model pfld_0.25x .1 missing"):
        load_state(build_model("pfld_0.25x"), state, tmp_path / "x.pt", "pfld_0.25x")


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_corrupt_files_give_one_line(tmp_path, suffix):
    path = tmp_path / f"junk{suffix}"
    path.write_bytes(b"\x00garbage" * 50)
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_pickled_objects_are_never_loaded(tmp_path):
    buffer = io.BytesIO()
    torch.save({"model_name": "pfld_0.25x", "model": {}, "payload": ModelFileError("x")}, buffer)
    path = tmp_path / "evil.pt"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(ModelFileError, match="not a readable checkpoint"):
        load_checkpoint(path)


def test_plain_state_dict_is_not_an_edgekit_checkpoint(pfld, tmp_path):
    path = tmp_path / "plain.pt"
    torch.save(pfld.state_dict(), path)
    with pytest.raises(ModelFileError, match="not an edgekit checkpoint"):
        load_model(path)


def test_registered_name_without_shipped_weights(monkeypatch, tmp_path):
    monkeypatch.setattr("edgekit.models.weights.WEIGHTS_DIR", tmp_path)
    with pytest.raises(ModelFileError, match="no shipped weights"):
        load_model("pfld_1x")
    with pytest.raises(ModelFileError, match="not a registered model name"):
        load_model("no_such_model")


def _weights_with(tmp_path, pfld, tensors: dict | None = None, **metadata: str):
    """pfld's weights with ``tensors`` replaced and metadata entries replaced (None: removed)."""
    from safetensors.torch import save

    state = {k: v.detach().contiguous().clone() for k, v in pfld.state_dict().items()}
    meta = {"edgekit.format": "1", "edgekit.model": "pfld_0.25x", "edgekit.model_args": "{}",
            "edgekit.spec": json.dumps(pfld.spec.to_dict())}
    meta.update({k.replace("_", ".", 1): v for k, v in metadata.items()})
    path = tmp_path / "w.safetensors"
    path.write_bytes(save({**state, **(tensors or {})}, metadata={k: v for k, v in meta.items() if v is not None}))
    return path


@pytest.mark.parametrize("metadata, problem", [
    ({"edgekit_spec": None}, "no 'edgekit.spec' metadata"),
    ({"edgekit_spec": "{oops"}, "'edgekit.spec' metadata is not valid JSON (JSONDecodeError)"),
    ({"edgekit_spec": '"a string"'}, "'edgekit.spec' metadata is a JSON str, not a dict"),
    ({"edgekit_spec": '{"name": "x"}'}, "invalid 'edgekit.spec' metadata (missing key 'task' in model)"),
    ({"edgekit_model_args": "[1]"}, "'edgekit.model_args' metadata is a JSON list, not a dict"),
    ({"edgekit_model_args": '{"depth": 3}'}, "unexpected keyword argument 'depth'"),
    ({"edgekit_model_args": '{"width": [1, 2]}'}, "model_args.width is [1, 2]"),
])
def test_malformed_weights_metadata_is_one_line(pfld, tmp_path, metadata, problem):
    path = _weights_with(tmp_path, pfld, **metadata)
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    assert str(info.value).startswith(f"{path}: ") and problem in str(info.value)


@pytest.mark.parametrize("dtype", [torch.int32, torch.complex64, torch.float64])
def test_parameters_of_foreign_dtypes_are_refused(pfld, tmp_path, dtype):
    path = _weights_with(tmp_path, pfld, {"fc.weight": pfld.state_dict()["fc.weight"].to(dtype)})
    with pytest.raises(ModelFileError, match=f"tensor 'fc.weight' is {dtype}, model pfld_0.25x has torch.float32"):
        load_model(path)


def test_bfloat16_weights_and_int64_buffers_load(pfld, tmp_path):
    state = pfld.state_dict()
    path = _weights_with(tmp_path, pfld, {"fc.weight": state["fc.weight"].bfloat16()})
    loaded = load_model(path).state_dict()
    assert loaded["fc.weight"].dtype == torch.float32
    assert torch.equal(loaded["fc.weight"], state["fc.weight"].bfloat16().float())
    assert loaded["stem.0.1.num_batches_tracked"].dtype == torch.int64
    with pytest.raises(ModelFileError, match="tensor 'stem.0.1.num_batches_tracked' is torch.int32"):
        load_model(_weights_with(tmp_path, pfld, {"stem.0.1.num_batches_tracked": torch.tensor(0, dtype=torch.int32)}))


def test_unknown_model_arguments_are_a_spec_error():
    from edgekit.errors import SpecError

    with pytest.raises(SpecError, match=r"pfld_0.25x cannot be built with these model_args \(TypeError: .*'wdth'"):
        build_model("pfld_0.25x", {"wdth": 0.5})
    with pytest.raises(SpecError, match="model_args.width is nan"):
        build_model("pipnet_mbv2", {"width": float("nan")})


def test_a_stored_spec_that_decodes_otherwise_is_refused(pfld, tmp_path):
    saved = save_weights(pfld, tmp_path / "saved.safetensors")
    assert load_model(saved).spec == pfld.spec
    other_scheme = json.dumps({**pfld.spec.to_dict(), "scheme": "wflw98"})
    with pytest.raises(ModelFileError, match=r"w.safetensors: the spec saved with the weights differs from model "
                                             r"pfld_0.25x's in scheme: weights of an older pfld_0.25x\?"):
        load_model(_weights_with(tmp_path, pfld, edgekit_spec=other_scheme))
    spec = pfld.spec.to_dict()
    other_mean = json.dumps({**spec, "preprocess": {**spec["preprocess"], "mean": [0.5, 0.5, 0.5]}})
    with pytest.raises(ModelFileError, match="differs from model pfld_0.25x's in preprocess"):
        load_model(_weights_with(tmp_path, pfld, edgekit_spec=other_mean))


def test_detector_framing_and_description_follow_the_code(pfld):
    spec = pfld.spec
    older = dataclasses.replace(spec, description="old words", preprocess=dataclasses.replace(
        spec.preprocess, detector_box_scale=1.2, detector_box_shift_y=0.08))  # as fsanet's shipped file
    check_stored_spec(older, spec, "w.safetensors")  # no error
    other_head = dataclasses.replace(spec, head=dataclasses.replace(spec.head, params=RegressionParams(5)))
    with pytest.raises(ModelFileError, match="in head"):
        check_stored_spec(other_head, spec, "w.safetensors")


def test_heatmap_weights_written_before_dark_decode_with_it_now():
    built = build_model("mobilefan_nokd").spec
    assert built.head.kind == "heatmap_dark" and built.head.params.sigma == 1.5
    older = dataclasses.replace(built, head=HeadSpec("heatmap_argmax", ("heatmaps",), HeatmapParams(68, 4)))
    check_stored_spec(older, built, "w.safetensors")  # the same maps: the decode follows the code
    for params in (HeatmapParams(68, 8), HeatmapParams(98, 4)):  # maps of another stride or count are another net
        with pytest.raises(ModelFileError, match="in head"):
            check_stored_spec(dataclasses.replace(older, head=HeadSpec("heatmap_argmax", ("heatmaps",), params)),
                              built, "w.safetensors")


def test_shipped_weights_hold_their_models_spec():
    model = load_model("fsanet")  # stored before the detector framing was retuned, with a flat 0.1 head
    assert shipped_weights("fsanet").is_file() and model.spec.head.kind == "ssr"
