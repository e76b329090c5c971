"""benchmarks/train_speed.py: the step clock's timing, and one short real run of the smallest model written to a
copy of the doc (its generated section and the before/after table) and the JSON."""
from __future__ import annotations

import json
import sys
import time

from edgekit.paths import PROJECT_DIR

sys.path.insert(0, str(PROJECT_DIR / "benchmarks"))
from train_speed import BEFORE_JSON, MARKERS, StepClock, main  # noqa: E402


def test_step_clock_times_each_step_with_its_wait_and_one_fetch_after():
    def slow_batches():  # each batch takes 20 ms to make
        for index in range(5):
            time.sleep(0.02)
            yield index

    class Loader(list):  # a loader: len() and a fresh iterator each pass
        def __iter__(self):
            return slow_batches()

    clock = StepClock(Loader(range(5)), limit=3)
    assert len(clock) == 3
    for _ in clock:
        time.sleep(0.01)  # the step
    steps, waits = [b - a for a, b in zip(clock.marks, clock.marks[1:])], clock.waits[1:]
    assert len(steps) == len(waits) == 3  # one fetch after the last step closes it
    assert all(0.03 <= s < 0.2 and 0.02 <= w < s for s, w in zip(steps, waits))


def test_one_model_one_thread_writes_json_and_doc(tmp_path):
    doc = tmp_path / "TRAINING.md"
    doc.write_text(f"# Training\n\nhand-written\n\n{MARKERS[0]}\nold\n{MARKERS[1]}\n\nmore hand-written\n")
    (tmp_path / "benchmarks").mkdir()
    before = {"date": "then", "load_average": [1.0], "rows": [{"model": "ssrnet_md", "threads": 1,
              "loop_images_per_s": 1.0, "bound_images_per_s": 2.0, "ratio": 0.5}]}
    (tmp_path / "benchmarks" / BEFORE_JSON).write_text(json.dumps(before))
    assert main(["--models", "ssrnet_md", "--threads", "1", "--budget", "0.5", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "benchmarks" / "train_speed.json").read_text())
    (row,) = result["rows"]
    assert row["model"] == "ssrnet_md" and row["threads"] == 1 and row["batch_size"] == 32
    assert row["loop_images_per_s"] > 0 and row["bound_images_per_s"] > 0 and 0 < row["ratio"] < 10
    assert row["data"] in ("aflw2000/dev", "generated") and row["timed_steps"] >= 2
    text = doc.read_text()
    assert "hand-written" in text and "more hand-written" in text and "\nold\n" not in text
    assert f"| ssrnet_md | {row['data']} | 32 | 0 | 1 | {row['loop_images_per_s']:.1f} |" in text
    assert f"| ssrnet_md | 1 | 1.0 → {row['loop_images_per_s']:.1f} | 2.0 → {row['bound_images_per_s']:.1f} |" in text
