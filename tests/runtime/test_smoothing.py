"""The One-Euro filter against values computed by hand from the paper's formulas, and its two promises: a still
noisy value jitters much less, a moving one lags less with a higher beta."""
from __future__ import annotations

import math

import numpy as np
import pytest

from edgekit.runtime.smoothing import OneEuroFilter, OneEuroSettings, smoothing_factor


def test_smoothing_factor_by_hand():
    # alpha = 1 / (1 + 1 / (2 pi f dt)); f = 1 Hz, dt = 0.1 s: 1 / (1 + 1 / 0.6283185) = 0.3858695
    assert smoothing_factor(1.0, 0.1) == pytest.approx(0.3858695451, abs=1e-9)


def test_constant_cutoff_is_an_exponential_filter():
    step = OneEuroFilter(OneEuroSettings(min_cutoff=1.0, beta=0.0, d_cutoff=1.0))
    assert step(np.array([0.0]), 0.0) == pytest.approx(0.0)  # the first sample passes as is
    assert step(np.array([1.0]), 0.1) == pytest.approx(0.3858695451)  # alpha x 1
    assert step(np.array([1.0]), 0.2) == pytest.approx(0.6228437844)  # 1 - (1 - alpha)^2


def test_speed_raises_the_cutoff():
    step = OneEuroFilter(OneEuroSettings(min_cutoff=1.0, beta=1.0, d_cutoff=1.0))
    step(np.array([0.0]), 0.0)
    # speed = alpha(1) x (1 - 0) / 0.1 = 3.8586955; cutoff = 1 + 1 x 3.8586955; alpha(4.8586955) = 0.7532575
    assert step(np.array([1.0]), 0.1) == pytest.approx(0.7532575181)
    # speed = alpha(1) x (1 - 0.7532575) / 0.1 + (1 - alpha(1)) x 3.8586955 = 3.3218465; alpha(4.3218465) = ...
    assert step(np.array([1.0]), 0.2) == pytest.approx(0.9335909751)


def test_scale_divides_the_speed():
    """scale = 1 / face size: the same motion in a face twice as big counts half as fast."""
    plain, scaled = (OneEuroFilter(OneEuroSettings(1.0, 1.0, 1.0)) for _ in range(2))
    for filter_, value, scale in ((plain, 1.0, 1.0), (scaled, 2.0, 0.5)):
        filter_(np.array([0.0]), 0.0)
        out = filter_(np.array([value]), 0.1, scale)
        assert out / value == pytest.approx(0.7532575181)


def test_still_noisy_value_jitters_less():
    rng = np.random.default_rng(0)
    times = np.arange(90) / 30.0  # 3 s at 30 fps
    noisy = 100.0 + rng.normal(0.0, 1.0, size=(90, 68, 2))  # 68 points, 1 px noise, face 100 px
    step = OneEuroFilter()
    smooth = np.stack([step(x, t, 1 / 100) for x, t in zip(noisy, times)])
    jitter = lambda seq: np.abs(np.diff(seq[30:], axis=0)).mean()  # frame-to-frame motion after 1 s
    assert jitter(smooth) < 0.5 * jitter(noisy)  # MediaPipe's defaults: 0.39 of it
    calmer = OneEuroFilter(OneEuroSettings(beta=10.0))
    assert jitter(np.stack([calmer(x, t, 1 / 100) for x, t in zip(noisy, times)])) < 0.2 * jitter(noisy)


def test_high_beta_lags_less_on_motion():
    times = np.arange(60) / 30.0
    moving = 50.0 * times  # 50 px/s
    lag = {}
    for beta in (0.0, 80.0):
        step = OneEuroFilter(OneEuroSettings(min_cutoff=0.05, beta=beta))
        out = [float(step(np.array([x]), t, 1 / 100)[0]) for x, t in zip(moving, times)]
        lag[beta] = moving[-1] - out[-1]
    assert lag[80.0] < 0.1 * lag[0.0] and lag[80.0] < 2.0


def test_time_going_back_restarts():
    step = OneEuroFilter(OneEuroSettings(1.0, 0.0, 1.0))
    step(np.array([0.0]), 1.0)
    assert step(np.array([5.0]), 1.0) == pytest.approx(5.0)  # same time: no dt, the value restarts the filter
    assert math.isclose(float(step(np.array([5.0]), 1.1)[0]), 5.0)
