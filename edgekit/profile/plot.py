"""The latency plot people can read: one horizontal bar per configuration (median of the timed calls, whisker to
p90), bars grouped and coloured by model, the group's name above its bars, a log axis when costs differ by more
than 30x. Thirty configurations are thirty labelled lines, not thirty boxes squeezed into one row."""
from __future__ import annotations

import io
from typing import Sequence

import numpy as np

BAR_INCHES = 0.28  # height of one bar's line
GAP = 0.8  # blank lines between two models' bars (the model's name sits there)


def model_of(name: str) -> tuple[str, str]:
    """(model, the rest) of a row name: 'pfld_0.25x/cpu-x86-int8/model.onnx' -> ('pfld_0.25x',
    'cpu-x86-int8/model.onnx'); a lone file or peer is its own model."""
    model, _, rest = name.partition("/")
    return model, rest or model


def groups(rows: Sequence) -> list[tuple[str, list]]:
    """(model, its rows) in first-seen order."""
    found: dict[str, list] = {}
    for row in rows:
        found.setdefault(model_of(row.name)[0], []).append(row)
    return list(found.items())


def bar_label(row) -> str:
    threads = "" if row.threads is None else f" {row.threads}t"
    return f"{model_of(row.name)[1]} {row.precision}{threads} b{row.batch}"


def _median_p90(row) -> tuple[float, float]:
    """From the timed calls themselves (a row's percentiles may be unset)."""
    median, p90 = np.percentile(row.samples_ms, [50, 90])
    return float(median), float(p90)


def latency_png(rows: Sequence) -> bytes | None:
    """PNG bytes of the plot of the rows with timed calls (``profile.report.Measurement``); None without any."""
    timed = [r for r in rows if r.samples_ms]
    if not timed:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grouped = groups(timed)
    fig, ax = plt.subplots(figsize=(9.0, 1.2 + BAR_INCHES * (len(timed) + GAP * len(grouped))))
    ticks, labels, y = [], [], 0.0
    for index, (model, members) in enumerate(grouped):
        y += GAP
        ax.text(0, y - GAP / 2 - 0.5, model, transform=ax.get_yaxis_transform(), fontsize=8, fontweight="bold")
        for row in members:
            median, p90 = _median_p90(row)
            ax.barh(y, median, xerr=[[0], [p90 - median]], color=f"C{index % 10}", height=0.7, capsize=2,
                    error_kw={"elinewidth": 0.8})
            ticks.append(y)
            labels.append(bar_label(row))
            y += 1
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.set_ylim(y, -0.2)  # first model on top
    spans = [_median_p90(r) for r in timed]
    if max(p90 for _, p90 in spans) / max(min(median for median, _ in spans), 1e-9) > 30:
        ax.set_xscale("log")
    ax.set_xlabel("latency per call, ms (bar: median; whisker: p90; warm-up excluded)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()
