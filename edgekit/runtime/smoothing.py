"""The One-Euro filter (Casiez, Roussel, Vogel, CHI 2012): a low-pass filter whose cutoff rises with speed, so a
still face stops jittering and a moving one does not lag. MediaPipe smooths face landmarks with it.

Per sample, with ``dt`` the time since the previous one and ``alpha(f) = 1 / (1 + 1 / (2 pi f dt))``:
    speed     = alpha(d_cutoff) * (x - x_prev_filtered) / dt + (1 - alpha(d_cutoff)) * speed_prev
    cutoff    = min_cutoff + beta * |speed * scale|
    filtered  = alpha(cutoff) * x + (1 - alpha(cutoff)) * filtered_prev
``scale`` makes the speed unit-free (MediaPipe: 1 / face size for landmarks). Element-wise on arrays.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuroSettings:
    """MediaPipe's face-landmark values (face_landmark_front: min_cutoff 0.05, beta 80, derivate_cutoff 1)."""

    min_cutoff: float = 0.05  # Hz: the cutoff of a still value (lower = smoother, more lag)
    beta: float = 80.0  # cutoff added per unit of (scaled) speed (higher = less lag when moving)
    d_cutoff: float = 1.0  # Hz: the cutoff of the speed estimate


def smoothing_factor(cutoff: float | np.ndarray, dt: float) -> float | np.ndarray:
    """alpha = 1 / (1 + tau / dt), tau = 1 / (2 pi cutoff): the weight of the new sample (element-wise)."""
    return 1.0 / (1.0 + 1.0 / (2.0 * math.pi * cutoff * dt))


class OneEuroFilter:
    """Filters a stream of same-shaped arrays sampled at increasing times (seconds)."""

    def __init__(self, settings: OneEuroSettings = OneEuroSettings()):
        self.settings = settings
        self.value: np.ndarray | None = None  # the last filtered value
        self.speed: np.ndarray | None = None  # its filtered rate of change, per second
        self.time: float | None = None

    def __call__(self, value: np.ndarray, time: float, scale: float = 1.0) -> np.ndarray:
        value = np.asarray(value, dtype=np.float64)
        if self.value is None or self.value.shape != value.shape or time <= self.time:
            self.value, self.speed, self.time = value, np.zeros_like(value), time  # first (or unusable) sample
            return value
        dt, s = time - self.time, self.settings
        a_speed = smoothing_factor(s.d_cutoff, dt)
        self.speed = a_speed * (value - self.value) / dt + (1 - a_speed) * self.speed
        a_value = smoothing_factor(s.min_cutoff + s.beta * np.abs(self.speed * scale), dt)
        self.value = a_value * value + (1 - a_value) * self.value
        self.time = time
        return self.value

