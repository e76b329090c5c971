"""benchmarks/ablations.py: the best epoch of each run read from what `edgekit train` wrote, unfinished runs named."""
from __future__ import annotations

import json
import sys

from edgekit.paths import PROJECT_DIR

sys.path.insert(0, str(PROJECT_DIR / "benchmarks"))
from ablations import main  # noqa: E402

RECIPE = """model: pfld_0.25x
data:
  train: {path: ../shared/data/300w-train, split: {seed: 0, val_fraction: 0.1, part: train, by: photo}}
  val: {path: ../shared/data/300w-train, split: {seed: 0, val_fraction: 0.1, part: val, by: photo}}
optim: {epochs: 3}
"""


def test_best_epoch_per_arm_and_missing_runs_named(tmp_path):
    run = tmp_path / "runs" / "a"
    run.mkdir(parents=True)
    (run / "recipe.yaml").write_text(RECIPE)
    (run / "log.csv").write_text("epoch,loss,val_nme,lr\n1,2.0,9.5,0.1\n2,1.0,8.25,0.1\n3,0.9,8.5,0.0\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text('- question: q\n  arms:\n    - {label: "A, one", run: a}\n    - {label: B, run: b}\n')
    assert main(["--spec", str(spec), "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "docs")]) == 0
    rows = json.loads((tmp_path / "docs" / "benchmarks" / "ablations.json").read_text())
    assert (rows[0]["best"], rows[0]["best_epoch"], rows[0]["epochs"], rows[0]["planned"]) == (8.25, 2, 3, 3)
    assert rows[1]["best"] is None
    table = (tmp_path / "docs" / "benchmarks" / "ablations.md").read_text()
    assert "| A, one | pfld_0.25x | ../shared/data/300w-train (val 0.1 by photo) | val_nme 8.250 | 2 | 3/3 |" in table
    assert "| B | ? | ? | not run | - | 0/0 |" in table
