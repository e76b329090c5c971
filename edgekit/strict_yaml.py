"""YAML for specs, recipes, targets and calibration lists: PyYAML's SafeLoader minus what a hostile file can abuse.

- Anchors and aliases are refused: a 436-byte "billion laughs" document expands to gigabytes once its aliases
  are resolved, and none of edgekit's files needs them.
- A key given twice in one mapping is an error naming the key and its line (PyYAML silently keeps the last).
- Nesting deeper than ``MAX_DEPTH`` is refused before PyYAML's recursive composer overflows the stack.
"""
from __future__ import annotations

from typing import Any

import yaml

MAX_DEPTH = 32  # the deepest shipped document nests 4 levels


class YamlRefused(yaml.YAMLError):
    """A document edgekit will not read; ``line`` is 1-based (0 when unknown)."""

    def __init__(self, problem: str, mark: Any = None):
        super().__init__(problem)
        self.problem = problem
        self.line = mark.line + 1 if mark is not None else 0


class StrictLoader(yaml.SafeLoader):
    """SafeLoader without anchors/aliases, without duplicate keys, at most ``MAX_DEPTH`` levels deep."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise YamlRefused("anchors and aliases (&name, *name) are not supported", event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlRefused(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: PyYAML's own error follows
                continue
            if duplicate:
                from edgekit.serial import excerpt

                raise YamlRefused(f"duplicate key {excerpt(key)}", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def parse(text: str) -> Any:
    """The document in ``text``; yaml.YAMLError (YamlRefused included) or ValueError (an integer of more than
    4300 digits) when it cannot be read."""
    loader = StrictLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
