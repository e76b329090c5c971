"""edgekit.serial and edgekit.strict_yaml: what a hostile YAML / JSON value cannot do (expand, repeat a key, nest
without bound, smuggle control characters, print itself whole in an error)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from edgekit import serial
from edgekit.errors import SpecError
from edgekit.paths import PROJECT_DIR
from edgekit.strict_yaml import MAX_DEPTH, YamlRefused, parse


@dataclass(frozen=True)
class Doc:
    name: str
    size: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _load(tmp_path: Path, text: str | bytes) -> Doc:
    path = tmp_path / "doc.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return serial.load_yaml(Doc, path)


def test_alias_bomb_is_refused_before_expanding(tmp_path):
    levels = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    levels += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    started = time.perf_counter()
    with pytest.raises(SpecError, match=r"doc.yaml: anchors and aliases .* not supported at line 3"):
        _load(tmp_path, "name: x\nextra:\n" + "\n".join("  " + line for line in levels))
    assert time.perf_counter() - started < 1.0


def test_a_single_anchor_is_refused_too():
    with pytest.raises(YamlRefused, match="anchors and aliases"):
        parse("a: &x 1\n")


def test_duplicate_key_names_key_and_line(tmp_path):
    with pytest.raises(SpecError, match=r"duplicate key 'size' at line 3"):
        _load(tmp_path, "name: x\nsize: 1\nsize: 2\n")


def test_duplicate_keys_in_nested_mappings_are_found():
    with pytest.raises(YamlRefused) as info:
        parse("outer:\n  inner: {a: 1, b: 2, a: 3}\n")
    assert info.value.line == 2 and "'a'" in info.value.problem


def test_nesting_is_bounded_without_recursion_error():
    value, depth = parse("[" * MAX_DEPTH + "]" * MAX_DEPTH), 1
    while value:
        value, depth = value[0], depth + 1
    assert depth == MAX_DEPTH  # exactly MAX_DEPTH levels still parse
    with pytest.raises(YamlRefused, match=f"more than {MAX_DEPTH} levels"):
        parse("[" * 20000 + "]" * 20000)


@pytest.mark.parametrize("text, problem", [
    (b"name: a\0b\n", "unprintable character U+0000"),
    (b"name: caf\xe9\n", "not UTF-8 text (byte 9)"),
    (b"name: x\nsize: " + b"9" * 5000 + b"\n", "a value too large"),
    (b"name: [unclosed\n", "not valid YAML at line 2"),
])
def test_unreadable_yaml_is_one_line(tmp_path, text, problem):
    with pytest.raises(SpecError) as info:
        _load(tmp_path, text)
    assert problem in str(info.value) and "\n" not in str(info.value)


def test_files_over_the_limit_are_not_read(tmp_path):
    with pytest.raises(SpecError, match="larger than 1024 KiB"):
        _load(tmp_path, "name: x\n" + "#" * serial.MAX_YAML_BYTES)


def test_errors_quote_at_most_an_excerpt(tmp_path):
    with pytest.raises(SpecError) as info:
        _load(tmp_path, "name: x\nsize: '" + "7" * 100_000 + "'\n")
    assert len(str(info.value)) < 200 and "expected an integer, got str '777" in str(info.value)
    with pytest.raises(SpecError, match="expected a string, got a list of 50000 items"):
        _load(tmp_path, "name: [" + ",".join(["1"] * 50_000) + "]\n")


@pytest.mark.parametrize("value, shown", [
    ("short", "'short'"), ("x" * 1000, "'" + "x" * 36 + "..."), (10 ** 200, "an integer of 665 bits"),
    ([1, -4, 8], "[1, -4, 8]"), (list(range(100)), "a list of 100 items"), ({"a": 1}, "a dict of 1 items"),
    ("a\0\x1b", r"'a\x00\x1b'"),
])
def test_excerpt(value, shown):
    assert serial.excerpt(value) == shown


def test_control_characters_and_huge_strings_are_refused():
    with pytest.raises(SpecError, match=r"Doc.name: control character in 'a\\x1b\[31m'"):
        serial.from_dict(Doc, {"name": "a\x1b[31m"})
    with pytest.raises(SpecError, match=r"Doc.name: a string of 70000 characters"):
        serial.from_dict(Doc, {"name": "n" * 70_000})
    assert serial.from_dict(Doc, {"name": "tabs\tand\nnewlines are text"}).name.startswith("tabs")


def test_free_form_values_nest_at_most_max_depth():
    deep: Any = []
    for _ in range(serial.MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(SpecError, match="Doc.extra.k: nested more than"):
        serial.from_dict(Doc, {"name": "x", "extra": {"k": deep}})
    assert serial.from_dict(Doc, {"name": "x", "extra": {"k": [[1]]}}).extra == {"k": [[1]]}


def test_check_and_finite():
    serial.check(True, "seed", "be positive", -1)
    with pytest.raises(ValueError, match=r"^seed must be positive, got -1$"):
        serial.check(False, "seed", "be positive", -1)
    assert serial.finite(1.0, 0, 1) and not serial.finite(float("nan")) and not serial.finite(float("inf"))


@pytest.mark.parametrize("path", sorted(p for folder in ("recipes", "targets", "calibration")
                                        for p in (PROJECT_DIR / folder).glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_yaml_needs_no_anchors_or_repeated_keys(path):
    assert isinstance(parse(path.read_text()), dict)
