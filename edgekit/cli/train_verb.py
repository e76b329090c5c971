"""``edgekit train RECIPE``: train a registered model per a recipe (path, or name in recipes/)."""
from __future__ import annotations

import argparse

HELP = "Train a model from a recipe (YAML path or a name in recipes/); writes best/last checkpoints and log.csv."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="recipe YAML path, or the name of one in recipes/ (e.g. pfld_0.25x)")
    parser.add_argument("--data", help="training folder (replaces the recipe's data.train path)")
    parser.add_argument("--val", help="validation folder (replaces the recipe's data.val path)")
    parser.add_argument("--epochs", type=int, help="number of epochs (replaces optim.epochs)")
    parser.add_argument("--out", help="run folder (default: the recipe's out, else runs/MODEL)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    parser.add_argument("--max-samples", type=int, help="use only the first N train and val faces (smoke runs)")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from edgekit.errors import SpecError
    from edgekit.train.recipe import load_recipe, with_overrides

    for flag in ("epochs", "max_samples", "threads"):
        value = getattr(args, flag)
        if value is not None and value <= 0:
            raise SpecError(f"--{flag.replace('_', '-')} must be positive, got {value}")
    recipe = with_overrides(load_recipe(args.recipe), train=args.data, val=args.val, epochs=args.epochs,
                            out=args.out, max_samples=args.max_samples)
    from edgekit.train.loop import train  # torch: only once the recipe is known to be valid

    result = train(recipe, resume=args.resume, threads=args.threads, progress=not args.no_progress)
    if result["rank"] == 0:
        print(f"best val {result['metric']} {result['best']:.4f} at epoch {result['best_epoch']}; "
              f"weights: {result['out']}/best.safetensors")
    return 0
