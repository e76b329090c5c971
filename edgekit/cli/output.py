"""What a verb prints: ``--json`` (one JSON object on stdout and nothing else there, or ``--json FILE``) and the
progress flags every verb shares.

With ``--json`` and no FILE the verb's human lines (tables, logs) go to stderr for the whole run and ``emit``
writes the one result object to the real stdout; progress bars are off. A FILE must end in ``.json``: so
``edgekit profile --json model.onnx`` is refused instead of writing over the model."""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

STDOUT = "-"  # --json with no FILE


@dataclass
class _Results:
    """One verb run's result: the stream it goes to under --json (the real stdout), and whether it was written."""

    stream: TextIO
    emitted: bool = False


_RESULTS: ContextVar[_Results | None] = ContextVar("edgekit_results", default=None)


def add_json_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--json", nargs="?", const=STDOUT, metavar="FILE.json",
                        help=f"{what} as one JSON object on stdout (human lines go to stderr), or written to "
                             "FILE.json when given")


def add_progress_flags(parser: argparse.ArgumentParser) -> None:
    """--progress / --no-progress, unless the verb defines its own (``train --no-progress``)."""
    known = parser._option_string_actions  # noqa: SLF001 - argparse offers no public lookup
    shown = parser.add_mutually_exclusive_group()
    if "--progress" not in known:
        shown.add_argument("--progress", dest="progress", action="store_const", const=True, default=None,
                           help="progress bars on stderr even when it is not a terminal")
    if "--no-progress" not in known:
        shown.add_argument("--no-progress", dest="progress", action="store_const", const=False,
                           help="no progress bars")


def json_to_stdout(args: argparse.Namespace) -> bool:
    return getattr(args, "json", None) == STDOUT


def json_file(args: argparse.Namespace) -> str | None:
    """The FILE of ``--json FILE``; None for no --json, --json alone, or a verb whose --json is a plain switch."""
    value = getattr(args, "json", None)
    return value if isinstance(value, str) and value != STDOUT else None


def check_json_file(args: argparse.Namespace, inputs: tuple[str | Path, ...] = ()) -> None:
    """Refuse (one line) a --json FILE that cannot be written, before any work."""
    from edgekit.outputs import check_output_file

    if json_file(args):
        check_output_file(json_file(args), "--json", suffixes=(".json",), inputs=inputs)


def progress_wanted(args: argparse.Namespace) -> bool | None:
    """False under --json on stdout (or a JSON-lines switch) and --no-progress; True for --progress; else None:
    on a terminal only."""
    if json_to_stdout(args) or getattr(args, "json", None) is True or getattr(args, "no_progress", False):
        return False
    return getattr(args, "progress", None)


def run_verb(module, args: argparse.Namespace) -> int:
    """``module.run(args)`` with the progress setting; under --json every print goes to stderr, and a verb that
    ends without emitting its record still leaves one object: ``{"verb": ..., "exit_code": ...}``."""
    from edgekit.progress import progress_setting

    check_json_file(args)  # a verb checks its own FILE against its inputs too; this covers every other verb
    with progress_setting(progress_wanted(args)), contextlib.ExitStack() as stack:
        results = _Results(sys.stdout)
        stack.callback(_RESULTS.reset, _RESULTS.set(results))
        if json_to_stdout(args):
            stack.enter_context(contextlib.redirect_stdout(sys.stderr))
        code = int(module.run(args) or 0)
        if not results.emitted:
            emit(args, {"verb": args.verb, "exit_code": code})
    return code


def emit(args: argparse.Namespace, record: dict) -> None:
    """The verb's result: one JSON object on stdout under --json, written atomically to --json FILE, else
    nothing (the verb printed its human form)."""
    results = _RESULTS.get() or _Results(sys.stdout)
    text = json.dumps(_strict(record), default=str, allow_nan=False)  # Paths and other plain values as strings
    if json_to_stdout(args):
        results.stream.write(text + "\n")
        results.stream.flush()
    elif json_file(args):
        from edgekit.atomic import atomic_write_json

        atomic_write_json(json_file(args), json.loads(text))
    results.emitted = True


def _strict(value):
    """``value`` with every NaN or infinity as None: strict JSON has neither (a file that did not run)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _strict(item) for key, item in value.items()}
    return [_strict(item) for item in value] if isinstance(value, (list, tuple)) else value
