"""Landmark schemes: how many points, which point a horizontal flip swaps with which, and the normalizers.

Flip pairs follow mmpose's dataset metainfo (300w, wflw, cofw, aflw, lapa) and were cross-checked on the real
fixtures: mirroring a face about its midline puts each point on its partner (tests/data/test_schemes.py).
``eye_corners`` are the outer eye corners used for inter-ocular NME, the one on the image's left first.
"""
from __future__ import annotations

from dataclasses import dataclass

from edgekit.errors import EdgekitError


@dataclass(frozen=True)
class Scheme:
    name: str
    num_points: int
    flip_perm: tuple[int, ...]  # flipped[i] = original[flip_perm[i]] after mirroring x
    eye_corners: tuple[int, int]  # outer eye corners (inter-ocular NME), image-left first
    pupils: tuple[tuple[int, ...], tuple[int, ...]] | None = None  # index groups averaged into each pupil

    def __post_init__(self) -> None:
        perm = self.flip_perm
        if sorted(perm) != list(range(self.num_points)):
            raise ValueError(f"{self.name}: flip_perm is not a permutation of {self.num_points} points")
        if any(perm[perm[i]] != i for i in range(self.num_points)):
            raise ValueError(f"{self.name}: flip_perm is not an involution")


def _perm_from_pairs(num_points: int, pairs: list[tuple[int, int]]) -> tuple[int, ...]:
    """A flip permutation from left/right pairs; points in no pair map to themselves (midline points)."""
    perm = list(range(num_points))
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return tuple(perm)


def _mirror_run(first: int, last: int) -> list[tuple[int, int]]:
    """Pairs of a contour that runs across the face: first<->last, first+1<->last-1, ... (centre maps to itself)."""
    return [(first + k, last - k) for k in range((last - first + 1) // 2)]


def _runs(*spans: tuple[int, int, int]) -> list[tuple[int, int]]:
    """Pairs of two parallel runs: (a, b, n) pairs a+k with b+k, or with b-k when n is negative."""
    pairs = []
    for a, b, n in spans:
        step = 1 if n > 0 else -1
        pairs += [(a + k, b + step * k) for k in range(abs(n))]
    return pairs


_IBUG68_PAIRS = (
    _mirror_run(0, 16)  # jaw
    + _mirror_run(17, 26)  # brows
    + _mirror_run(31, 35)  # nostrils
    + _runs((36, 45, -4), (40, 47, -2))  # eyes: 36-39 <-> 45-42, 40-41 <-> 47-46
    + _mirror_run(48, 54) + _mirror_run(55, 59) + _mirror_run(60, 64) + _mirror_run(65, 67)  # lips
)
_WFLW98_PAIRS = (
    _mirror_run(0, 32)  # jaw
    + _runs((33, 46, -5), (38, 50, -4))  # brows: upper 33-37 <-> 46-42, lower 38-41 <-> 50-47
    + _mirror_run(55, 59)  # nose base
    + _runs((60, 72, -5), (65, 75, -3))  # eyes: 60-64 <-> 72-68, 65-67 <-> 75-73
    + _mirror_run(76, 82) + _mirror_run(83, 87) + _mirror_run(88, 92) + _mirror_run(93, 95)  # lips
    + [(96, 97)]  # pupils
)
_COFW29_PAIRS = [(0, 1), (2, 3), (4, 6), (5, 7), (8, 9), (10, 11), (12, 14), (13, 15), (16, 17), (18, 19), (22, 23)]
_AFLW19_PAIRS = [(0, 5), (1, 4), (2, 3), (6, 11), (7, 10), (8, 9), (12, 14), (15, 17)]
# AFLW-21: the 19 points plus both ears (12 and 16); nose 13-15, mouth 17-19, chin 20.
_AFLW21_PAIRS = [(0, 5), (1, 4), (2, 3), (6, 11), (7, 10), (8, 9), (12, 16), (13, 15), (17, 19)]
# LaPa 106 (its own order, WFLW-like): contour 0-32, brows 33-50 (5 upper + 4 lower each), nose bridge 51-54,
# nose base 55-65, eyes 66-73 / 75-82 with centres 74 / 83, lips 84-103, pupils 104 / 105 (copies of 74 / 83).
_LAPA106_PAIRS = (
    _mirror_run(0, 32) + _runs((33, 46, -5), (38, 50, -4)) + _mirror_run(55, 65)
    + _runs((66, 79, -5), (71, 82, -3)) + [(74, 83)]
    + _mirror_run(84, 90) + _mirror_run(91, 95) + _mirror_run(96, 100) + _mirror_run(101, 103) + [(104, 105)]
)
# Kaggle facial keypoints (subject's left first): 0 left eye centre, 1 right eye centre, 2/3 left eye inner/outer,
# 4/5 right eye inner/outer, 6/7 left brow inner/outer, 8/9 right brow inner/outer, 10 nose tip,
# 11/12 mouth left/right corner, 13/14 top/bottom lip centre. The subject's left is on the image's right.
_KAGGLE15_PAIRS = [(0, 1), (2, 4), (3, 5), (6, 8), (7, 9), (11, 12)]


def _scheme(name, n, pairs, eye_corners, pupils=None) -> Scheme:
    return Scheme(name, n, _perm_from_pairs(n, pairs), eye_corners, pupils)


SCHEMES: dict[str, Scheme] = {
    s.name: s
    for s in (
        _scheme("ibug68", 68, _IBUG68_PAIRS, (36, 45), (tuple(range(36, 42)), tuple(range(42, 48)))),
        _scheme("wflw98", 98, _WFLW98_PAIRS, (60, 72), ((96,), (97,))),
        _scheme("cofw29", 29, _COFW29_PAIRS, (8, 9), ((16,), (17,))),
        _scheme("aflw19", 19, _AFLW19_PAIRS, (6, 11), ((7,), (10,))),
        _scheme("aflw21", 21, _AFLW21_PAIRS, (6, 11), ((7,), (10,))),
        _scheme("five", 5, [(0, 1), (3, 4)], (0, 1), ((0,), (1,))),  # eye centres stand in for corners
        _scheme("lapa106", 106, _LAPA106_PAIRS, (66, 79), ((104,), (105,))),
        _scheme("kaggle15", 15, _KAGGLE15_PAIRS, (5, 3), ((1,), (0,))),
    )
}


def get_scheme(name: str) -> Scheme:
    try:
        return SCHEMES[name]
    except KeyError:
        raise EdgekitError(f"unknown landmark scheme '{name}' (known: {', '.join(SCHEMES)})") from None


def scheme_for_count(num_points: int) -> Scheme | None:
    """The scheme with this many points (every scheme has a distinct count), or None."""
    return next((s for s in SCHEMES.values() if s.num_points == num_points), None)
