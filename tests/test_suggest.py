"""``edgekit.suggest``: close names for the one-line error."""
from __future__ import annotations

from edgekit.suggest import close_names, did_you_mean


def test_close_names_best_first_and_case_insensitive():
    assert close_names("pfl_0.25x", ["pfld_1x", "pfld_0.25x", "fsanet"]) == ["pfld_0.25x", "pfld_1x"]
    assert close_names("FSANET", ["fsanet", "ssrnet_md"]) == ["fsanet"]


def test_did_you_mean_text():
    assert did_you_mean("evl", ["eval", "export", "list"]) == " (did you mean 'eval'?)"
    assert did_you_mean("zzz", ["eval", "export"]) == ""
