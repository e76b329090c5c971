"""benchmarks/decode_compare.py: which models it compares, and that one shipped model really runs under every heatmap
decode through the runtime (the table names the decode its spec ships)."""
from __future__ import annotations

import sys

import pytest

from edgekit.paths import PROJECT_DIR

sys.path.insert(0, str(PROJECT_DIR / "benchmarks"))
from decode_compare import DECODES, compare, heatmap_models, main, markdown  # noqa: E402


def test_the_heatmap_models_of_the_zoo_are_compared():
    assert {"mobilefan", "mobilefan_nokd", "mobilefan_teacher", "hourglass2"} <= set(heatmap_models())
    assert "pfld_0.25x" not in heatmap_models() and "pipnet_mbv2" not in heatmap_models()


def test_one_model_under_every_decode(shared_data):
    rows = compare("mobilefan_nokd", limit=6)
    assert [r["decode"] for r in rows] == list(DECODES)
    assert [r["shipped"] for r in rows] == [kind == "heatmap_dark" for kind in DECODES]
    assert all(r["count"] == 6 and 0 < r["nme"] < 50 for r in rows)
    assert len({round(r["nme"], 6) for r in rows}) == 3  # the decodes really differ on the same outputs
    page = markdown(rows)
    assert "| mobilefan_nokd | `heatmap_dark` |" in page and "300w-train (6)" in page


def test_a_model_it_cannot_compare_is_one_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--models", "nosuch,pfld_1x", "--out", "unused"])
    assert stop.value.code == 2
    assert "not a heatmap model with shipped weights: nosuch, pfld_1x" in capsys.readouterr().err
