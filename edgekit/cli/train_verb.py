"""``edgekit train RECIPE``: train a registered model per a recipe (path, or name in recipes/)."""
from __future__ import annotations

import argparse

from edgekit.cli import args as types
from edgekit.cli.output import add_json_flag, emit, progress_wanted

HELP = "Train a model from a recipe (YAML path or a name in recipes/); writes best/last checkpoints and log.csv."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="recipe YAML path, or the name of one in recipes/ (e.g. pfld_0.25x)")
    parser.add_argument("--data", help="training folder (replaces the recipe's data.train path)")
    parser.add_argument("--val", help="validation folder (replaces the recipe's data.val path)")
    parser.add_argument("--epochs", type=types.positive_int, help="number of epochs (replaces optim.epochs)")
    parser.add_argument("--out", help="run folder (default: the recipe's out, else runs/MODEL): new or empty; an "
                        "existing run needs --resume or --overwrite")
    again = parser.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue the run in OUT from OUT/last.pt")
    again.add_argument("--overwrite", action="store_true", help="start OUT's run over: removes the files a run "
                       "writes (best.pt, last.pt, best.safetensors, log.csv, recipe.yaml, tb/ events) and nothing "
                       "else; a folder holding other files is refused")
    parser.add_argument("--max-samples", type=types.positive_int, help="use only the first N train and val faces "
                        "(smoke runs)")
    parser.add_argument("--threads", type=types.threads, help="torch CPU threads")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where to train: auto "
                        "(CUDA when torch sees a GPU, with the recipe's amp), cpu, or cuda (an error without a GPU)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_json_flag(parser, "the best validation metric, its epoch and the weights' path")


def run(args: argparse.Namespace) -> int:
    from edgekit.errors import SpecError
    from edgekit.outputs import check_run_out
    from edgekit.paths import find_recipe
    from edgekit.recipe import load_recipe, with_overrides

    if args.out:
        check_run_out(args.out, args.resume, args.overwrite)  # before the recipe: a refused --out costs nothing
    recipe = with_overrides(load_recipe(args.recipe), train=args.data, val=args.val, epochs=args.epochs,
                            out=args.out, max_samples=args.max_samples)
    check_run_out(recipe.out_dir, args.resume, args.overwrite)
    from edgekit.train.loop import train  # torch: only once the recipe and the run folder are known to be valid

    try:
        result = train(recipe, resume=args.resume, threads=args.threads, progress=progress_wanted(args) is not False,
                       overwrite=args.overwrite, device=args.device)
    except SpecError as exc:  # parts of the recipe that do not fit together (its loss, its teacher): name it
        raise exc.at(find_recipe(args.recipe)) from None
    if result["rank"] == 0:
        weights = f"{result['out']}/best.safetensors"
        print(f"best val {result['metric']} {result['best']:.4f} at epoch {result['best_epoch']}; weights: {weights}")
        emit(args, {"metric": result["metric"], "best": result["best"], "best_epoch": result["best_epoch"],
                    "out": str(result["out"]), "weights": weights})
    return 0
