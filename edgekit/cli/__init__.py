"""``edgekit VERB``: one module per verb in this package, each with ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``. User errors (EdgekitError) print one line and exit 2; no traceback reaches the user."""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys

# verb -> module in edgekit.cli; a verb whose module is absent is simply not offered
VERBS = {
    "list": "list_verb",
    "data": "data_verb",
    "train": "train_verb",
    "eval": "eval_verb",
    "export": "export_verb",
    "build": "build_verb",
    "predict": "predict_verb",
    "profile": "profile_verb",
    "demo": "demo_verb",
}


def _available_verbs() -> dict[str, str]:
    return {verb: mod for verb, mod in VERBS.items() if importlib.util.find_spec(f"edgekit.cli.{mod}")}


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    parser = argparse.ArgumentParser(prog="edgekit", description="Face landmark and head-pose models to the edge.")
    parser.add_argument("--version", action="version", version=f"edgekit {_version()}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    modules = {}
    for verb, mod_name in _available_verbs().items():
        module = importlib.import_module(f"edgekit.cli.{mod_name}")
        verb_parser = sub.add_parser(verb, help=module.HELP, description=module.HELP)
        module.add_arguments(verb_parser)
        modules[verb] = module
    return parser, modules


def _version() -> str:
    from edgekit import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    from edgekit.errors import EdgekitError

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # LiteRT / absl chatter
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    if not args.verb:
        parser.print_help()
        return 2
    try:
        return int(modules[args.verb].run(args) or 0)
    except EdgekitError as exc:
        print(f"edgekit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("edgekit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def entry() -> None:
    sys.exit(main())
