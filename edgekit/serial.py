"""Frozen dataclasses <-> plain dicts / YAML / JSON, strictly: unknown keys and wrong types are errors.

Supported field types: bool, int, float, str, Literal[...], X | None, tuple[X, ...], tuple[X, Y],
dict[str, X] and nested dataclasses. Errors name the dotted key path, e.g. ``target.onnx.opset``.
A dataclass may define a classmethod ``serial_input(data, where) -> (data, field types)``: it converts an older
form of itself and types the fields that depend on another key (``HeadSpec.params`` by its ``kind``).
"""
from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from edgekit.errors import SpecError

T = TypeVar("T")

MAX_YAML_BYTES = 1 << 20  # recipes, targets and calibration lists are a few KB
MAX_STRING = 1 << 16  # characters of any string field (descriptions are the longest, a few hundred)
MAX_DEPTH = 32  # nesting of free-form values (manifest checks, provenance); the deepest real one has 5
EXCERPT = 40  # characters of a value quoted in an error line
_CONTROL = frozenset(chr(c) for c in (*range(0, 9), 11, 12, *range(14, 32), 127))  # not tab / newline / CR


def from_dict(cls: type[T], data: Any, where: str = "") -> T:
    """Build dataclass ``cls`` from ``data``, raising SpecError that names the offending key."""
    where = where or cls.__name__
    reader = getattr(cls, "serial_input", None)
    data, field_types = reader(data, where) if reader is not None else (data, {})
    if not isinstance(data, dict):
        raise SpecError(f"{where}: expected a mapping, got {_kind(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise SpecError(f"unknown key {excerpt(key)} in {where} (known keys: {known})")
    hints = {**typing.get_type_hints(cls), **field_types}
    kwargs = {name: _convert(hints[name], value, f"{where}.{name}") for name, value in data.items()}
    for name, field in fields.items():
        no_default = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        if no_default and name not in kwargs:
            raise SpecError(f"missing key '{name}' in {where}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{where}: {exc}") from None


def to_dict(obj: Any) -> Any:
    """Dataclass -> plain JSON-able dict (tuples become lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (tuple, list)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    return obj


def load_yaml(cls: type[T], path: str | Path) -> T:
    """Read a YAML (or JSON) file into ``cls``; every error names the file. Anchors/aliases, duplicate keys,
    deep nesting and files over ``MAX_YAML_BYTES`` are refused (``edgekit.strict_yaml``)."""
    path = Path(path)
    data = parse_yaml(read_text(path, MAX_YAML_BYTES), path)
    try:
        return from_dict(cls, data if data is not None else {}, cls.__name__)
    except SpecError as exc:
        raise exc.at(path)


def read_text(path: Path, limit: int) -> str:
    """A UTF-8 text file of at most ``limit`` bytes (read bounded: a FIFO or /dev/zero cannot exhaust memory)."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise SpecError("file not found", path) from None
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.__class__.__name__}", path) from None
    if len(data) > limit:
        raise SpecError(f"larger than {limit // 1024} KiB: not a spec file", path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 text (byte {exc.start})", path) from None


def parse_yaml(text: str, path: Path) -> Any:
    """The YAML document in ``text`` (read from ``path``), or one SpecError line naming the file."""
    import yaml

    from edgekit.strict_yaml import YamlRefused, parse

    try:
        return parse(text)
    except YamlRefused as exc:
        at = f" at line {exc.line}" if exc.line else ""
        raise SpecError(f"{exc.problem}{at}", path) from None
    except yaml.reader.ReaderError as exc:  # NUL and other unprintable characters
        char = f"U+{exc.character:04X}" if isinstance(exc.character, int) else excerpt(exc.character)
        raise SpecError(f"not valid YAML: unprintable character {char} at offset {exc.position}", path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise SpecError(f"not valid YAML{at}", path) from None
    except (ValueError, RecursionError):  # an integer of more than 4300 digits; stack exhausted anyway
        raise SpecError("not valid YAML (a value too large or too deep)", path) from None


def dump_yaml(obj: Any) -> str:
    import yaml

    return yaml.safe_dump(to_dict(obj), sort_keys=False)


def dump_json(obj: Any) -> str:
    return json.dumps(to_dict(obj), indent=2)


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def excerpt(value: Any) -> str:
    """``repr(value)`` cut to about ``EXCERPT`` characters (escaped, one line): an error never quotes a whole,
    possibly huge, value. Containers and huge integers are described, not printed."""
    if isinstance(value, (list, tuple)) and len(value) <= 8 and all(_small_number(v) for v in value):
        text = repr(list(value))  # e.g. a batch range [-4, 1, 8]
        if len(text) <= EXCERPT:
            return text
    if isinstance(value, (dict, list, tuple, set)):
        return f"a {type(value).__name__} of {len(value)} items"
    if isinstance(value, int) and value.bit_length() > 128:
        return f"an integer of {value.bit_length()} bits"
    text = repr(value[: EXCERPT + 1] if isinstance(value, (str, bytes)) else value)
    return text if len(text) <= EXCERPT else text[: EXCERPT - 3] + "..."


def _small_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not (isinstance(value, int) and value.bit_length() > 64)


def _found(value: Any) -> str:
    """What an error says it found: 'str 'abc'', 'int 7', 'a list of 3 items'."""
    shown = excerpt(value)
    return shown if shown.startswith(("a ", "an ", "[")) else f"{_kind(value)} {shown}"


def _key(key: Any) -> str:
    """A mapping key in a dotted error path: as is when short and printable, else an escaped excerpt."""
    return key if isinstance(key, str) and len(key) <= EXCERPT and key.isprintable() else excerpt(key)


def check(ok: bool, key: str, rule: str, value: Any) -> None:
    """Raise ValueError ``"<key> must <rule>, got <value>"`` unless ``ok`` (for ``__post_init__`` range checks:
    ``from_dict`` adds where the key is)."""
    if not ok:
        raise ValueError(f"{key} must {rule}, got {excerpt(value)}")


def finite(value: float, low: float = -math.inf, high: float = math.inf) -> bool:
    """``value`` is a finite number in [low, high] (NaN and infinities are not)."""
    return math.isfinite(value) and low <= value <= high


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _convert(inner[0], value, where)
        for candidate in inner:
            try:
                return _convert(candidate, value, where)
            except SpecError:
                continue
        raise SpecError(f"{where}: {excerpt(value)} matches none of {inner}")
    if origin is typing.Literal:
        if value not in args:
            allowed = ", ".join(repr(a) for a in args)
            raise SpecError(f"{where}: {excerpt(value)} is not one of {allowed}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise SpecError(f"{where}: expected a list, got {_kind(value)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise SpecError(f"{where}: expected {len(args)} items, got {len(value)}")
        return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin is dict:
        if not isinstance(value, dict):
            raise SpecError(f"{where}: expected a mapping, got {_kind(value)}")
        return {_string(k, f"{where} key"): _convert(args[1], v, f"{where}.{_key(k)}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)
    return _scalar(tp, value, where)


def _scalar(tp: Any, value: Any, where: str) -> Any:
    if tp is Any:
        _check_depth(value, where)
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise SpecError(f"{where}: expected true/false, got {_found(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(f"{where}: expected an integer, got {_found(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError(f"{where}: expected a number, got {_found(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise SpecError(f"{where}: expected a string, got {_found(value)}")
        return _string(value, where)
    raise SpecError(f"{where}: unsupported field type {tp}")


def _string(value: Any, where: str) -> str:
    """A key or string field: a str of at most MAX_STRING characters without control characters (a NUL in a
    file name or a terminal escape in an error line)."""
    if not isinstance(value, str):
        raise SpecError(f"{where}: expected a string, got {_found(value)}")
    if len(value) > MAX_STRING:
        raise SpecError(f"{where}: a string of {len(value)} characters (at most {MAX_STRING})")
    if not _CONTROL.isdisjoint(value):
        raise SpecError(f"{where}: control character in {excerpt(value)}")
    return value


def _check_depth(value: Any, where: str) -> None:
    """Free-form values (``Any``) nest at most MAX_DEPTH levels: deeper ones break json.dumps on the next write."""
    level, frontier = 0, [value]
    while frontier:
        level += 1
        if level > MAX_DEPTH:
            raise SpecError(f"{where}: nested more than {MAX_DEPTH} levels deep")
        frontier = [child for item in frontier if isinstance(item, (dict, list))
                    for child in (item.values() if isinstance(item, dict) else item)]
