"""The compute floor: this CPU's peak float32 multiply-add rate, measured from a matrix product, and the
latency a model could reach if every MAC ran at that rate (``floor_ms = MACs / rate``).

The rate is measured in a fresh process with every BLAS / OpenMP pool pinned to ``threads`` (numpy reads the
thread variables only when it is first imported), so it is comparable with the 1-thread latency rows.

Measured on the project's machine (2 vCPUs shared with trainings, likely SMT siblings of one core):
- a long product is always time-sliced: one 2048^3 product (~80 ms) got ~50 % of a core (30-80 GMAC/s run to run);
- even ~1 ms 512^3 products are bimodal: ~1.1 ms or ~2.1 ms when undisturbed (112-120 or ~61 GMAC/s, depending on
  what the sibling thread runs), ~6 ms when preempted; the median jumps between the modes (21-120 GMAC/s).
So the peak is the rate of the fastest tenth of many short products (``PEAK_QUANTILE``; "what the core does when
it is not taken away"), and the median rate is reported beside it. The default: 200 products of 512^3.

    python -m edgekit.profile.peak SIZE REPEATS   # prints ``EDGEKIT_PEAK {"gmacs": ..., ...}``
"""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np


PEAK_PREFIX = "EDGEKIT_PEAK "
PEAK_QUANTILE = 10  # percentile of the product times that defines the peak (the median is kept too)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


@dataclass(frozen=True)
class PeakRate:
    """Multiply-adds per second of ``size`` x ``size`` float32 products (size^3 MACs each), over ``repeats``."""

    gmacs: float  # 1e9 MACs per second at the PEAK_QUANTILE product time (GFLOP/s = 2 x this)
    size: int
    repeats: int
    threads: int
    median_gmacs: float  # at the median product time
    samples_s: tuple[float, ...]
    cpu_share: float = 1.0  # process CPU time / wall time during the products (below 1: a shared core)


def matmul_rate(size: int = 512, repeats: int = 200) -> dict:
    """In this process: time ``a @ b`` for two (size, size) float32 matrices; {gmacs (at the PEAK_QUANTILE time),
    median_gmacs, samples_s, cpu_share}. ``cpu_share`` = process CPU time / wall time over the repeats: about 1.0
    for one thread that had a core to itself, lower when other jobs took the core."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    out = np.empty((size, size), dtype=np.float32)
    np.matmul(a, b, out=out)  # warm-up: BLAS thread pool, page faults of ``out``
    samples = []
    cpu_start = time.process_time()
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        samples.append(time.perf_counter() - start)
    cpu_share = (time.process_time() - cpu_start) / sum(samples)
    fast, median = np.percentile(samples, [PEAK_QUANTILE, 50])
    return {"gmacs": size**3 / fast / 1e9, "median_gmacs": size**3 / median / 1e9, "samples_s": samples,
            "cpu_share": cpu_share}


def measure_peak(size: int = 512, repeats: int = 200, threads: int = 1, timeout_s: float = 300.0) -> PeakRate:
    """``matmul_rate`` in a fresh interpreter with every thread-count variable set to ``threads``."""
    env = {**os.environ, **{name: str(threads) for name in THREAD_VARIABLES}}
    from edgekit.profile.child import run_child

    result = run_child("edgekit.profile.peak", [str(size), str(repeats)], env, PEAK_PREFIX,
                       "the peak matmul measurement", timeout_s)
    return PeakRate(result["gmacs"], size, repeats, threads, result["median_gmacs"], tuple(result["samples_s"]),
                    result["cpu_share"])


def cpu_model() -> str:
    """'model name' of the first CPU in /proc/cpuinfo, else what ``platform`` knows."""
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or platform.machine()


def floor_ms(macs: float, gmacs: float) -> float:
    """Milliseconds that ``macs`` multiply-adds take at ``gmacs`` x 1e9 MACs per second."""
    if gmacs <= 0:
        raise ValueError(f"the MAC rate must be positive, got {gmacs}")
    return macs / (gmacs * 1e9) * 1e3


def floor_ratio(latency_ms: float | None, macs: float | None, gmacs: float) -> float | None:
    """latency / floor: 1.0 means the model runs at the matmul peak; None when either is unknown."""
    if not latency_ms or not macs:
        return None
    return latency_ms / floor_ms(macs, gmacs)


def main(argv: list[str]) -> int:
    size, repeats = (int(v) for v in argv[:2])
    print(PEAK_PREFIX + json.dumps(matmul_rate(size, repeats)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
