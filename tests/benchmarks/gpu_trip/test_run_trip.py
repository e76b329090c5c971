"""benchmarks/gpu_trip/run_trip.py rehearsed on this CPU (``-- --device cpu``): calibrate, size, train, pack."""
from __future__ import annotations

import csv
import io
import sys
import tarfile

import numpy as np

from edgekit.data.synthetic import write_synthetic_folder
from edgekit.paths import PROJECT_DIR

sys.path.insert(0, str(PROJECT_DIR / "benchmarks" / "gpu_trip"))
from run_trip import main, slowest_epoch  # noqa: E402


def test_slowest_epoch_uses_consecutive_rows_only():
    assert slowest_epoch({0: 0.0, 1: 10.0, 2: 11.5, 3: 12.5}) == 1.5  # 0 -> 1 is start-up, not an epoch
    assert slowest_epoch({0: 0.0, 1: 10.0, 3: 14.0}) is None  # a row missed: no gap to trust
    assert slowest_epoch({0: 0.0}) is None


RECIPE = """model: pfld_0.25x
data:
  train: {{path: {faces}}}
  val: {{path: {faces}}}
optim: {{lr: 0.001, epochs: 50, batch_size: 4, warmup_epochs: 1}}
"""


def test_a_rehearsal_sizes_each_run_to_the_deadline_and_packs_it(tmp_path):
    faces = tmp_path / "faces"
    write_synthetic_folder(faces, 8, np.random.default_rng(0), size=160)
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "tiny.yaml").write_text(RECIPE.format(faces=faces))
    out = tmp_path / "out"
    assert main([str(tmp_path / "recipes"), "--deadline", "45", "--out", str(out), "--work", str(tmp_path / "w"),
                 "--", "--device", "cpu", "--threads", "1"]) == 0
    trip = (out / "trip.txt").read_text()
    assert "tiny slowest epoch" in trip and trip.rstrip().endswith("done")
    with tarfile.open(out / "tiny.tar") as tar:
        assert sorted(tar.getnames()) == ["tiny/best.safetensors", "tiny/log.csv", "tiny/recipe.yaml",
                                          "tiny/stdout.log"]
        rows = list(csv.DictReader(io.TextIOWrapper(tar.extractfile("tiny/log.csv"))))
    planned = int(trip.split("-> ")[1].split()[0])
    assert len(rows) == planned >= 4  # the sized run ended on its own, before the deadline


def test_a_folder_without_recipes_is_one_line_and_writes_nothing(tmp_path, capsys):
    assert main([str(tmp_path / "none"), "--deadline", "10", "--out", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.strip() == f"run_trip.py: error: {tmp_path / 'none'}: no recipe (*.yaml) there"
    assert not (tmp_path / "out").exists()


def test_an_out_folder_holding_files_is_refused_and_left_as_it_was(tmp_path, capsys):
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "tiny.yaml").write_text("model: pfld_0.25x\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "tiny.tar").write_bytes(b"someone's file")
    assert main([str(tmp_path / "recipes"), "--deadline", "10", "--out", str(tmp_path / "out")]) == 1
    error = capsys.readouterr().err.strip()
    assert error == f"run_trip.py: error: {tmp_path / 'out'}: exists and is not an empty folder"
    assert (tmp_path / "out" / "tiny.tar").read_bytes() == b"someone's file"
