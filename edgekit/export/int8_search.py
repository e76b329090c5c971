"""The one INT8 search, for every backend's ``Quantizer`` (``edgekit.backend.quantizer``):

0. calibrate with the target's ``int8`` section, gate the file (``model.int8.<ext>``);
1. over budget: Percentile ranges instead (``recalibrate``: 99.99, 99.9, 99.5 in order): one outlier in a
   calibration image stretches a min/max range over codes no other value uses (PIPNet-MobileNetV3's hard-swish /
   squeeze-excite activations: +2.0 NME with MinMax, -0.2 with Percentile 99.9 on 200 val faces); a recalibrated
   file within budget ships as ``model.int8-pP.<ext>``;
2. still over budget: the layer fallback (``layer_fallback``), from the best calibration: layers the runtime
   refuses in integer go to float first; ``pick_base`` chooses between calibrations; the layers without weights
   (elementwise, reductions, pooling: decode tails, capsules, SSR stages) are tried in float together; then the
   ``TRIALS`` layers whose own quantization costs most SQNR are each tried alone, and a greedy pass keeps those
   that lower the delta until the budget holds (at most ``int8.max_float_layers``): ``model.int8-mixed.<ext>``.

Ranking by the SQNR a layer's quantization *costs* (its inputs' SQNR minus its output's) rather than its output
SQNR: the deepest layers have a low SQNR only because of upstream noise.
"""
from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import numpy as np

from edgekit.backend.formats import with_companions
from edgekit.backend.quantizer import Quantizer
from edgekit.checks import Recalibration, Sensitivity, number
from edgekit.errors import ModelFileError
from edgekit.progress import progress

Base = TypeVar("Base")  # a backend's quantizer
TRIALS = 12  # layers, by SQNR cost, each tried alone in float before the greedy pass


def search_int8(ex: Any, quantizer: Quantizer, fmt: str, layout: str) -> None:
    """Steps 0-2 for one format; ``ex``: the export (``edgekit.export.pipeline.Export``) whose gate, folder and
    manifest the files go through."""
    first = quantizer.quantize(ex.folder / f"model.int8{quantizer.suffix}")
    ex.record_quantization(fmt, quantizer.record())
    delta = ex.ship_quantized(first, fmt, "int8", layout, quantizer.notes)
    if delta <= ex.gate.budget:
        return
    ex.log(f"sensitivity: {first.name} is over budget or does not run")
    best, path, trials = _recalibrate(ex, quantizer, fmt, delta)
    if path is not None:
        shipped = ex.folder / f"model.int8-p{best:g}{quantizer.suffix}"
        for source, destination in zip(with_companions(path), with_companions(shipped)):
            shutil.move(source, destination)  # from the scratch folder (/tmp): maybe another file system
        ex.ship_quantized(shipped, fmt, "int8", layout, f"{ex.calibration_name(best)} (recalibrated: "
                          f"{ex.calibration_name(None)} was over budget)")
        ex.log(f"recalibration: {shipped.name} within budget")
        return
    if ex.int8.fallback:
        bases = [(ex.calibration_name(None), quantizer)] + \
            ([(ex.calibration_name(best), trials[best])] if best is not None else [])
        _ship_mixed(ex, bases, fmt, layout, ex.folder / f"model.int8-mixed{quantizer.suffix}", first.name)


def _recalibrate(ex: Any, quantizer: Quantizer, fmt: str, delta: float) -> tuple[float | None, Path | None, dict]:
    """Step 1: (best percentile or None, its file when within budget, the quantizer of each percentile tried).
    New ranges do not make a runtime run an op it refuses (a file that does not run goes straight to step 2)."""
    trials: dict[float, Quantizer] = {}

    def write(percentile: float) -> Path:
        trials[percentile] = quantizer.with_percentile(percentile)
        return trials[percentile].quantize(ex.work / f"int8-p{percentile:g}{quantizer.suffix}")

    percentiles = ex.percentiles() if math.isfinite(delta) else ()
    best, path, record = recalibrate(percentiles, write, ex.trial_delta, delta, ex.gate.budget, ex.log)
    ex.record_recalibration(fmt, record)
    return best, path if record.passed and best is not None else None, trials


