"""The one INT8 search over made-up metrics (the backends' real files are in tests/backend/*/test_sensitivity.py
and tests/export/test_pipeline.py): recalibration order, the layer groups, the choice of calibration."""
from __future__ import annotations

import math
from pathlib import Path

from edgekit.checks import Recalibration
from edgekit.export.int8_search import keep_in_float, pick_base, recalibrate


def _fake_search(delta_of_kept, candidates, unweighted, budget=0.2):
    """keep_in_float over a made-up metric: delta_of_kept(set of float layers) -> delta."""
    written = []
    record = keep_in_float(candidates, {name: float(i) for i, name in enumerate(candidates)},
                           lambda kept: written.append(set(kept)), lambda: delta_of_kept(written[-1]),
                           delta_of_kept(set()), budget, max_layers=2, trials=4, log=lambda line: None,
                           unweighted=unweighted)
    return record, written


def test_layers_without_weights_go_to_float_together_first():
    # error spread over many small elementwise ops (an SSR / capsule tail): no single one shows it
    candidates, tail = ["conv1", "conv2", "mul1", "mul2", "div1"], ["mul1", "mul2", "div1"]
    record, written = _fake_search(lambda kept: 0.05 if set(tail) <= kept else 0.5, candidates, tail)
    assert record["passed"] and record["unweighted_in_float"] and record["float_layers"] == tuple(tail)
    assert record["single_node_delta"] == {} and written[-1] == set(tail)  # no per-layer search needed


def test_the_per_layer_search_goes_on_when_the_group_does_not_help():
    candidates, tail = ["conv1", "conv2", "add1"], ["add1"]
    record, written = _fake_search(lambda kept: 0.1 if "conv2" in kept else 0.5, candidates, tail)
    assert record["passed"] and not record["unweighted_in_float"] and record["float_layers"] == ("conv2",)
    assert written[-1] == {"conv2"}


def test_recalibration_stops_at_the_first_percentile_within_budget():
    deltas = {99.99: 0.5, 99.9: 0.05, 99.0: 0.01}
    written, lines = [], []

    def write(percentile):
        written.append(percentile)
        return Path(f"p{percentile}.onnx")

    best, path, record = recalibrate((99.99, 99.9, 99.0), write, lambda p: deltas[float(p.stem[1:])], 2.0, 0.1,
                                     lines.append)
    assert (best, path, written) == (99.9, Path("p99.9.onnx"), [99.99, 99.9])  # 99.0 never tried
    assert record == Recalibration({"99.99": 0.5, "99.9": 0.05}, 99.9, 0.05, True)
    assert len(lines) == 2


def test_recalibration_that_never_helps_keeps_the_targets_calibration():
    best, path, record = recalibrate((99.9,), lambda p: Path("x.tflite"), lambda p: math.inf, 0.4, 0.1, print)
    assert best is None and path is None  # the file that does not run is not "better"
    assert record.tried == {"99.9": None} and record.delta == 0.4 and not record.passed


def test_the_search_starts_from_the_calibration_best_with_the_unweighted_layers_in_float():
    # FSA-Net on the demo's faces: Percentile wins all-INT8, MinMax wins once the capsules are in float
    with_tail = {"minmax": 0.16, "p99.99": 0.25}
    written = []
    name, base = pick_base([("minmax", "q-minmax"), ("p99.99", "q-p")], lambda b, kept: written.append((b, kept)),
                           lambda: with_tail["minmax" if written[-1][0] == "q-minmax" else "p99.99"], ["div", "mul"],
                           print)
    assert (name, base) == ("minmax", "q-minmax") and written == [("q-minmax", ["div", "mul"]), ("q-p", ["div", "mul"])]
    assert pick_base([("only", 1)], None, None, ["div"], print) == ("only", 1)  # one calibration: nothing to try
