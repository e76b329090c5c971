"""Strict parsing shared by the readers: numbers, quotes, and parse failures as one DataError."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from edgekit.data.parsing import excerpt, fails_closed, finite_points, json_numbers, number, real_array
from edgekit.errors import DataError

HERE = Path("annotation.txt")


@pytest.mark.parametrize("token, value", [("1", 1.0), ("-2.5", -2.5), ("+3.", 3.0), (".5", 0.5), ("1e3", 1000.0),
                                          ("-7.25E-2", -0.0725)])
def test_plain_numbers(token, value):
    assert number(token, HERE, "line 1") == value


@pytest.mark.parametrize("token", ["1_000", "\u0661\u0662", "0x10", "1e", "--1", "", "1,5", "１"])
def test_what_float_takes_but_a_file_must_not_hold(token):
    with pytest.raises(DataError, match="line 1: .* is not a number"):
        number(token, HERE, "line 1")


def test_a_huge_token_is_refused_at_once():
    start = time.perf_counter()
    with pytest.raises(DataError, match=r"'9{24}'\.\.\. is not a number"):
        number("9" * 2_000_000 + "x", HERE, "line 1")
    assert time.perf_counter() - start < 0.5


def test_excerpt_is_short_and_escaped():
    assert excerpt("a\nb\x1b[2J") == "'a\\nb\\x1b[2J'"
    assert excerpt("root:x:0:0:root:/root:/bin/bash") == "'root:x:0:0:root:/root:/b'..."


def test_fails_closed_names_the_file_and_hides_the_content():
    @fails_closed
    def parse(path):
        return json.loads(path.read_text())

    deep = Path("/nonexistent/deep.json")
    with pytest.raises(DataError, match="cannot read \\(No such file or directory\\)"):
        parse(deep)

    @fails_closed
    def overflow(path):
        return float(10 ** 400)

    with pytest.raises(DataError, match="a number too large to use") as info:
        overflow(HERE)
    assert info.value.path == str(HERE)

    @fails_closed
    def recurse(path):
        return json.loads("[" * 100_000 + "]" * 100_000)

    with pytest.raises(DataError, match="nested too deeply"):
        recurse(HERE)

    @fails_closed
    def buggy(path):
        return undefined_name  # noqa: F821 - a bug of edgekit's own is not passed off as bad data

    with pytest.raises(NameError):
        buggy(HERE)


def test_numpy_warnings_become_errors_not_stderr():
    @fails_closed
    def cast(path):
        return np.array([np.nan]).astype(np.int32)  # "invalid value encountered in cast"

    with pytest.raises(DataError, match="FloatingPointError"):
        cast(HERE)


@pytest.mark.parametrize("values", [["1", "2"], [True, False], [None], [[1, 2]], {"x": 1}, "12"])
def test_json_numbers_refuses_other_types(values):
    with pytest.raises(DataError, match="annotation 0: expected a list of numbers"):
        json_numbers(values, HERE, "annotation 0")


def test_json_numbers_and_finite_points():
    values = json_numbers([1, 2.5, 3, 4], HERE, "a")
    np.testing.assert_array_equal(finite_points(values, HERE, "a"), [[1, 2.5], [3, 4]])
    for bad, message in (([1, 2, 3], "3 coordinates, not x/y pairs"), ([1, float("inf")], "NaN or infinite"),
                         ([1e30, 1], "beyond 1e\\+07 px")):
        with pytest.raises(DataError, match=message):
            finite_points(np.array(bad, dtype=float), HERE, "a")


@pytest.mark.parametrize("value, kind", [(np.array([1j]), "complex numbers"), (np.array(["ab"]), "text"),
                                         (np.array([None], dtype=object), "a cell array or struct"),
                                         (np.array([True]), "logical values")])
def test_real_array_refuses_other_kinds(value, kind):
    with pytest.raises(DataError, match=f"'Pose_Para' holds {kind}, expected numbers"):
        real_array(value, HERE, "Pose_Para")
    assert real_array(np.arange(3, dtype=np.uint8), HERE, "x").dtype == np.float64
