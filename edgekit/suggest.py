"""Suggestions for a mistyped name ("did you mean"), appended to the one-line error."""
from __future__ import annotations

import difflib
from typing import Iterable

CUTOFF = 0.6  # difflib's default similarity: 'pfl_0.25x' finds 'pfld_0.25x', 'zzz' finds nothing


def close_names(word: str, known: Iterable[str], count: int = 3) -> list[str]:
    """Up to ``count`` known names most similar to ``word`` (case-insensitive), best first."""
    by_lower = {}
    for name in known:
        by_lower.setdefault(str(name).lower(), str(name))
    found = difflib.get_close_matches(str(word).lower(), list(by_lower), n=count, cutoff=CUTOFF)
    return [by_lower[name] for name in found]


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`` (did you mean 'eval'?)`` / `` (did you mean 'a' or 'b'?)``, or '' when nothing is close."""
    found = close_names(word, known)
    if not found:
        return ""
    return f" (did you mean {' or '.join(repr(name) for name in found)}?)"
