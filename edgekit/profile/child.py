"""Measurements run in a fresh interpreter (one process per configuration) and report one prefixed JSON line."""
from __future__ import annotations

import json
import subprocess
import sys
from typing import Mapping

from edgekit.errors import EdgekitError


def run_child(module: str, args: list[str], env: Mapping[str, str], prefix: str, what: str,
              timeout_s: float) -> dict:
    """``python -m module args`` with ``env``; the dict from its last stdout line starting with ``prefix``."""
    command = [sys.executable, "-m", module, *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, env=dict(env), check=False)
    except subprocess.TimeoutExpired:
        raise EdgekitError(f"{what} took longer than {timeout_s:.0f} s") from None
    lines = [line for line in done.stdout.splitlines() if line.startswith(prefix)]
    if not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1][:200]
        raise EdgekitError(f"{what} failed (exit {done.returncode}: {tail})")
    return json.loads(lines[-1][len(prefix):])
