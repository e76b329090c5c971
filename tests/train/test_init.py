"""``init:`` in a recipe: training starts from existing weights of the same model (fine-tuning)."""
from __future__ import annotations

import pytest
import torch

from edgekit.errors import ModelFileError
from edgekit.models.load import load_model
from edgekit.train.distributed import DistEnv
from edgekit.train.loop import build_for_training


def test_training_starts_from_the_shipped_weights(tiny_recipe):
    recipe = tiny_recipe(init="pfld_0.25x", channels_last=False)
    model = build_for_training(recipe, DistEnv())
    shipped = load_model("pfld_0.25x").state_dict()
    assert all(torch.equal(value, shipped[key]) for key, value in model.state_dict().items())


def test_weights_of_another_model_are_one_line(tiny_recipe):
    recipe = tiny_recipe(init="pfld_1x")
    with pytest.raises(ModelFileError, match="weights are for model pfld_1x, not pfld_0.25x"):
        build_for_training(recipe, DistEnv())
