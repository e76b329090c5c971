"""Landmark schemes: permutations are involutions, known swaps are right, and on every real fixture a mirrored
face lands on itself only with the scheme's permutation."""
from __future__ import annotations

import json

import numpy as np
import pytest

from edgekit.data.schemes import SCHEMES, get_scheme, scheme_for_count
from edgekit.errors import EdgekitError


@pytest.mark.parametrize("name", list(SCHEMES))
def test_flip_perm_is_an_involution_with_eye_corners_swapped(name):
    scheme = SCHEMES[name]
    perm = np.array(scheme.flip_perm)
    assert len(perm) == scheme.num_points and sorted(perm) == list(range(scheme.num_points))
    assert (perm[perm] == np.arange(scheme.num_points)).all()
    left, right = scheme.eye_corners
    assert perm[left] == right
    if scheme.pupils:
        assert sorted(perm[list(scheme.pupils[0])]) == sorted(scheme.pupils[1])


def test_ibug68_known_swaps():
    perm = get_scheme("ibug68").flip_perm
    expected = {36: 45, 0: 16, 30: 30, 48: 54, 8: 8, 17: 26, 31: 35, 33: 33, 39: 42, 40: 47, 41: 46, 60: 64,
                61: 63, 62: 62, 65: 67, 66: 66, 55: 59, 57: 57}
    assert {i: perm[i] for i in expected} == expected


def test_wflw98_and_lapa106_known_swaps():
    wflw, lapa = get_scheme("wflw98").flip_perm, get_scheme("lapa106").flip_perm
    assert [wflw[i] for i in (0, 16, 33, 38, 51, 55, 57, 60, 64, 65, 76, 79, 88, 96)] == \
        [32, 16, 46, 50, 51, 59, 57, 72, 68, 75, 82, 79, 92, 97]
    assert [lapa[i] for i in (0, 16, 33, 38, 52, 55, 60, 66, 70, 71, 74, 84, 104)] == \
        [32, 16, 46, 50, 52, 65, 60, 79, 75, 82, 83, 90, 105]


def test_lookup_by_name_and_count():
    assert scheme_for_count(68).name == "ibug68" and scheme_for_count(15).name == "kaggle15"
    assert scheme_for_count(67) is None
    with pytest.raises(EdgekitError, match="known: ibug68"):
        get_scheme("dlib5")


def _similarity_fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """src aligned onto dst by the least-squares rotation + scale + translation (no reflection)."""
    s, d = src - src.mean(0), dst - dst.mean(0)
    a, b = (s * d).sum(), (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum()
    return s @ (np.array([[a, -b], [b, a]]) / (s ** 2).sum()).T + dst.mean(0)


def _fixture_shapes(shared_data):
    for path in sorted((shared_data / "fixtures" / "mmpose").glob("*/*.json")):
        for ann in json.loads(path.read_text())["annotations"]:
            yield path.parent.name, np.asarray(ann["keypoints"], dtype=float).reshape(-1, 3)[:, :2]


def test_flip_pairs_on_real_faces(shared_data):
    """Mirror each real face (x -> -x), reorder by flip_perm, align it back: every pair must fit better swapped
    than unswapped, and the whole shape far better than without the permutation."""
    seen = set()
    for folder, points in _fixture_shapes(shared_data):
        scheme = scheme_for_count(len(points))
        seen.add(scheme.name)
        perm = np.array(scheme.flip_perm)
        mirrored = points * [-1, 1]
        aligned = _similarity_fit(mirrored[perm], points)
        iod = np.linalg.norm(points[scheme.eye_corners[0]] - points[scheme.eye_corners[1]])
        err = np.linalg.norm(aligned - points, axis=1) / iod
        err_no_perm = np.linalg.norm(_similarity_fit(mirrored, points) - points, axis=1) / iod
        assert err.mean() < 0.3 and err_no_perm.mean() > 2 * err.mean(), folder
        for i in np.flatnonzero(perm > np.arange(len(perm))):
            j = perm[i]
            swapped = np.linalg.norm(aligned[[i, j]] - points[[i, j]])
            unswapped = np.linalg.norm(aligned[[j, i]] - points[[i, j]])
            assert swapped < unswapped, (folder, i, j)
        assert points[scheme.eye_corners[0], 0] < points[scheme.eye_corners[1], 0], folder
    assert seen == {"ibug68", "wflw98", "cofw29", "aflw19", "lapa106"}


def test_aflw21_flip_on_aflw2000_pt2d(shared_data):
    from edgekit.data.readers import read_aflw2000_mat

    sample = read_aflw2000_mat(shared_data / "aflw2000" / "dev" / "image00002.mat", points="pt2d")
    scheme = get_scheme(sample.scheme)
    keep = np.isfinite(sample.landmarks).all(1) & np.isfinite(sample.landmarks[list(scheme.flip_perm)]).all(1)
    points = sample.landmarks[keep].astype(float)
    mirrored = (sample.landmarks * [-1, 1])[list(scheme.flip_perm)][keep]
    err = np.linalg.norm(_similarity_fit(mirrored, points) - points, axis=1)
    iod = np.linalg.norm(np.subtract(*sample.landmarks[list(scheme.eye_corners)]))
    assert err.mean() / iod < 0.2


def test_five_point_flip_matches_ibug68_flip():
    """The 5 points derived from 68 (eye centres, nose tip, mouth corners) flip consistently with ibug68."""
    rng = np.random.default_rng(0)
    p68 = rng.uniform(0, 100, (68, 2))
    to5 = lambda p: np.stack([p[36:42].mean(0), p[42:48].mean(0), p[30], p[48], p[54]])
    flipped68 = (p68 * [-1, 1])[list(get_scheme("ibug68").flip_perm)]
    flipped5 = (to5(p68) * [-1, 1])[list(get_scheme("five").flip_perm)]
    np.testing.assert_allclose(to5(flipped68), flipped5)
