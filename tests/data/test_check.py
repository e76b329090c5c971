"""``edgekit data check``: the report, exit codes 0 / 1 / 2, one line per bad file and no traceback.
(CLI tests for the data verb live here with the data package, beside check.py.)"""
from __future__ import annotations

import json

import numpy as np
import pytest

from edgekit.data.check import check_folder, report_lines
from edgekit.data.readers import format_pts
from edgekit.data.synthetic import write_synthetic_folder


@pytest.fixture()
def messy(tmp_path):
    """One valid synthetic face and three bad files, each with a valid partner so it is the only fault."""
    folder = tmp_path / "messy"
    good, cut, empty, short = write_synthetic_folder(folder, 4, np.random.default_rng(0), size=96)
    cut.write_bytes(cut.read_bytes()[:600])  # truncated JPEG
    empty.write_bytes(b"")  # zero-byte .jpg
    points = np.loadtxt(short.with_suffix(".pts"), skiprows=3, max_rows=67)
    short.with_suffix(".pts").write_text(format_pts(points))  # 67 points
    return folder, {cut.name: "truncated or corrupt JPEG", empty.name: "empty (0 bytes)",
                    short.with_suffix(".pts").name: "67 points match no known scheme"}


def test_cli_reports_one_line_per_bad_file(run_cli, messy, tmp_path):
    folder, expected = messy
    code, out, err = run_cli("data", "check", folder, "--json", tmp_path / "report.json")
    assert code == 1 and err == "" and "Traceback" not in out
    lines = out.splitlines()
    assert lines[:5] == [f"root: {folder}", "formats: pts 1", "schemes: ibug68 1", "pose labels: no", "count: 1"]
    problem_lines = lines[5:-1]
    assert len(problem_lines) == 3 and lines[-1] == "problems: 3"
    for line in problem_lines:
        path, message = line.split(": ", 1)
        assert expected[path.rsplit("/", 1)[-1]] in message
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["count"] == 1 and len(report["problems"]) == 3


def test_cli_clean_folder_and_decode(run_cli, tmp_path):
    write_synthetic_folder(tmp_path / "ok", 2, np.random.default_rng(1), size=64)
    code, out, _ = run_cli("data", "check", tmp_path / "ok", "--decode")
    assert code == 0 and out.splitlines()[-2:] == ["count: 2", "problems: 0"]


def test_cli_missing_folder_exits_2_with_one_line(run_cli, tmp_path):
    code, out, err = run_cli("data", "check", tmp_path / "absent")
    assert code == 2 and out == ""
    assert err == f"edgekit: error: {tmp_path / 'absent'}: folder not found\n"


def test_cli_help(run_cli):
    with pytest.raises(SystemExit) as info:
        run_cli("data", "check", "--help")
    assert info.value.code == 0


def test_decode_catches_what_the_header_misses(tmp_path):
    """A JPEG whose header and end marker are intact but whose entropy data is garbage passes the scan's cheap
    check; --decode finds it."""
    (path,) = write_synthetic_folder(tmp_path, 1, np.random.default_rng(2), size=64)
    data = bytearray(path.read_bytes())
    sos = data.index(b"\xff\xda")
    data[sos + 2: len(data) - 2] = b"\xff" * (len(data) - sos - 4)  # destroy scan header and data
    path.write_bytes(bytes(data))
    assert check_folder(tmp_path).problems == []
    decoded = check_folder(tmp_path, decode=True)
    assert [p.path for p in decoded.problems] == [path] and decoded.samples == []
    assert report_lines(decoded)[-1] == "problems: 1"
