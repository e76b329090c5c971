"""Shared argparse pieces for every verb: a parser whose errors are one line, and flag types that refuse bad
values (non-positive counts, non-finite boxes, sizes beyond what the machine can hold) before any work starts."""
from __future__ import annotations

import argparse
import math
import os
import re
import sys

from edgekit.errors import MAX_MESSAGE, printable

MAX_THREADS = 1024
MAX_BATCH = 4096  # faces per call: far beyond any edge use; the memory check below usually binds first
MAX_RUNS = 100_000
MAX_COORDINATE = 1e6  # image pixels: a box beyond this is a typo, and its arithmetic would overflow float32
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")  # plain decimal: no '1_000', no other scripts' digits, no 10**5000


class OneLineParser(argparse.ArgumentParser):
    """``edgekit: error: <problem>`` and exit 2: a bad flag is one line, like every other user error (the usage
    stays one ``--help`` away). Sub-parsers are made of the same class."""

    def error(self, message: str):
        sys.stderr.write(f"edgekit: error: {printable(message, MAX_MESSAGE)} (see {self.prog} --help)\n")
        sys.exit(2)

    def _check_value(self, action: argparse.Action, value) -> None:
        """argparse's 'invalid choice' (a verb, ``list WHAT``, ``--peer``), with the closest choices first."""
        from edgekit.suggest import did_you_mean

        if action.choices is not None and value not in action.choices:
            hint = did_you_mean(str(value), map(str, action.choices))
            raise argparse.ArgumentError(action, f"invalid choice: {_quoted(str(value))}{hint} (choose from "
                                                 f"{', '.join(map(str, action.choices))})")


def _integer(text: str) -> int:
    if not _INTEGER.fullmatch(text.strip()):
        raise argparse.ArgumentTypeError(f"expected an integer, got {_quoted(text)}")
    return int(text)


def _quoted(text: str) -> str:
    return f"'{printable(text, 40)}'"


def bounded_int(low: int, high: int | None = None):
    """An argparse type: an integer in [low, high]."""
    def parse(text: str) -> int:
        value = _integer(text)
        if value < low or (high is not None and value > high):
            span = f"at least {low}" if high is None else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"must be {'positive, ' if low == 1 else ''}{span}, got {_quoted(text)}")
        return value

    parse.__name__ = "integer"
    return parse


positive_int = bounded_int(1)
threads = bounded_int(1, MAX_THREADS)
batch_size = bounded_int(1, MAX_BATCH)
runs = bounded_int(1, MAX_RUNS)
warmup = bounded_int(0, MAX_RUNS)


def int_list(high: int):
    """An argparse type: comma-separated integers from 1 to ``high`` (e.g. ``1,2,4``)."""
    one = bounded_int(1, high)

    def parse(text: str) -> tuple[int, ...]:
        values = tuple(one(v) for v in text.split(",") if v.strip())
        if not values:
            raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {_quoted(text)}")
        return values

    parse.__name__ = "integer list"
    return parse


def box_corners(text: str) -> tuple[float, float, float, float]:
    """x0,y0,x1,y1: four finite numbers (image pixels) with x1 > x0 and y1 > y0."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) and abs(v) <= MAX_COORDINATE for v in values) \
            or values[2] <= values[0] or values[3] <= values[1]:
        raise argparse.ArgumentTypeError(f"a face box is four finite numbers x0,y0,x1,y1 (pixels, at most "
                                         f"{MAX_COORDINATE:g}) with x1 > x0 and y1 > y0, got {_quoted(text)}")
    return values


def detector_choice(text: str) -> str:
    """A registered detector (``name`` or ``name:arg``) or ``package.module:callable``; its existence is checked
    when it is built (``edgekit.runtime.detect.get_detector``)."""
    from edgekit.runtime.detect import list_detectors

    name, _, arg = text.partition(":")
    dotted = re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+", name) and re.fullmatch(r"[A-Za-z_]\w*", arg)
    if name not in list_detectors() and not dotted:
        raise argparse.ArgumentTypeError(f"unknown face detector {_quoted(text)} (known: "
                                         f"{', '.join(list_detectors())}, or package.module:callable)")
    return text


def available_memory() -> int:
    """Bytes this machine can still hand out: MemAvailable of /proc/meminfo, else free pages x page size."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return 1 << 62  # unknown: only the hard caps apply


def check_memory(need: int, what: str) -> None:
    """Refuse (one line) before allocating ``need`` bytes that the machine does not have."""
    from edgekit.errors import EdgekitError

    have = available_memory()
    if need > have:
        raise EdgekitError(f"{what} needs about {need / 2**30:.1f} GiB, more than the {have / 2**30:.1f} GiB "
                           "this machine has available")
