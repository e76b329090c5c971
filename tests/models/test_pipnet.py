"""PIPNet's mean face and neighbour table (shipped in the HeadSpec)."""
from __future__ import annotations

import importlib.util

import numpy as np

from edgekit.models.pipnet import nearest_neighbors, pip_head_spec
from edgekit.models.pipnet_meanface import MEANFACE_68
from edgekit.paths import PROJECT_DIR


def test_nearest_neighbors_hand_case():
    # four points on a line at 0, 1, 3, 7: nearest first, never the point itself
    meanface = (0.0, 0.0, 1.0, 0.0, 3.0, 0.0, 7.0, 0.0)
    assert nearest_neighbors(meanface, 2) == ((1, 2), (0, 2), (1, 0), (2, 1))


def test_head_spec_tables():
    head = pip_head_spec().params
    assert len(head.meanface) == 136 and len(head.neighbors) == 68
    table = np.array(head.neighbors)
    assert table.shape == (68, 10) and not (table == np.arange(68)[:, None]).any()
    assert all(len(set(row)) == 10 for row in head.neighbors)
    points = np.array(MEANFACE_68).reshape(68, 2)
    assert (points > 0.05).all() and (points < 0.95).all()  # inside the 1.2x box crop
    assert points[8, 1] > points[30, 1] > points[36, 1]  # chin below nose tip below the eye corner (y down)
    assert points[36, 0] < points[45, 0]  # image-left eye corner first (iBUG order)
    assert set(head.neighbors[36][:2]) <= {37, 41, 17, 18}  # outer eye corner's nearest are eye / brow points


def test_meanface_regenerates_from_the_shared_data(shared_data):
    spec = importlib.util.spec_from_file_location("make_meanface", PROJECT_DIR / "benchmarks/make_pipnet_meanface.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    mean, count = script.mean_face(shared_data / "ytf68" / "train")
    assert count == 3452
    np.testing.assert_allclose(mean, MEANFACE_68, atol=5e-5 + 1e-9)
