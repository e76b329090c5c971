"""``edgekit.report_table``: one aligned table for every verb."""
from __future__ import annotations

from edgekit.report_table import cell, format_table, markdown_table


def test_columns_align_and_numbers_right_align():
    text = format_table(("file", "size", "note"), [("a.onnx", "12 kB", "ok"), ("longer.tflite", "1024 kB", None)],
                        indent="  ")
    assert text.splitlines() == [
        "  file              size  note",
        "  ----------------------------",
        "  a.onnx           12 kB  ok",
        "  longer.tflite  1024 kB  -",
    ]


def test_cells_and_an_empty_table():
    assert [cell(None), cell(0.12345), cell(123.45), cell(3)] == ["-", "0.123", "123.5", "3"]
    assert format_table(("a", "bb"), []) == "a  bb\n-----"


def test_markdown_marks_numeric_columns_and_escapes_bars():
    assert markdown_table(("model", "ms"), [("a|b", 1.5)]).splitlines() == [
        "| model | ms |", "| --- | ---: |", "| a\\|b | 1.500 |"]
