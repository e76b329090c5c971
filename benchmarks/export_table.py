"""The results table of docs/EXPORT.md: model x target x file -> size, parity, validation metric, delta vs FP32,
the gate's verdict. Written between two markers, so the rest of the page stays hand-written."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from edgekit.artifact import read_manifest
from edgekit.atomic import atomic_write_text

START, END = "<!-- export-results:start -->", "<!-- export-results:end -->"


def _metric(report: dict) -> float:
    return report["nme"] if report["task"] == "landmarks" else report["mae"]


def _unit(report: dict) -> str:
    return "%" if report["task"] == "landmarks" else "°"


def _parity(check) -> str:
    """``check``: a checks.Parity or None."""
    if check is None:
        return "-"
    value = f"{check.max_px:.2g} px" if check.max_px is not None else f"{check.max_deg:.2g}°"
    return f"{value} vs {check.against}"


def _gate(result) -> str:
    """``result``: a checks.GateResult or None."""
    if result is None:
        return "reference"
    kind = "label-free" if result.label_free else "labelled"
    verdict = "PASS" if result.passed else "FAIL"
    return f"{verdict} ({kind} Δ {result.delta:+.3f}, budget {result.budget})"


def table(files: Sequence, metrics: dict[str, dict]) -> list[str]:
    """``files``: BenchFile (model, target, file with .artifact/.path/.label); ``metrics``: label -> evaluate()."""
    fp32 = {f.model: _metric(metrics[f.file.label]) for f in files
            if f.file.path.name == "model.onnx" and f.file.label in metrics}
    lines = ["| model | target | file | precision | size kB | parity | val metric | Δ vs FP32 | gate | selected |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for f in files:
        manifest = read_manifest(f.file.artifact)
        name = f.file.path.name
        entry = next(e for e in manifest.models() if e.path == name)
        report = metrics[f.file.label]
        delta = _metric(report) - fp32[f.model] if f.model in fp32 else float("nan")
        checks = manifest.checks
        selected = "yes" if checks.selected == name else ""
        lines.append(f"| {f.model} | {f.target} | `{name}` | {entry.precision} | {entry.size / 1024:.0f} | "
                     f"{_parity(checks.parity.get(name))} | {_metric(report):.3f}{_unit(report)} | "
                     f"{delta:+.3f} | {_gate(checks.gate.files.get(name))} | {selected} |")
    return lines


def write(doc: Path, lines: list[str], context: str, markers: tuple[str, str] = (START, END)) -> Path:
    """Replace the block between ``markers`` in ``doc`` (appended when absent)."""
    start, end = markers
    text = doc.read_text(encoding="utf-8")
    block = "\n".join([start, context, "", *lines, end])
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    return atomic_write_text(doc, text)