def _ship_mixed(ex: Any, bases: list, fmt: str, layout: str, mixed: Path, all_int8: str) -> None:
    ex.log("sensitivity: keeping the layers whose quantization costs most in float")
    try:
        record = layer_fallback(bases, mixed, ex.gate_delta, ex.gate.budget, ex.int8.max_float_layers, ex.log)
    except ModelFileError as exc:
        ex.fail(mixed, exc.message)
        ex.log(f"sensitivity: no runnable mixed {fmt} file, not shipped: {exc.message}")
        return
    notes = f"INT8 ({record.calibration}) with {len(record.float_layers)} layers in float"
    ex.ship_quantized(mixed, fmt, "mixed", layout, notes)
    reference = ex.manifest.checks.latency.files.get(all_int8)
    latency = ex.manifest.checks.latency.files.get(mixed.name)
    cost = None if reference is None or latency is None else latency - reference
    ex.record_sensitivity(fmt, Sensitivity(**{**record.__dict__, "latency_cost_ms": cost}))
    state = "within budget" if record.passed else "STILL OVER BUDGET"
    cost_text = "" if cost is None else f", latency cost {cost:+.3f} ms"
    ex.log(f"sensitivity: {fmt} {len(record.float_layers)} layers kept in float, {state}{cost_text}")


def layer_fallback(bases: Sequence[tuple[str, Quantizer]], out: Path, gate_delta: Callable[[Path], float],
                   budget: float, max_layers: int, log: Callable[[str], None], trials: int = TRIALS) -> Sensitivity:
    """Step 2: write ``out`` with layers kept in float until ``gate_delta(out)`` (the gate's metric delta; raises
    ModelFileError when the runtime cannot run the file) is within ``budget``. ``bases``: (name, quantizer) of
    the calibrations it may start from, the target's first."""
    name, quantizer = bases[0]
    layers = quantizer.layers(quantizer.quantize(out))
    forced, delta = _runnable(quantizer, out, layers, gate_delta, log)  # ``out`` now holds that file

    def written_delta() -> float:
        try:
            return gate_delta(out)
        except ModelFileError:
            return math.inf

    def write_with(base: Quantizer, kept: list[str]) -> None:
        base.quantize(out, forced + kept)

    candidates = [layer for layer in layers if layer not in forced]
    unweighted = [layer for layer in candidates if not quantizer.weighted(layer)]
    if len(bases) > 1:
        name, quantizer = pick_base(bases, write_with, written_delta, unweighted, log)
        write_with(quantizer, [])
        delta = written_delta()
    drops = quantizer.layer_errors(out, layers)
    record = keep_in_float(candidates, drops, lambda kept: write_with(quantizer, kept), written_delta, delta,
                           budget, max_layers, trials, log, unweighted, quantizer.label)
    return Sensitivity(calibration=name, float_layers=tuple(forced) + record.pop("float_layers"),
                       float_op_types=tuple(sorted({quantizer.op_type(layer) for layer in forced})), **record)


def _runnable(quantizer: Quantizer, out: Path, layers: list[str], gate_delta: Callable[[Path], float],
              log: Callable[[str], None]) -> tuple[list[str], float]:
    """(layers forced to float so that the runtime runs ``out``, its gate delta), from the all-INT8 ``out``: the
    quantizer names what a failure asks for; the error is raised when it names nothing new."""
    forced: list[str] = []
    while True:
        try:
            return forced, gate_delta(out)
        except ModelFileError as exc:
            more = [layer for layer in quantizer.refused(exc.message, layers) if layer not in forced]
            if not more:
                raise
            forced += more
            log(f"  sensitivity: the runtime cannot run {len(more)} integer {quantizer.op_type(more[0])} ops: "
                "they stay in float")
            quantizer.quantize(out, forced)


