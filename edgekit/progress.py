"""Progress on long stages (calibration, sensitivity search, evaluation, profiling): one bar on stderr, shown when
stderr is a terminal or ``--progress`` asks for it, never under ``--json`` (stdout) or ``--no-progress``. Nothing
goes to stdout, and a bar is cleared when its stage ends, so results and the one-line error stay as they are."""
from __future__ import annotations

import contextlib
import sys
from contextvars import ContextVar
from typing import Iterable, Iterator, TypeVar

Item = TypeVar("Item")
_SETTING: ContextVar[bool | None] = ContextVar("edgekit_progress", default=None)  # None: when stderr is a TTY
_OPEN: ContextVar[list | None] = ContextVar("edgekit_bars", default=None)  # bars of the innermost block


@contextlib.contextmanager
def progress_setting(enabled: bool | None) -> Iterator[None]:
    """Within the block, bars are on (True), off (False) or shown on a terminal only (None). Bars still open when
    it ends (a stage that raised) are cleared first, so an error line starts on a line of its own."""
    token, bars = _SETTING.set(enabled), _OPEN.set([])
    try:
        yield
    finally:
        for bar in _OPEN.get() or []:
            bar.close()
        _OPEN.reset(bars)
        _SETTING.reset(token)


def progress_enabled() -> bool:
    setting = _SETTING.get()
    return sys.stderr.isatty() if setting is None else setting


def progress(items: Iterable[Item], desc: str, total: int | None = None, unit: str = "it") -> Iterable[Item]:
    """``items`` unchanged, with a bar on stderr labelled ``desc`` while they are consumed (when enabled)."""
    if not progress_enabled():
        return items
    from tqdm import tqdm

    bar = tqdm(items, desc=desc, total=total, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True)
    if _OPEN.get() is not None:
        _OPEN.get().append(bar)
    return bar
