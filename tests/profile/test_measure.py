"""Planning and measuring: files of a source, precision from the graph, skipped configurations, the worker
in-process and in its own subprocess (real ONNX Runtime on the tiny model)."""
from __future__ import annotations

import pytest

from edgekit.errors import EdgekitError, ModelFileError
from edgekit.profile.measure import (Settings, configurations, file_precision, model_files, profile_files,
                                     run_worker, skip_reason)
from edgekit.profile.worker import Job, measure

TINY_MMACS = (32 * 32 * 4 * 27 + 40) / 1e6


@pytest.fixture()
def artifact(tiny_artifact):
    """An artifact with the tiny ONNX and a (fake, never run) TensorRT engine beside it."""
    return tiny_artifact(engine=True)


def test_files_of_an_artifact_and_of_a_lone_file(artifact, tiny_onnx):
    onnx_file, engine = model_files(str(artifact))
    assert (onnx_file.label, onnx_file.backend, onnx_file.precision, onnx_file.choice) == (
        "art/model.onnx", "onnxruntime", "fp32", "model.onnx")
    assert engine.backend == "tensorrt" and engine.macs_from == artifact / "model.onnx"  # counted on its ONNX
    (lone,) = model_files(str(tiny_onnx))
    assert (lone.label, lone.source, lone.artifact) == ("tiny.onnx", str(tiny_onnx), None)
    (name,) = model_files("pfld_0.25x")
    assert name.backend == "torch" and name.path is None
    with pytest.raises(ModelFileError, match="cannot profile '.txt' files"):
        (artifact / "notes.txt").write_text("x")
        model_files(str(artifact / "notes.txt"))


def test_precision_from_the_graph(tiny_onnx, tmp_path):
    import numpy as np
    from onnxruntime.quantization import CalibrationDataReader, quantize_static

    class Reader(CalibrationDataReader):
        items = iter([{"input": np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32)}])

        def get_next(self):
            return next(self.items, None)

    quantize_static(str(tiny_onnx), str(tmp_path / "q.onnx"), Reader())
    assert file_precision(tiny_onnx) == "fp32" and file_precision(tmp_path / "q.onnx") == "int8"


def test_configurations_and_skips(artifact):
    onnx_file, engine = model_files(str(artifact))
    plan = configurations([onnx_file, engine], Settings(threads=(1, 2), batches=(1, 8)))
    assert [(f.backend, t, b) for f, t, b in plan] == [
        ("onnxruntime", 1, 1), ("onnxruntime", 1, 8), ("onnxruntime", 2, 1), ("onnxruntime", 2, 8),
        ("tensorrt", None, 1), ("tensorrt", None, 8)]
    assert skip_reason(onnx_file, 8) is None
    assert skip_reason(engine, 1) == "TensorRT is not installed on this host"


def test_worker_in_process(tiny_onnx):
    result = measure(Job(str(tiny_onnx), threads=1, batch=2, runs=15, warmup=2))
    assert len(result["samples_ms"]) == 15 and min(result["samples_ms"]) > 0
    assert 0 < result["preprocess_ms"] < 50 and 0 < result["decode_ms"] < 50
    assert result["peak_rss_mb"] > 20  # python + numpy + ORT + OpenCV


def test_each_configuration_in_its_own_process(artifact, tiny_onnx):
    files = model_files(str(artifact)) + model_files(str(tiny_onnx))
    rows = profile_files(files, Settings(threads=(1,), batches=(1, 4), runs=20, warmup=2), progress=False)
    assert [(r.name, r.batch) for r in rows] == [("art/model.onnx", 1), ("art/model.onnx", 4),
                                                  ("art/model.engine", 1), ("art/model.engine", 4),
                                                  ("tiny.onnx", 1), ("tiny.onnx", 4)]
    for row in rows[:2] + rows[4:]:
        assert row.runs == 20 and len(row.samples_ms) == 20 and row.p50_ms <= row.p90_ms <= row.p99_ms
        assert row.images_per_s == pytest.approx(row.batch * 1000 / row.mean_ms)
        assert row.mmacs == pytest.approx(TINY_MMACS) and row.file_mb == pytest.approx(tiny_onnx.stat().st_size / 1e6)
    assert rows[2].p50_ms is None and rows[2].note == "TensorRT is not installed on this host"


def test_worker_reports_user_errors_as_one_line(tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07garbage")
    with pytest.raises(EdgekitError) as info:
        run_worker(Job(str(broken), 1, 1, 5, 0), timeout_s=120)
    assert str(info.value).startswith(f"{broken}: ") and "\n" not in str(info.value)


def test_fixed_batch_files_say_they_ran_in_chunks(tiny_onnx, tmp_path):
    import onnx

    model = onnx.load(str(tiny_onnx))
    for value in (model.graph.input[0], model.graph.output[0]):
        value.type.tensor_type.shape.dim[0].dim_value = 1  # batch fixed at 1 (the default export)
    fixed = tmp_path / "fixed.onnx"
    onnx.save(model, str(fixed))
    rows = profile_files(model_files(str(fixed)), Settings(batches=(1, 2), runs=5, warmup=1), progress=False)
    assert [r.note for r in rows] == ["", "the file has a fixed batch of 1: run in chunks"]


def test_worker_peak_rss_is_its_own_not_the_parents(tiny_onnx):
    """Linux carries a parent's ru_maxrss into an exec'd child: every row once showed the parent's 1264 MB."""
    import numpy as np

    ballast = np.ones(400 * 2**20 // 8)  # the parent touches 400 MB before starting the worker
    result = run_worker(Job(str(tiny_onnx), threads=1, batch=1, runs=3, warmup=0), timeout_s=120)
    assert ballast.sum() > 0 and 20 < result["peak_rss_mb"] < 350
