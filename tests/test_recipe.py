from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.errors import SpecError
from edgekit.paths import PROJECT_DIR
from edgekit.recipe import DatasetConfig, load_recipe, recipe_from_dict, resolve_path, with_overrides

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


DATA = {"train": {"path": "a"}, "val": {"path": "b"}}


@pytest.mark.parametrize("changes, problem", [
    ({"seed": 2 ** 32}, "recipe: seed must be in [0, 2**32), got 4294967296"),
    ({"seed": -1}, "recipe: seed must be in [0, 2**32), got -1"),
    ({"num_workers": -1}, "recipe: num_workers must be in [0, 256], got -1"),
    ({"log_every": 0}, "recipe: log_every must be positive, got 0"),
    ({"optim": {"lr": float("nan")}}, "recipe.optim: lr must be a number in (0, 10], got nan"),
    ({"optim": {"lr": 0}}, "recipe.optim: lr must be a number in (0, 10], got 0.0"),
    ({"optim": {"weight_decay": float("inf")}}, "recipe.optim: weight_decay must be in [0, 10], got inf"),
    ({"optim": {"gamma": 0.0}}, "recipe.optim: gamma must be in (0, 1], got 0.0"),
    ({"optim": {"epochs": 10 ** 9}}, "recipe.optim: epochs must be in [1, 100000], got 1000000000"),
    ({"optim": {"batch_size": -8}}, "recipe.optim: batch_size must be in [1, 65536], got -8"),
    ({"optim": {"milestones": [10, 0]}}, "recipe.optim: milestones must be epochs in [1, 100000], got [10, 0]"),
    ({"optim": {"grad_clip": -1.0}}, "recipe.optim: grad_clip must be positive and finite, got -1.0"),
    ({"augment": {"flip_p": 1.5}}, "recipe: augment.flip_p must be in [0, 1], got 1.5"),
    ({"augment": {"scale": [1.2, 0.8]}}, "recipe: augment.scale must be (low, high) with 0.01 <= low <= high"),
    ({"augment": {"rotation_deg": float("nan")}}, "recipe: augment.rotation_deg must be in [0, 180], got nan"),
    ({"data": {**DATA, "max_pose_deg": -1.0}}, "recipe.data: max_pose_deg must be in [0, 360], got -1.0"),
    ({"data": {"train": {"path": "a", "split": {"seed": -3}}, "val": {"path": "b"}}},
     "recipe.data.train.split: seed must be in [0, 2**32), got -3"),
    ({"data": {"train": {"path": "a", "max_samples": 0}, "val": {"path": "b"}}},
     "recipe.data.train: max_samples must be positive, got 0"),
    ({"distill": {"teacher": "t", "kd_pixel": float("nan")}}, "recipe.distill: kd_pixel must be in [0, 1e6]"),
    ({"distill": {"teacher": "t", "kd_heatmap": -1.0}}, "recipe.distill: kd_heatmap must be in [0, 1e6]"),
    ({"data": {**DATA, "extra_train": [{"path": "c", "labels": False}]}},
     "recipe: data.extra_train must keep its labels without a distill section"),
    ({"data": {"train": {"path": "a"}, "val": {"path": "b", "labels": False}}},
     "recipe.data: val.labels must be true (put unlabelled faces in extra_train)"),
    ({"model_args": {"width": float("inf")}}, "recipe: model_args.width must be finite, got inf"),
])
def test_out_of_range_values_name_the_key(changes, problem):
    with pytest.raises(SpecError) as info:
        recipe_from_dict({"model": "pfld_0.25x", "data": DATA, **changes})
    assert problem in str(info.value)


def test_out_of_range_values_name_the_file(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("model: pfld_0.25x\ndata: {train: {path: a}, val: {path: b}}\noptim: {lr: .nan}\n")
    with pytest.raises(SpecError) as info:
        load_recipe(path)
    assert str(info.value) == f"{path}: Recipe.optim: lr must be a number in (0, 10], got nan"


def test_model_args_the_builder_does_not_take_name_the_recipe(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("model: pipnet_mbv2\ndata: {train: {path: a}, val: {path: b}}\nmodel_args: {widht: 0.5}\n")
    with pytest.raises(SpecError) as info:
        load_recipe(path)
    assert str(info.value).startswith(f"{path}: model pipnet_mbv2 cannot be built with these model_args")
    assert "'widht'" in str(info.value)
    path.write_text("model: pipnet_mbv2\ndata: {train: {path: a}, val: {path: b}}\nmodel_args: {width: 0.25}\n")
    assert load_recipe(path).model_args == {"width": 0.25}


def test_an_override_out_of_range_is_a_spec_error():
    with pytest.raises(SpecError, match=r"command-line override: epochs must be in \[1, 100000\]"):
        with_overrides(load_recipe("fsanet"), epochs=10 ** 7)
