"""Hopenet's input resolution is a model argument (the paper trains at 224; the zoo ships 112)."""
import pytest
import torch

from edgekit.registry import create_model


@pytest.mark.parametrize("size", [112, 224])
def test_input_size_sets_spec_and_runs(size):
    model = create_model("hopenet_mbv2", input_size=size).eval()
    assert model.spec.preprocess.input_size == (size, size)
    with torch.no_grad():
        (bins,) = model(torch.zeros(1, 3, size, size))
    assert bins.shape == (1, 3, 66)


def test_unsupported_input_size_is_refused():
    with pytest.raises(ValueError, match="input_size must be 112, 160 or 224, got 100"):
        create_model("hopenet_mbv2", input_size=100)
