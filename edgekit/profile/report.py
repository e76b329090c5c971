"""Profile results: one ``Measurement`` per configuration, the printed table, ratios to a baseline, and the JSON,
CSV and latency-distribution plot (all written atomically)."""
from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from edgekit import report_table
from edgekit.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text


@dataclass(frozen=True)
class Measurement:
    """One file x backend x precision x threads x batch. Times in milliseconds of one model call (a batch)."""

    name: str  # the file's label (artifact/file, file name or peer name)
    backend: str  # onnxruntime | tflite | torch | tensorrt
    precision: str
    threads: int | None
    batch: int
    where: str = "host"  # host | adb:SERIAL | trtexec
    file_mb: float | None = None
    mmacs: float | None = None  # million multiply-accumulates per image (FLOPs = 2 x MACs)
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    mean_ms: float | None = None
    images_per_s: float | None = None
    peak_rss_mb: float | None = None  # peak resident memory of the measuring process
    preprocess_ms: float | None = None  # one face: crop + normalize, median
    decode_ms: float | None = None  # one batch: decode + map to image pixels, median
    runs: int = 0
    ratio: float | None = None  # p50 / the baseline's p50 at the same threads and batch
    note: str = ""
    samples_ms: tuple[float, ...] = field(default=(), repr=False)  # every timed call, for the plot

    @property
    def config(self) -> str:
        threads = "" if self.threads is None else f" {self.threads}t"
        return f"{self.name} {self.backend} {self.precision}{threads} b{self.batch}"


def latency_stats(samples_ms: Sequence[float], batch: int) -> dict[str, float]:
    """p50/p90/p99/mean (ms) of the timed calls and throughput = images / total time."""
    times = np.asarray(samples_ms, dtype=np.float64)
    p50, p90, p99 = np.percentile(times, [50, 90, 99])
    return {"p50_ms": float(p50), "p90_ms": float(p90), "p99_ms": float(p99), "mean_ms": float(times.mean()),
            "images_per_s": float(batch * 1000.0 * len(times) / times.sum())}


def with_ratios(rows: Sequence[Measurement], baseline: str | None = None) -> list[Measurement]:
    """Each row's p50 divided by the baseline file's p50 at the same threads and batch (baseline: the first
    name, or the name containing ``baseline``)."""
    names = list(dict.fromkeys(r.name for r in rows))
    if not names:
        return []
    base_name = names[0] if baseline is None else _match(names, baseline)
    base = {(r.threads, r.batch): r.p50_ms for r in rows if r.name == base_name and r.p50_ms and r.where == "host"}
    out = []
    for row in rows:
        reference = base.get((row.threads, row.batch))
        ratio = row.p50_ms / reference if row.p50_ms and reference else None
        out.append(dataclasses.replace(row, ratio=ratio))
    return out


def _match(names: list[str], wanted: str) -> str:
    from edgekit.errors import EdgekitError

    found = [n for n in names if n == wanted] or [n for n in names if wanted in n]
    if not found:
        raise EdgekitError(f"--baseline '{wanted}' matches no profiled file (files: {', '.join(names)})")
    return found[0]


COLUMNS = [("name", "file"), ("backend", "backend"), ("precision", "prec"), ("threads", "thr"), ("batch", "batch"),
           ("where", "where"), ("p50_ms", "p50 ms"), ("p90_ms", "p90 ms"), ("p99_ms", "p99 ms"),
           ("mean_ms", "mean ms"), ("images_per_s", "img/s"), ("ratio", "x base"), ("preprocess_ms", "pre ms"),
           ("decode_ms", "dec ms"), ("peak_rss_mb", "RSS MB"), ("file_mb", "file MB"), ("mmacs", "MMACs"),
           ("note", "note")]


def format_table(rows: Sequence[Measurement]) -> str:
    """A fixed-width text table, one line per configuration (``edgekit.report_table``)."""
    return report_table.format_table([title for _, title in COLUMNS],
                                     [[getattr(r, key) for key, _ in COLUMNS] for r in rows])


def as_dict(row: Measurement, samples: bool = True) -> dict:
    data = dataclasses.asdict(row)
    if samples:
        data["samples_ms"] = list(row.samples_ms)
    else:
        del data["samples_ms"]
    return data


def write_json(path: str | Path, rows: Sequence[Measurement], context: dict) -> Path:
    return atomic_write_json(path, {**context, "results": [as_dict(r) for r in rows]})


def write_csv(path: str | Path, rows: Sequence[Measurement]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[key for key, _ in COLUMNS] + ["runs"], extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in as_dict(row, samples=False).items()})
    return atomic_write_text(path, buffer.getvalue())


def write_plot(path: str | Path, rows: Sequence[Measurement]) -> Path | None:
    """Latency bars of every timed configuration, grouped by model (``edgekit.profile.plot``), as a PNG; None when
    nothing was timed."""
    from edgekit.profile.plot import latency_png

    png = latency_png(rows)
    return None if png is None else atomic_write_bytes(path, png)


def record_in_artifacts(rows: Sequence[Measurement], artifacts: dict[str, Path], context: dict) -> list[Path]:
    """Write each artifact's own rows into its manifest as ``checks.profile`` (atomic; ``edgekit profile --record``
    only); ``artifacts`` maps a row name to the artifact folder it came from."""
    from edgekit.artifact import read_manifest, write_manifest
    from edgekit.checks import Profile

    written = []
    for folder in sorted(set(artifacts.values())):
        mine = [as_dict(r, samples=False) for r in rows if artifacts.get(r.name) == folder and r.where == "host"]
        manifest = read_manifest(folder, verify=False)  # files were verified when profiling opened them
        written.append(write_manifest(folder, manifest.with_checks(profile=Profile(dict(context), tuple(mine)))))
    return written
