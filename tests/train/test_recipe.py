from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.errors import SpecError
from edgekit.paths import PROJECT_DIR
from edgekit.train.recipe import DatasetConfig, load_recipe, recipe_from_dict, resolve_path, with_overrides

RECIPES = sorted((PROJECT_DIR / "recipes").glob("*.yaml"))


def test_unknown_key_names_key_and_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model: pfld_0.25x\ndata: {train: {path: a}, val: {path: b}}\noptim: {lr: 0.1, epoch: 3}\n")
    with pytest.raises(SpecError) as info:
        load_recipe(path)
    message = str(info.value)
    assert str(path) in message and "'epoch'" in message and "optim" in message
    assert "\n" not in message


def test_wrong_type_is_an_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model: pfld_0.25x\ndata: {train: {path: a}, val: {path: b}}\noptim: {schedule: linear}\n")
    with pytest.raises(SpecError, match="optim.schedule"):
        load_recipe(path)


def test_one_recipe_per_registered_model():
    from edgekit.registry import list_models

    assert sorted(p.stem for p in RECIPES) == list_models()


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_shipped_recipes_load_with_relative_data(path):
    recipe = load_recipe(path)
    assert recipe.model == path.stem
    for config in (recipe.data.train, recipe.data.val):
        assert not Path(config.path).is_absolute()
        assert config.path.startswith("../shared/data/")
        assert resolve_path(config.path) == (PROJECT_DIR.parent / config.path[3:]).resolve()


def test_pose_recipes_split_one_folder_disjointly():
    recipe = load_recipe("fsanet")
    assert recipe.data.train.path == recipe.data.val.path
    assert (recipe.data.train.split.part, recipe.data.val.split.part) == ("train", "val")
    assert recipe.data.train.split.val_fraction == recipe.data.val.split.val_fraction == 0.2


def test_overrides_move_a_split_folder_and_cap_samples():
    recipe = load_recipe("fsanet")
    changed = with_overrides(recipe, train="x/faces", epochs=3, max_samples=7, out="o")
    assert changed.data.train.path == changed.data.val.path == "x/faces"
    assert changed.data.val.split.part == "val"  # the split survives
    assert (changed.optim.epochs, changed.data.train.max_samples, changed.data.val.max_samples) == (3, 7, 7)
    assert changed.out_dir == Path("o") and recipe.optim.epochs == 90


def test_default_out_and_round_trip():
    recipe = recipe_from_dict({"model": "fsanet", "data": {"train": {"path": "a"}, "val": {"path": "b"}},
                               "model_args": {"width": 0.5, "flag": True}})
    assert recipe.out_dir == Path("runs/fsanet")
    assert recipe.model_args == {"width": 0.5, "flag": True}
    assert recipe_from_dict(recipe.to_dict()) == recipe


def test_resolve_path_prefers_existing_relative_to_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "here").mkdir()
    assert resolve_path("here") == tmp_path / "here"
    assert resolve_path("../shared/x") == (PROJECT_DIR / "../shared/x").resolve()
    assert DatasetConfig("/abs/p").resolved() == Path("/abs/p")
