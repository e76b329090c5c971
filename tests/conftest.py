"""Shared fixtures. Tests that need ../shared/data use ``shared_data`` and skip with a reason when it is absent."""
from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.paths import shared_data_dir


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = shared_data_dir()
    if not root.is_dir():
        pytest.skip(f"real face data not found at {root} (set EDGEKIT_SHARED_DATA or place ../shared/data)")
    return root


@pytest.fixture()
def run_cli(capsys):
    """Run ``edgekit ARGS`` in-process; returns (exit code, stdout, stderr)."""
    from edgekit.cli import main

    def _run(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return _run
