"""``edgekit VERB``: one module per verb in this package, each with ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``. No traceback reaches the user:

- a user error (EdgekitError, a bad flag) prints ``edgekit: error: ...`` and exits 2;
- the machine refusing (a full disk, a read-only folder: OSError of those kinds) prints one line and exits 2;
- running out of memory (MemoryError) prints one line and exits 2: the input was too big for this machine;
- anything else is a bug in edgekit: one line ``edgekit: internal error: ...`` and exit 70 (EX_SOFTWARE);
  ``edgekit --debug VERB ...`` (or ``VERB ... --debug``) prints the traceback instead.

Warnings (Python's, numpy's floating-point ones) are silenced for the run unless --debug.
"""
from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import importlib.util
import os
import sys
import warnings

from edgekit.cli.args import OneLineParser
from edgekit.cli.output import add_json_flag, add_progress_flags, run_verb

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
    "completion": "completion_verb",
}


def _available_verbs() -> dict[str, str]:
    return {verb: mod for verb, mod in VERBS.items() if importlib.util.find_spec(f"edgekit.cli.{mod}")}


EXIT_USER = 2  # a user error, one line
EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug in edgekit
ENVIRONMENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM,
                                errno.ENAMETOOLONG, errno.ENOTDIR, errno.EISDIR, errno.ELOOP, errno.EIO})
DEBUG_HELP = "on an internal error, print the traceback (for a bug report)"


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    parser = OneLineParser(prog="edgekit", description="Face landmark and head-pose models to the edge.")
    parser.add_argument("--version", action="version", version=f"edgekit {_version()}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    modules = {}
    for verb, mod_name in _available_verbs().items():
        module = importlib.import_module(f"edgekit.cli.{mod_name}")
        verb_parser = sub.add_parser(verb, help=module.HELP, description=module.HELP)
        module.add_arguments(verb_parser)
        verb_parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
        add_progress_flags(verb_parser)
        if "--json" not in verb_parser._option_string_actions and verb_parser._subparsers is None:  # noqa: SLF001
            add_json_flag(verb_parser, "the result")
        modules[verb] = module
    return parser, modules


def _version() -> str:
    from edgekit import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    """Run one verb; returns the exit code. argparse exits (SystemExit) for --help, --version and a bad flag."""
    from edgekit.atomic import remove_stale_work_dirs

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # LiteRT / absl chatter
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    if not args.verb:
        parser.print_help()
        return EXIT_USER
    remove_stale_work_dirs()  # scratch folders of edgekit processes that were killed
    with _quiet(args.debug):
        return _guarded(modules[args.verb], args)


@contextlib.contextmanager
def _quiet(debug: bool):
    """No Python or numpy warning reaches the user (nor a profile worker's: PYTHONWARNINGS is inherited)."""
    if debug:
        yield
        return
    import numpy as np

    inherited = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = "ignore"
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            yield
    finally:
        if inherited is None:
            os.environ.pop("PYTHONWARNINGS", None)
        else:
            os.environ["PYTHONWARNINGS"] = inherited


def _guarded(module, args: argparse.Namespace) -> int:
    """``module.run(args)`` with every exception turned into one line and an exit code (see the module doc)."""
    from edgekit.errors import MAX_MESSAGE, EdgekitError, printable

    try:
        return run_verb(module, args)
    except EdgekitError as exc:
        return _error(f"edgekit: error: {exc}", EXIT_USER)
    except KeyboardInterrupt:
        return _error("edgekit: interrupted", 130)
    except BrokenPipeError:
        return 0
    except MemoryError:
        return _error("edgekit: error: out of memory: the input or --batch is too large for this machine", EXIT_USER)
    except OSError as exc:
        if exc.errno not in ENVIRONMENT_ERRNOS:
            return _internal(exc, args.debug)
        where = printable(str(exc.filename), MAX_MESSAGE) + ": " if exc.filename else ""
        return _error(f"edgekit: error: {where}{printable(exc.strerror or str(exc), MAX_MESSAGE)}", EXIT_USER)
    except Exception as exc:  # noqa: BLE001 - the last guard: a bug, reported as one line
        return _internal(exc, args.debug)


def _internal(exc: Exception, debug: bool) -> int:
    from edgekit.errors import MAX_MESSAGE, printable

    if debug:
        import traceback

        traceback.print_exc()
    detail = printable(" ".join(str(exc).split()), MAX_MESSAGE)
    hint = "" if debug else "; run with --debug for the traceback"
    return _error(f"edgekit: internal error: {type(exc).__name__}: {detail} (a bug in edgekit{hint})", EXIT_INTERNAL)


def _error(line: str, code: int) -> int:
    print(line, file=sys.stderr, flush=True)
    return code


def entry() -> None:
    sys.exit(main())
