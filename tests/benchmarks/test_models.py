"""benchmarks/models.py as a maintainer runs it: bad input is one line and ships nothing."""
from __future__ import annotations

import subprocess
import sys

from edgekit.paths import PROJECT_DIR, WEIGHTS_DIR


def test_a_run_folder_without_weights_is_one_line_and_ships_nothing(tmp_path):
    before = (WEIGHTS_DIR / "pfld_0.25x.safetensors").read_bytes()
    done = subprocess.run([sys.executable, str(PROJECT_DIR / "benchmarks" / "models.py"), "ship", "pfld_0.25x",
                           "--run", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip() == f"models.py: error: {tmp_path / 'best.safetensors'}: file not found"
    assert (WEIGHTS_DIR / "pfld_0.25x.safetensors").read_bytes() == before
