"""The flat HeadSpec of edgekit 0.1 files -> the ``kind / outputs / params`` form (``edgekit.heads``).

Weights json, artifacts' edgekit.json and specs embedded in model files written before the decoder table hold a
flat head: ``output`` and ``decode`` plus every decoder's fields (13, defaults included). Only the fields of the
head's own decode are kept; the others never took part in a decode. The result is checked as any new head.
"""
from __future__ import annotations

from typing import Any

from edgekit.errors import SpecError
from edgekit.serial import excerpt

FLAT_KEYS = frozenset({"output", "decode", "outputs", "num_points", "heatmap_stride", "soft_argmax_beta",
                       "local_radius", "pip_stride", "num_neighbors", "meanface", "neighbors", "num_bins",
                       "bin_width", "bin_start", "ssr_stages", "ssr_range", "ssr_lambda"})
HEATMAP_KINDS = ("heatmap_argmax", "soft_argmax", "local_soft_argmax")
# new params key <- flat key, per kind (flat keys absent from the file keep the new defaults, which are the old)
PARAM_KEYS = {
    "regression": {"num_points": "num_points"},
    "pose_regression": {},
    **{kind: {"num_points": "num_points", "stride": "heatmap_stride", "beta": "soft_argmax_beta",
              "radius": "local_radius"} for kind in HEATMAP_KINDS},
    "pip": {"stride": "pip_stride", "meanface": "meanface", "neighbors": "neighbors"},
    "bins": {"count": "num_bins", "width": "bin_width", "start": "bin_start"},
    "ssr": {"stages": "ssr_stages", "value_range": "ssr_range", "lam": "ssr_lambda"},
}
OLD_DEFAULTS = {"pip_stride": 32, "num_neighbors": 10}  # a flat pip head without them had these


def head_from_flat(data: dict[str, Any], where: str = "head") -> dict[str, Any]:
    """``{"output", "decode", "outputs", ...}`` -> ``{"kind", "outputs", "params"}``; SpecError naming the key for
    an unknown key, output or decode, or (PIPNet) counts that disagree with the neighbour table."""
    unknown = sorted(str(key) for key in data if key not in FLAT_KEYS)
    if unknown:
        raise SpecError(f"unknown key {excerpt(unknown[0])} in {where} (a flat head of edgekit 0.1)")
    kind = _kind(data.get("output"), data.get("decode"), where)
    params = {new: data[old] for new, old in PARAM_KEYS[kind].items() if old in data}
    if kind == "pip":
        params.setdefault("stride", OLD_DEFAULTS["pip_stride"])
        _check_pip_counts(data, where)
    new = {"kind": kind, "params": params}
    return {**new, "outputs": data["outputs"]} if "outputs" in data else new


def _kind(output: Any, decode: Any, where: str) -> str:
    if output not in ("landmarks", "pose"):
        raise SpecError(f"{where}.output: {excerpt(output)} is not one of 'landmarks', 'pose'")
    if decode == "regression":
        return "regression" if output == "landmarks" else "pose_regression"
    if decode not in PARAM_KEYS or decode == "pose_regression":
        raise SpecError(f"{where}.decode: {excerpt(decode)} is not an edgekit 0.1 decode")
    if (decode in ("bins", "ssr")) != (output == "pose"):
        raise SpecError(f"{where}.decode must suit a {output} head, got {excerpt(decode)}")
    return decode


def _check_pip_counts(data: dict[str, Any], where: str) -> None:
    """The flat form stated the counts PipParams now reads off its tables: they must agree."""
    neighbors = data.get("neighbors")
    if not isinstance(neighbors, list) or not all(isinstance(row, list) for row in neighbors):
        return  # the params check names the malformed table
    stated = data.get("num_points"), data.get("num_neighbors", OLD_DEFAULTS["num_neighbors"])
    found = len(neighbors), len(neighbors[0]) if neighbors else 0
    if stated != found:
        raise SpecError(f"{where}: num_points and num_neighbors {list(stated)} disagree with the neighbors table "
                        f"({found[0]} rows of {found[1]})")
