"""The compute floor: the measured matmul rate (in its own pinned process) and the floor arithmetic by hand."""
from __future__ import annotations

import numpy as np
import pytest

from edgekit.profile.peak import floor_ms, floor_ratio, matmul_rate, measure_peak


def test_peak_rate_from_a_pinned_subprocess_is_positive_and_consistent():
    peak = measure_peak(size=256, repeats=3, threads=1)
    assert peak.gmacs > 0 and (peak.size, peak.repeats, peak.threads) == (256, 3, 1)
    assert len(peak.samples_s) == 3
    fast, median = np.percentile(peak.samples_s, [10, 50])  # size^3 MACs per product
    assert (peak.gmacs, peak.median_gmacs) == (pytest.approx(256**3 / fast / 1e9), pytest.approx(256**3 / median / 1e9))
    assert peak.gmacs >= peak.median_gmacs
    assert 0 < peak.cpu_share < 1.5  # one pinned thread: CPU time about wall time at most


def test_in_process_rate_uses_the_fast_tenth_and_the_median():
    result = matmul_rate(size=64, repeats=11)
    times = sorted(result["samples_s"])  # 11 samples: p10 is the 2nd fastest, p50 the 6th
    assert result["gmacs"] == pytest.approx(64**3 / times[1] / 1e9)
    assert result["median_gmacs"] == pytest.approx(64**3 / times[5] / 1e9)


def test_floor_arithmetic_by_hand():
    # 275 M MACs (a PFLD-sized net) at 50 GMAC/s: 275e6 / 50e9 s = 5.5 ms
    assert floor_ms(275e6, 50.0) == pytest.approx(5.5)
    # measured 11 ms against that 5.5 ms floor: 2x the floor
    assert floor_ratio(11.0, 275e6, 50.0) == pytest.approx(2.0)
    assert floor_ratio(None, 275e6, 50.0) is None and floor_ratio(1.0, None, 50.0) is None
    with pytest.raises(ValueError):
        floor_ms(1.0, 0.0)



def test_cpu_model_names_the_processor():
    from pathlib import Path

    from edgekit.profile.peak import cpu_model

    name = cpu_model()
    assert name and "\n" not in name
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file() and "model name" in cpuinfo.read_text():
        assert name in cpuinfo.read_text()
