"""The demo report names how INT8 was calibrated and gated (real annotated faces, or why the gate is label-free)."""
from __future__ import annotations

from edgekit.demo.faces import CalibrationChoice, shipped_faces
from edgekit.demo.report import write_report
from edgekit.demo.run import DemoConfig


def test_report_says_how_it_calibrated(tmp_path):
    choice = CalibrationChoice("calibration/default.yaml", True, "INT8 was calibrated on **real annotated faces**.")
    report = write_report(tmp_path, DemoConfig(), shipped_faces(), choice, [], [], [], 12.0)
    text = report.read_text()
    assert report == tmp_path / "report.md" and "total time 12 s" in text
    assert "Predictions and overlays: grace_hopper.jpg (shipped with matplotlib). INT8 was calibrated on **real" in text
    assert "python -m edgekit.fetch" in text  # where the MediaPipe peer comes from