def pick_base(bases: Sequence[tuple[str, Base]], write: Callable[[Base, list[str]], object],
              written_delta: Callable[[], float], unweighted: list[str],
              log: Callable[[str], None]) -> tuple[str, Base]:
    """The (name, base) the layer search starts from, of several calibrations: the one whose file with the layers
    without weights in float scores best. The all-INT8 ranking can differ: FSA-Net TFLite on the demo's faces,
    Percentile 99.99 0.70 vs MinMax 0.81 deg all-INT8, but 0.25 vs 0.16 with those layers in float."""
    if len(bases) < 2 or not unweighted:
        return bases[0]
    scores = []
    for name, base in bases:
        write(base, unweighted)
        scores.append(written_delta())
        log(f"  sensitivity: {name}, the {len(unweighted)} layers without weights in float -> delta {scores[-1]:.4f}")
    return bases[int(np.argmin(scores))]


def recalibrate(percentiles: tuple[float, ...], write: Callable[[float], Path], delta_of: Callable[[Path], float],
                delta: float, budget: float, log: Callable[[str], None]) -> tuple[float | None, Path | None, Recalibration]:
    """Step 0 for any backend: ``write(p)`` writes the file quantized with Percentile-``p`` ranges and returns its
    path, ``delta_of(path)`` gates it (inf when it does not run); ``delta``: the target's calibration's delta.
    Stops at the first percentile within budget. Returns (best percentile or None when none beat the target's
    calibration, its file, the record for the manifest)."""
    best, best_path, tried = None, None, {}
    for percentile in progress(percentiles, "recalibration", unit="try"):
        if delta <= budget:
            break
        path = write(percentile)
        tried[f"{percentile:g}"] = number(trial := delta_of(path))
        log(f"  recalibration: percentile {percentile:g} ranges -> delta {trial:.4f}")
        if trial < delta:
            best, best_path, delta = percentile, path, trial
    return best, best_path, Recalibration(tried, best, number(delta), bool(delta <= budget))


def keep_in_float(candidates: list[str], drops: dict[str, float], write: Callable[[list[str]], object],
                  written_delta: Callable[[], float], delta: float, budget: float, max_layers: int, trials: int,
                  log: Callable[[str], None], unweighted: list[str] = (), label: Callable[[str], str] = str) -> dict:
    """Steps 2 and 3 for any backend: ``write(kept)`` writes the file with the layers ``kept`` in float,
    ``written_delta()`` gates it (inf when it does not run); ``delta``: the all-INT8 file's.

    ``unweighted``: the layers without weights (the elementwise / reduction / normalization ops of a decode
    tail, capsules, SSR stages) are first tried in float together, since their error adds up over many small ops
    no single one of which shows it (FSA-Net: INT8 +0.48 deg MAE, +0.005 deg with only these in float). They stay
    in float when that lowers the delta; the per-layer search then goes on from there."""
    kept: list[str] = []
    if unweighted and delta > budget:
        write(list(unweighted))
        trial = written_delta()
        if trial < delta:
            kept, delta = list(unweighted), trial
            log(f"  sensitivity: keeping the {len(kept)} layers without weights in float -> delta {delta:.4f}")
    rest = [name for name in candidates if name not in kept]
    shortlist = sorted(rest, key=lambda n: -drops.get(n, 0.0))[: max(trials, 1)] if delta > budget else []
    single = {}
    for node in progress(shortlist, "sensitivity search", unit="layer"):  # this node (and those kept) in float
        write([*kept, node])
        single[node] = written_delta()
    added = 0
    for node in sorted(single, key=single.get):
        if delta <= budget or added >= max_layers:
            break
        write([*kept, node])
        trial = written_delta()
        if trial < delta:
            kept, delta, added = [*kept, node], trial, added + 1
            log(f"  sensitivity: keeping {label(node)} in float -> delta {delta:.4f}")
    write(kept)
    return {"candidates": len(candidates), "sqnr_drop_db": {n: _finite(drops.get(n, 0.0)) for n in shortlist},
            "single_node_delta": {n: number(v) for n, v in single.items()}, "float_layers": tuple(kept),
            "unweighted_in_float": bool(unweighted) and set(unweighted) <= set(kept),
            "delta": number(delta), "passed": bool(delta <= budget)}


def _finite(value: float) -> float | None:
    """A JSON-safe number for the manifest (None for an infinite drop)."""
    return round(value, 2) if math.isfinite(value) else None
