"""What the annotation readers (readers.py, matlab.py) share: strict numbers, short escaped quotes, the guard
that turns every parse failure of a malformed file into one DataError naming it, and Sample helpers."""
from __future__ import annotations

import csv
import functools
import json
import re
import struct
import zlib
from pathlib import Path

import numpy as np

from edgekit.data.images import find_image
from edgekit.data.schemes import scheme_for_count
from edgekit.errors import DataError

MAX_COORDINATE = 1e7  # px: far outside any image edgekit decodes (MAX_PIXELS); float32 still holds it to 1 px
EXCERPT_CHARS = 24  # the most of a user's file an error message quotes (the file may be anything: /etc/passwd)
# A plain decimal number, or nan / inf (refused later with their own message). Python's float() also takes
# "1_000", " 1 " and non-ASCII digits ("١٢"): no annotation tool writes those, so they are refused.
# Written so that no input backtracks more than linearly (a 2 MB digit run is one token of a hostile file).
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:nan|inf|infinity)",
                     re.ASCII | re.IGNORECASE)
MAX_NUMBER_CHARS = 64  # no written coordinate is longer
_COUNT = re.compile(r"\d{1,9}", re.ASCII)

# What parsing a malformed file can raise in json, csv, numpy, scipy.io and zlib (a hostile file reaches each
# of them): named here so a bug of edgekit's own (NameError, AssertionError, ...) is not hidden as bad data.
# FloatingPointError: readers run with numpy's overflow / invalid / divide warnings raised, so none reaches stderr.
PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, FloatingPointError,
                RecursionError, MemoryError, EOFError, OSError, csv.Error, zlib.error, struct.error)
_WHY = {RecursionError: "nested too deeply", MemoryError: "too large to load", UnicodeDecodeError: "not UTF-8 text",
        json.JSONDecodeError: "not valid JSON", EOFError: "truncated file", zlib.error: "corrupt compressed data",
        OverflowError: "a number too large to use"}


def excerpt(text: str) -> str:
    """A short quote of user content for a message: at most EXCERPT_CHARS characters, non-printables escaped."""
    return repr(text[:EXCERPT_CHARS]) + ("..." if len(text) > EXCERPT_CHARS else "")


def describe_failure(exc: BaseException) -> str:
    """Why a file could not be parsed, from the exception's class only (its text may quote the file)."""
    for kind, why in _WHY.items():
        if isinstance(exc, kind):
            return why
    if isinstance(exc, OSError):  # scipy raises OSError without an errno for a stream that ends too soon
        return f"cannot read ({exc.strerror})" if exc.strerror else "truncated or corrupt file"
    if isinstance(exc, csv.Error):  # the csv module's messages describe the syntax, never quote the data
        return f"malformed CSV ({' '.join(str(exc).split())[:80]})"
    return f"malformed content ({exc.__class__.__name__})"


def fails_closed(reader):
    """Wrap ``reader(path, ...)`` so that any parse failure becomes DataError(path) (DataErrors pass as they are)."""

    @functools.wraps(reader)
    def read(path, *args, **kwargs):
        try:
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                return reader(path, *args, **kwargs)
        except PARSE_ERRORS as exc:
            raise DataError(describe_failure(exc), path) from None

    return read


def read_text(path: Path) -> str:
    """A UTF-8 text file; a leading byte-order mark is dropped (Windows editors write one)."""
    return Path(path).read_bytes().decode("utf-8-sig")


def load_json(path: Path):
    """The parsed JSON document of ``path`` (UnicodeDecodeError, JSONDecodeError, RecursionError propagate)."""
    return json.loads(read_text(path))


def number(token: str, path: Path, where: str) -> float:
    """One plain decimal number (see _NUMBER); DataError quoting a short excerpt otherwise."""
    if len(token) > MAX_NUMBER_CHARS or not _NUMBER.fullmatch(token):
        raise DataError(f"{where}: {excerpt(token)} is not a number", path)
    return float(token)


def count(token: str, path: Path, where: str) -> int:
    """A non-negative decimal integer (a count: n_points), ASCII digits only."""
    token = token.strip()
    if not _COUNT.fullmatch(token):
        raise DataError(f"{where}: {excerpt(token)} is not a count", path)
    return int(token)


def json_numbers(values, path: Path, what: str) -> np.ndarray:
    """float64 (N,) from a JSON list of numbers; strings, booleans, null and nested lists are refused."""
    if not isinstance(values, list) or not all(type(v) in (int, float) for v in values):
        raise DataError(f"{what}: expected a list of numbers", path)
    return np.array(values, dtype=np.float64)


_KINDS = {"c": "complex numbers", "U": "text", "S": "text", "O": "a cell array or struct", "V": "a struct",
          "b": "logical values"}


def real_array(value, path: Path, what: str) -> np.ndarray:
    """float64 array of a MATLAB variable holding real numbers; text, complex, cells and structs are refused."""
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise DataError(f"'{what}' holds {_KINDS.get(array.dtype.kind, array.dtype.name)}, expected numbers", path)
    return array.astype(np.float64)


def finite_points(values: np.ndarray, path: Path, what: str) -> np.ndarray:
    """(N, 2) float32 from a flat float64 array x0 y0 x1 y1 ...; DataError on an odd count, NaN / inf or a
    coordinate beyond MAX_COORDINATE (float32 would round it, or overflow to inf)."""
    if values.size % 2:
        raise DataError(f"{what}: {values.size} coordinates, not x/y pairs", path)
    points = values.reshape(-1, 2)
    if not np.isfinite(points).all():
        raise DataError(f"{what}: NaN or infinite coordinate", path)
    if points.size and np.abs(points).max() > MAX_COORDINATE:
        raise DataError(f"{what}: coordinate beyond {MAX_COORDINATE:g} px", path)
    return points.astype(np.float32)


def scheme_name(points: np.ndarray) -> str | None:
    scheme = scheme_for_count(len(points))
    return scheme.name if scheme else None


def image_beside(path: Path, image_path: Path | None) -> Path:
    """The image given, the one found beside ``path``, or the expected ``<stem>.jpg`` (the scan reports it missing)."""
    return image_path or find_image(path) or path.with_suffix(".jpg")
