"""The demo's markdown report: exports (parity, gate, latency), predictions on a real face, the profile table."""
from __future__ import annotations

import os
import platform
from pathlib import Path

from edgekit.artifact import read_manifest
from edgekit.atomic import atomic_write_text


def write_report(out: Path, config, faces, calibration, exported, predictions, rows, seconds: float) -> Path:
    from edgekit.profile.report import format_table

    lines = [
        "# edgekit demo report",
        "",
        f"Host: {platform.machine()}, {os.cpu_count()} cores, {platform.system()}; total time {seconds:.0f} s.",
        f"Models: {', '.join(config.models)} (shipped weights). Targets: {', '.join(config.targets)}.",
        "",
        "## Faces",
        f"Predictions and overlays: {', '.join(f.name for f in faces)} (shipped with matplotlib). "
        + calibration.text,
        "",
        "## Exports",
    ]
    for item in exported:
        lines += _export_section(item)
    lines += ["## Predictions on the real face", "",
              "Every exported file predicts on the same face box; the difference is from the torch model.", "",
              "| model | target | file | precision | vs torch | pose (yaw, pitch, roll) |", "|---|---|---|---|---|---|"]
    for p in predictions:
        pose = "" if p.pose is None else ", ".join(f"{a:.1f}" for a in p.pose)
        lines.append(f"| {p.model} | {p.target} | {p.file} | {p.precision} | {p.vs_torch:.3g} {p.unit} | {pose} |")
    lines += [""] + [f"![{p.file}]({p.overlay.relative_to(out)})" for p in _one_per_model(predictions)]
    lines += ["", "## Profile (this machine)", "",
              "Batch 1, each configuration in its own process, warm-up excluded; ratio = p50 / the first row's "
              "p50 at the same thread count (MediaPipe's face-mesh model when it is installed: `python -m edgekit.fetch`).",
              "",
              "```", format_table(rows), "```", "", "![latency](latency.png)", ""]
    return atomic_write_text(out / "report.md", "\n".join(lines) + "\n")


def _export_section(item) -> list[str]:
    from edgekit.checks import summarize

    manifest = read_manifest(item.folder)
    checks = manifest.checks
    lines = [f"### {item.model} → {item.target} ({item.seconds:.0f} s, selected: {checks.selected or '-'})", "",
             "| file | precision | size kB | parity | gate | host latency 1 thread |", "|---|---|---|---|---|---|"]
    for row in summarize(manifest):
        decoded = "-" if row.parity is None else row.parity.text().replace(" deg", "°")
        g = row.gate
        verdict = "-" if g is None else f"{g.metric} Δ {g.delta:+.3f} (budget {g.budget}) {'PASS' if g.passed else 'FAIL'}"
        ms = row.latency_ms
        lines.append(f"| {row.path} | {row.precision} | {row.size / 1024:.0f} | {decoded} | {verdict} | "
                     f"{'-' if ms is None else f'{ms:.3f} ms'} |")
    if checks.sensitivity:
        lines += ["", "Sensitivity fallback (layers kept in float until the gate passed):", "",
                  sensitivity_table(checks.sensitivity)]
    return lines + [""]


SHOWN_LAYERS = 3  # layer names listed per format; the rest counted


def sensitivity_table(sensitivity: dict) -> str:
    """One markdown row per format (``checks.Sensitivity``): where the search started, how many layers it could
    keep in float, which it kept, the gate delta it reached and its latency cost."""
    from edgekit.report_table import markdown_table

    def kept(record) -> str:
        names = list(record.float_layers)
        more = f" +{len(names) - SHOWN_LAYERS} more" if len(names) > SHOWN_LAYERS else ""
        return (", ".join(f"`{n}`" for n in names[:SHOWN_LAYERS]) + more) or "none"

    rows = [(fmt, r.calibration, r.candidates, len(r.float_layers), kept(r), r.delta, "PASS" if r.passed else "FAIL",
             None if r.latency_cost_ms is None else f"{r.latency_cost_ms:+.3f} ms") for fmt, r in sensitivity.items()]
    return markdown_table(("format", "calibration", "candidates", "in float", "layers", "delta", "gate",
                           "latency cost"), rows)


def _one_per_model(predictions):
    seen, chosen = set(), []
    for p in predictions:
        key = (p.model, p.precision)
        if key not in seen and p.file.endswith((".onnx", ".tflite")):
            seen.add(key)
            chosen.append(p)
    return chosen
