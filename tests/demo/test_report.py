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


def test_sensitivity_is_a_markdown_table():
    from edgekit.checks import Sensitivity
    from edgekit.demo.report import sensitivity_table

    records = {
        "onnx": Sensitivity("minmax", 40, ("conv_1", "conv_2", "add_3", "fc"), 0.012, True, latency_cost_ms=0.051),
        "tflite": Sensitivity("percentile 99.99", 40, (), None, False),
    }
    assert sensitivity_table(records).splitlines() == [
        "| format | calibration | candidates | in float | layers | delta | gate | latency cost |",
        "| --- | --- | ---: | ---: | --- | ---: | --- | ---: |",
        "| onnx | minmax | 40 | 4 | `conv_1`, `conv_2`, `add_3` +1 more | 0.012 | PASS | +0.051 ms |",
        "| tflite | percentile 99.99 | 40 | 0 | none | - | FAIL | - |",
    ]
