"""Statistics, ratios, table and outputs of the profiler (hand-computed values)."""
from __future__ import annotations

import csv
import json

import pytest

from edgekit.errors import EdgekitError
from edgekit.profile.report import (Measurement, format_table, latency_stats, record_in_artifacts, with_ratios,
                                    write_csv, write_json, write_plot)


def _row(name, threads, batch, p50, **kw):
    return Measurement(name=name, backend="onnxruntime", precision="fp32", threads=threads, batch=batch,
                       p50_ms=p50, **kw)


def test_latency_stats_by_hand():
    stats = latency_stats([1.0, 2.0, 3.0, 4.0], batch=2)
    assert stats["p50_ms"] == 2.5 and stats["mean_ms"] == 2.5
    assert stats["p90_ms"] == pytest.approx(3.7) and stats["p99_ms"] == pytest.approx(3.97)  # linear interpolation
    assert stats["images_per_s"] == pytest.approx(2 * 4 / 10e-3)  # 8 images in 10 ms


def test_ratios_to_the_first_file_or_a_named_baseline():
    rows = [_row("a.onnx", 1, 1, 2.0), _row("a.onnx", 2, 1, 1.0), _row("b.tflite", 1, 1, 4.0),
            _row("b.tflite", 2, 1, 3.0), _row("b.tflite", 1, 8, 5.0), _row("b.tflite", 1, 4, None, note="skipped")]
    assert [r.ratio for r in with_ratios(rows)] == [1.0, 1.0, 2.0, 3.0, None, None]
    assert [r.ratio for r in with_ratios(rows, "b.tflite")][:4] == [0.5, 1 / 3, 1.0, 1.0]
    assert with_ratios(rows, "tflite")[2].ratio == 1.0  # a unique part of the name is enough
    with pytest.raises(EdgekitError, match="--baseline 'c' matches no profiled file"):
        with_ratios(rows, "c")


def test_table_lists_every_configuration():
    rows = with_ratios([_row("a.onnx", 1, 1, 2.0, mmacs=110.6), _row("b", 1, 8, None, note="TFLite files run at "
                                                                                            "batch 1 only")])
    lines = format_table(rows).splitlines()
    assert len(lines) == 4 and lines[0].startswith("file") and set(lines[1]) == {"-"}
    assert "2.000" in lines[2] and "110.6" in lines[2] and lines[3].endswith("TFLite files run at batch 1 only")


def test_json_csv_and_plot_outputs(tmp_path):
    rows = [_row("a.onnx", 1, 1, 2.0, samples_ms=(1.9, 2.0, 2.2), runs=3), _row("b", 1, 8, None, note="skip")]
    write_json(tmp_path / "p.json", rows, {"host": "test"})
    data = json.loads((tmp_path / "p.json").read_text())
    assert data["host"] == "test" and data["results"][0]["samples_ms"] == [1.9, 2.0, 2.2]
    write_csv(tmp_path / "p.csv", rows)
    table = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert table[0]["p50_ms"] == "2.0" and table[1]["p50_ms"] == "" and "samples_ms" not in table[0]
    assert write_plot(tmp_path / "p.png", rows).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert write_plot(tmp_path / "none.png", rows[1:]) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv", "p.json", "p.png"]  # no temp files left


def test_results_are_recorded_in_the_artifact_manifest(tiny_artifact):
    from edgekit.artifact import read_manifest

    folder = tiny_artifact()
    rows = [_row("art/model.onnx", 1, 1, 0.5, samples_ms=(0.5,)), _row("other.onnx", 1, 1, 1.0)]
    record_in_artifacts(rows, {"art/model.onnx": folder}, {"host": "test"})
    check = read_manifest(folder).checks.profile  # verify=True: the model file is untouched
    assert check.context["host"] == "test" and [r["name"] for r in check.results] == ["art/model.onnx"]
    assert check.results[0]["p50_ms"] == 0.5 and "samples_ms" not in check.results[0]
