"""``edgekit.progress``: a bar on stderr only, on a terminal or when asked, never under --json."""
from __future__ import annotations

import argparse

from edgekit.cli.output import STDOUT, progress_wanted
from edgekit.progress import progress, progress_enabled, progress_setting


def test_a_bar_goes_to_stderr_only_when_enabled(capsys):
    items = [1, 2, 3]
    with progress_setting(False):
        assert progress(items, "eval") is items
    with progress_setting(True):
        assert list(progress(items, "eval", unit="batch")) == items
    out = capsys.readouterr()
    assert out.out == "" and "eval" in out.err


def test_default_follows_the_terminal(capsys):
    assert progress_enabled() is False  # pytest's captured stderr is not a terminal


def test_flags_decide():
    def wanted(**flags) -> bool | None:
        return progress_wanted(argparse.Namespace(**flags))

    assert wanted() is None and wanted(progress=True) is True and wanted(progress=False) is False
    assert wanted(progress=True, json=STDOUT) is False and wanted(progress=True, json=True) is False
    assert wanted(progress=True, json="out.json") is True and wanted(no_progress=True) is False


def test_a_bar_left_open_by_an_error_is_cleared_when_the_block_ends(capsys):
    import pytest

    with pytest.raises(ValueError), progress_setting(True):
        for _ in progress(range(10), "calibration", total=10):
            raise ValueError("a bad image")  # the bar is still open: the traceback holds it
    err = capsys.readouterr().err
    assert "calibration" in err and err.endswith("\r")  # cleared: the next line starts at column 0
