"""The one table every verb prints (list, eval, profile, export, data check) and the demo report writes: columns
sized to their longest cell, a rule under the header, numeric columns right-aligned so their digits line up."""
from __future__ import annotations

import re
from typing import Sequence

MISSING = "-"
# '12', '-0.25', '1.2e-3', '86 kB', '0.52 ms', '3.1%', '+0.013', 'nme* 4.2%' is not: a column of these aligns right
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?( ?[A-Za-z%°/]{1,6})?")


def cell(value) -> str:
    """A value as a table shows it: '-' for None, 3 decimals below 10 and 1 above (for floats), else str."""
    if value is None:
        return MISSING
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def _numeric(column: Sequence[str]) -> bool:
    shown = [text for text in column if text != MISSING]
    return bool(shown) and all(_NUMBER.fullmatch(text) for text in shown)


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]], indent: str = "",
                 rule: bool = True) -> str:
    """Fixed-width text: the header, a rule of '-' (``rule``), one line per row; every line starts with
    ``indent`` and carries no trailing blanks. Cells go through ``cell``."""
    lines = [list(header)] + [[cell(value) for value in row] for row in rows]
    columns = list(zip(*lines)) if rows else [[title] for title in header]
    widths = [max(len(text) for text in column) for column in columns]
    right = [_numeric(column[1:]) for column in columns]
    text = [indent + "  ".join(value.rjust(width) if r else value.ljust(width)
                               for value, width, r in zip(line, widths, right)).rstrip() for line in lines]
    if rule:
        text.insert(1, indent + "-" * (len(text[0]) - len(indent)))
    return "\n".join(text)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """The same rows as a GitHub markdown table (numeric columns marked right-aligned)."""
    lines = [[cell(value).replace("|", "\\|") for value in row] for row in rows]
    right = [_numeric(column) for column in zip(*lines)] if lines else [False] * len(header)
    marks = ["---:" if r else "---" for r in right]
    return "\n".join("| " + " | ".join(line) + " |" for line in [list(header), marks, *lines])
