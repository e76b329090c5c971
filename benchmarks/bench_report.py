"""The benchmark's rows, its one target check, the markdown table and the two plots (all written atomically).

A ``BenchRow`` is one model file: its accuracy on the validation data and its batch-1 latency at each thread
count, joined from the profile ``Measurement`` rows (one per file x threads) and the evaluation reports.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from edgekit.atomic import atomic_write_bytes
from edgekit.profile.peak import floor_ratio
from edgekit.profile.report import Measurement

TARGET_MODEL = "pfld_0.25x"
TARGET_RATIO = 0.25  # PFLD-0.25x INT8 at 1 thread must take <= 1/4 of MediaPipe's face mesh at 1 thread


@dataclass(frozen=True)
class BenchRow:
    model: str  # registered name, or the peer's name
    file: str  # file name inside its artifact
    backend: str
    precision: str
    task: str  # landmarks | pose | "" (peer: not evaluated)
    metric: dict | None  # evaluate()'s report: nme/fr/auc or yaw/pitch/roll/mae, count
    p50_ms: dict[int, float] = field(default_factory=dict)  # threads -> median latency of one batch-1 call
    ratio: dict[int, float] = field(default_factory=dict)  # threads -> p50 / MediaPipe's p50 at those threads
    mmacs: float | None = None
    file_mb: float | None = None

    def floor_ratio(self, gmacs: float) -> float | None:
        """1-thread p50 / (MACs at the measured 1-thread matmul peak)."""
        return floor_ratio(self.p50_ms.get(1), None if self.mmacs is None else self.mmacs * 1e6, gmacs)


def bench_rows(measurements: Sequence[Measurement], owners: dict[str, tuple[str, str]],
               metrics: dict[str, dict]) -> list[BenchRow]:
    """One row per profiled file, in profile order. ``owners``: label -> (model, file name); labels missing
    from it (the peer) keep their own name. ``metrics``: label -> evaluation report."""
    rows: dict[str, BenchRow] = {}
    for m in measurements:
        if m.name not in rows:
            model, file = owners.get(m.name, (m.name, m.name))
            metric = metrics.get(m.name)
            rows[m.name] = BenchRow(model, file, m.backend, m.precision, metric["task"] if metric else "", metric,
                                    mmacs=m.mmacs, file_mb=m.file_mb)
        if m.p50_ms is not None and m.threads is not None:
            rows[m.name].p50_ms[m.threads] = m.p50_ms
            if m.ratio is not None:
                rows[m.name].ratio[m.threads] = m.ratio
    return list(rows.values())


@dataclass(frozen=True)
class Verdict:
    file: str
    p50_ms: float
    peer_ms: float
    ratio: float
    passed: bool

    def text(self) -> str:
        state = "PASS" if self.passed else "FAIL"
        return (f"{TARGET_MODEL} INT8 within the accuracy budget, best backend ({self.file}), 1 thread: "
                f"{self.p50_ms:.3f} ms vs MediaPipe {self.peer_ms:.3f} ms = {self.ratio:.3f}x "
                f"(target <= {TARGET_RATIO:g}x): {state}")


def target_verdict(rows: Sequence[BenchRow], peer_model: str,
                   passing: set[tuple[str, str]] | None = None) -> Verdict | None:
    """The fastest 1-thread INT8 file of TARGET_MODEL against the peer at 1 thread; None when either is missing.
    ``passing``: the (model, file) pairs that passed the exporter's accuracy gate; only those compete when given
    (an INT8 file over the accuracy budget is not a deployable result, however fast)."""
    peer = [r.p50_ms[1] for r in rows if r.model == peer_model and 1 in r.p50_ms]
    int8 = [r for r in rows if r.model == TARGET_MODEL and r.precision == "int8" and 1 in r.p50_ms
            and (passing is None or (r.model, r.file) in passing)]
    if not peer or not int8:
        return None
    best = min(int8, key=lambda r: r.p50_ms[1])
    ratio = best.p50_ms[1] / peer[0]
    return Verdict(best.file, best.p50_ms[1], peer[0], ratio, ratio <= TARGET_RATIO)


# ----------------------------------------------------------------------------- text


def metric_text(metric: dict | None) -> str:
    if not metric:
        return "n/a"
    if metric["task"] == "landmarks":
        return f"NME {metric['nme']:.2f}%, FR {metric['fr']:.1f}%, AUC {metric['auc']:.3f}"
    return (f"MAE {metric['mae']:.2f}° (yaw {metric['yaw']:.2f}, pitch {metric['pitch']:.2f}, "
            f"roll {metric['roll']:.2f})")


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


TABLE_HEAD = ("| model | file | backend | precision | metric (val) | 1T p50 ms | 2T p50 ms | x MediaPipe 1T "
              "| x MediaPipe 2T | MMACs | x floor (1T) |")


def markdown_table(rows: Sequence[BenchRow], gmacs: float) -> list[str]:
    lines = [TABLE_HEAD, "|" + "---|" * TABLE_HEAD.count(" | ") + "---|"]
    for r in rows:
        cells = [r.model, f"`{r.file}`", r.backend, r.precision, metric_text(r.metric), _num(r.p50_ms.get(1)),
                 _num(r.p50_ms.get(2)), _num(r.ratio.get(1), 2), _num(r.ratio.get(2), 2), _num(r.mmacs, 1),
                 _num(r.floor_ratio(gmacs), 1)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


# ----------------------------------------------------------------------------- plots


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def latency_plot(rows: Sequence[BenchRow], threads: Sequence[int], path: Path) -> Path:
    """Grouped bars: median batch-1 latency of every file at each thread count."""
    plt = _pyplot()
    labels = [f"{r.model}\n{r.file}" for r in rows]
    width = 0.8 / len(threads)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(rows) + 2), 4.5))
    for i, count in enumerate(threads):
        xs = [k + (i - (len(threads) - 1) / 2) * width for k in range(len(rows))]
        ax.bar(xs, [r.p50_ms.get(count, 0.0) for r in rows], width, label=f"{count} thread{'s' * (count > 1)}")
    ax.set_xticks(range(len(rows)), labels, fontsize=7, rotation=30, ha="right")
    ax.set_ylabel("p50 latency per image (ms, batch 1)")
    ax.set_title("edgekit benchmark: latency (MediaPipe face mesh as the peer)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    return _save(fig, path)


def accuracy_plot(rows: Sequence[BenchRow], path: Path) -> Path | None:
    """Scatter per task: validation metric (NME % or MAE °) against the 1-thread p50; None with no metric."""
    tasks = [t for t in ("landmarks", "pose") if any(r.task == t and 1 in r.p50_ms for r in rows)]
    if not tasks:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(tasks), figsize=(6.0 * len(tasks), 4.5), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        key, unit = ("nme", "NME (%)") if task == "landmarks" else ("mae", "MAE (°)")
        for i, r in enumerate(r for r in rows if r.task == task and 1 in r.p50_ms):
            ax.scatter(r.p50_ms[1], r.metric[key], marker="o" if r.backend == "onnxruntime" else "s")
            ax.annotate(f"{r.model} {r.file}", (r.p50_ms[1], r.metric[key]), fontsize=7,
                        textcoords="offset points", xytext=(4, 4 if i % 2 else -10))  # alternate: equal scores
        ax.set(xlabel="p50 latency, 1 thread (ms)", ylabel=f"validation {unit}", title=f"{task}: accuracy vs latency")
        ax.grid(alpha=0.3)
    return _save(fig, path)
