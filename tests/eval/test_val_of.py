"""``edgekit eval --val-of RECIPE`` evaluates exactly the recipe's validation faces, never its training faces."""
from edgekit.eval.evaluate import evaluate
from edgekit.registry import create_model
from edgekit.recipe import load_recipe
from edgekit.data.selection import load_samples


def test_val_of_is_the_recipe_split_and_disjoint_from_train(shared_data):
    recipe = load_recipe("fsanet")
    spec = create_model("fsanet").spec
    train = load_samples(recipe.data.train, spec, recipe.data.max_pose_deg)
    val = load_samples(recipe.data.val, spec, recipe.data.max_pose_deg)
    assert not {s.image_path for s in train} & {s.image_path for s in val}
    assert len(val) == round(0.2 * (len(train) + len(val)))
    report = evaluate("fsanet", val_of="fsanet", limit=8)
    assert report["count"] == 8 and "val of fsanet" in report["data"]
    assert 0.0 < report["mae"] < 30.0
