"""benchmarks/loss_compare.py: which losses each model is compared on, the validation data named in every row.
(The training runs themselves go through `edgekit train`, tested in tests/train.)"""
from __future__ import annotations

import argparse
import sys

from edgekit.paths import PROJECT_DIR
from edgekit.recipe import recipe_from_dict

sys.path.insert(0, str(PROJECT_DIR / "benchmarks"))
from loss_compare import LossRun, losses_for, markdown, val_name  # noqa: E402


def test_each_model_is_compared_on_its_own_losses_default_first():
    assert losses_for("pfld_0.25x") == ("l2", "wing")
    assert losses_for("mobilefan_nokd") == ("mse", "adaptive_wing")
    assert losses_for("hourglass2") == ("mse", "adaptive_wing")


def test_rows_name_the_validation_data():
    split = {"val_fraction": 0.1, "part": "val", "by": "photo"}
    recipe = recipe_from_dict({"model": "pfld_0.25x", "data": {"train": {"path": "a"},
                                                               "val": {"path": "../x/300w", "split": split}}})
    val = val_name(recipe, 64)
    assert val == "../x/300w (val 0.1 by photo), first 64"
    assert val_name(recipe_from_dict({"model": "m", "data": {"train": {"path": "a"}, "val": {"path": "v"}}}),
                    None) == "v"  # fmt: skip
    page = markdown([LossRun("pfld_0.25x", "wing", 2, val, 5.4321, 2, 30.0)],
                    argparse.Namespace(epochs=2, threads=1))  # fmt: skip
    assert f"| pfld_0.25x | wing | 2 | {val} | 5.432 | 2 | 30 |" in page.splitlines()
