"""``edgekit list``: registered models and known targets."""
from __future__ import annotations

import argparse

HELP = "List the registered models and the known targets."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", nargs="?", choices=["models", "targets", "all"], default="all")


def run(args: argparse.Namespace) -> int:
    from edgekit.errors import EdgekitError
    from edgekit.paths import list_names

    if args.what in ("models", "all"):
        from edgekit.registry import create_model, list_models

        try:
            names = list_models()
        except EdgekitError as exc:
            print(f"models: unavailable ({exc})")
        else:
            print("models:")
            for name in names:
                spec = create_model(name).spec
                w, h = spec.preprocess.input_size
                print(f"  {name:<20} {spec.task:<9} {w}x{h}  {spec.head.decode:<18} {spec.description}")
    if args.what in ("targets", "all"):
        from edgekit.specs import load_target

        print("targets:")
        for name in list_names("targets"):
            target = load_target(name)
            print(f"  {name:<22} {target.runtime:<11} {target.description}")
    return 0
