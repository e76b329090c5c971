"""``edgekit.profile.plot``: bars grouped by model, one labelled line per configuration."""
from __future__ import annotations

import numpy as np

from edgekit.profile.plot import bar_label, groups, latency_png
from edgekit.profile.report import Measurement, latency_stats


def _row(name: str, precision: str, threads: int, median: float) -> Measurement:
    samples = tuple(np.random.default_rng(0).normal(median, median / 10, 40).clip(median / 2))
    return Measurement(name, "onnxruntime", precision, threads, 1, **latency_stats(samples, 1), runs=40,
                       samples_ms=samples)


def demo_rows() -> list[Measurement]:
    """30 configurations like the demo's: a peer, then two models x three targets' files x two thread counts."""
    rows = [_row("mediapipe_face_landmark", "fp16", t, 1.2 / t) for t in (1, 2)]
    for model, cost in (("pfld_0.25x", 0.4), ("fsanet", 0.9)):
        for target in ("cpu-x86-int8", "android-arm64-int8"):
            for file, precision in (("model.onnx", "fp32"), ("model.int8.onnx", "int8"), ("model.tflite", "fp32")):
                rows += [_row(f"{model}/{target}/{file}", precision, t, cost / t) for t in (1, 2)]
    return rows[:30]


def test_groups_keep_models_together_in_order():
    found = groups(demo_rows())
    assert [model for model, _ in found] == ["mediapipe_face_landmark", "pfld_0.25x", "fsanet"]
    assert [len(members) for _, members in found] == [2, 12, 12]
    assert bar_label(found[1][1][3]) == "cpu-x86-int8/model.int8.onnx int8 2t b1"
    assert bar_label(found[0][1][0]) == "mediapipe_face_landmark fp16 1t b1"


def test_png_is_tall_enough_for_every_label(tmp_path):
    import cv2

    png = latency_png(demo_rows())
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    height, width = image.shape[:2]
    assert width == 990 and height >= 26 * 0.28 * 110  # 110 dpi, a line per bar
    assert latency_png([]) is None
    (tmp_path / "latency.png").write_bytes(png)
