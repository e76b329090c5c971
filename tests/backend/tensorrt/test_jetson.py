"""The Jetson bundle written beside real (tiny) ONNX files: build.sh, README.txt with the exact trtexec line, the
DeepStream nvinfer config values and, for INT8 on TensorRT 8/10, the calibration cache."""
import os
import struct

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgekit.artifact import Manifest, describe_file
from edgekit.errors import SpecError
from edgekit.backend.tensorrt.jetson import nvinfer_normalization, write_jetson_bundle
from edgekit.backend.tensorrt.commands import onnx_inputs, trtexec_command
from edgekit.specs import HeadSpec, Int8Section, JetsonSection, ModelSpec, PreprocessSpec, Target, TensorrtSection

IMAGENET = dict(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


def _spec(color="RGB", mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)) -> ModelSpec:
    return ModelSpec("toy", "pose", PreprocessSpec((16, 16), color=color, mean=mean, std=std),
                     HeadSpec("pose_regression", ("pose",)))


def _onnx(qdq: bool) -> onnx.ModelProto:
    """x (B,3,16,16) -> [Q/DQ scale 0.02] -> Conv 3->3 (1x1, weights int8 + DQ when qdq) -> pose."""
    inits, nodes, conv_in, weight = [], [], "x", "w"
    if qdq:
        inits += [numpy_helper.from_array(np.float32(0.02), "s"), numpy_helper.from_array(np.int8(0), "z"),
                  numpy_helper.from_array(np.ones((3, 3, 1, 1), np.int8), "w_q"),
                  numpy_helper.from_array(np.full(3, 0.1, np.float32), "w_s")]
        nodes += [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["x_q"]),
                  helper.make_node("DequantizeLinear", ["x_q", "s", "z"], ["x_dq"]),
                  helper.make_node("DequantizeLinear", ["w_q", "w_s"], ["w"], axis=0)]
        conv_in = "x_dq"
    else:
        inits.append(numpy_helper.from_array(np.full((3, 3, 1, 1), 0.1, np.float32), "w"))
    nodes.append(helper.make_node("Conv", [conv_in, weight], ["pose"]))
    graph = helper.make_graph(nodes, "toy", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 3, 16, 16])],
                              [helper.make_tensor_value_info("pose", TensorProto.FLOAT, ["B", 3, 16, 16])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _artifact(folder, spec: ModelSpec) -> Manifest:
    onnx.save(_onnx(False), folder / "toy.onnx")
    onnx.save(_onnx(True), folder / "toy.int8.onnx")
    return Manifest(model=spec, files=(describe_file(folder, folder / "toy.onnx", "onnx"),
                                       describe_file(folder, folder / "toy.int8.onnx", "onnx", precision="int8")))


def _target(version: str, precision: str, jetson: JetsonSection, dla_core=None) -> Target:
    return Target(name="t", runtime="tensorrt", int8=Int8Section() if precision == "int8" else None,
                  tensorrt=TensorrtSection(version=version, precision=precision, dla_core=dla_core), jetson=jetson)


def _config(path) -> dict[str, str]:
    lines = [l for l in path.read_text().splitlines() if "=" in l and not l.startswith("#")]
    return dict(l.split("=", 1) for l in lines)


def test_xavier_int8_dla_bundle(tmp_path):
    spec = _spec(**IMAGENET)
    target = _target("8.5.2", "int8", JetsonSection("Jetson Xavier NX", "5.1.2", "7.2"), dla_core=0)
    written = write_jetson_bundle(tmp_path, _artifact(tmp_path, spec), target)
    assert sorted(p.name for p in written) == ["README.txt", "build.sh", "calib_toy.table", "config_infer_toy.txt"]
    engine = "toy.jetson-xavier-nx.trt8.5.2.sm72.int8.b1.engine"
    config = _config(tmp_path / "config_infer_toy.txt")
    std = sum(IMAGENET["std"]) / 3
    assert float(config["net-scale-factor"]) == pytest.approx(1 / (255 * std), rel=1e-9)
    assert [float(o) for o in config["offsets"].split(";")] == pytest.approx([123.675, 116.28, 103.53])
    assert {k: config[k] for k in ("model-color-format", "onnx-file", "model-engine-file", "int8-calib-file",
                                   "infer-dims", "batch-size", "network-mode", "network-type", "output-tensor-meta",
                                   "output-blob-names", "enable-dla", "use-dla-core", "network-input-order")} == {
        "model-color-format": "0", "onnx-file": "toy.onnx", "model-engine-file": engine,
        "int8-calib-file": "calib_toy.table", "infer-dims": "3;16;16", "batch-size": "1", "network-mode": "1",
        "network-type": "100", "output-tensor-meta": "1", "output-blob-names": "pose", "enable-dla": "1",
        "use-dla-core": "0", "network-input-order": "0"}
    assert "# per-channel std [0.229, 0.224, 0.225] differ" in (tmp_path / "config_infer_toy.txt").read_text()
    assert (tmp_path / "calib_toy.table").read_text() == \
        f"TRT-8502-EntropyCalibration2\nx: {struct.pack('>f', 0.02).hex()}\n"
    line = trtexec_command("toy.int8.onnx", target.tensorrt, engine, "8.5.2",
                           input_shapes=onnx_inputs(tmp_path / "toy.int8.onnx"))
    assert f"\n    {line}\n" in (tmp_path / "README.txt").read_text()
    assert "--useDLACore=0 --allowGPUFallback" in line
    script = (tmp_path / "build.sh").read_text()
    assert "exec edgekit build . \"$@\"" in script and line.removeprefix("trtexec ") in script
    assert os.access(tmp_path / "build.sh", os.X_OK)


def test_orin_nano_fp16_bgr_exact_normalization(tmp_path):
    spec = _spec(color="BGR", mean=(0.5, 0.4, 0.3), std=(0.25, 0.25, 0.25))
    target = _target("10.3", "fp16", JetsonSection("Jetson Orin Nano", "6.1", "8.7"))
    written = write_jetson_bundle(tmp_path, _artifact(tmp_path, spec), target)
    assert "calib_toy.table" not in [p.name for p in written]
    config = _config(tmp_path / "config_infer_toy.txt")
    assert float(config["net-scale-factor"]) == pytest.approx(1 / 63.75, rel=1e-9)
    assert config["offsets"] == "127.5;102;76.5" and config["model-color-format"] == "1"
    assert config["network-mode"] == "2" and config["onnx-file"] == "toy.onnx" and "enable-dla" not in config
    assert config["model-engine-file"] == "toy.jetson-orin-nano.trt10.3.sm87.fp16.b1.engine"
    assert "differ" not in (tmp_path / "config_infer_toy.txt").read_text()


def test_normalization_matches_edgekit_preprocessing():
    pre = _spec(**IMAGENET).preprocess
    scale, offsets, note = nvinfer_normalization(pre)
    pixels = np.array([0.0, 100.0, 255.0])
    for c in range(3):
        exact = (pixels / 255 - pre.mean[c]) / pre.std[c]
        nvinfer = scale * (pixels - offsets[c])
        np.testing.assert_allclose(nvinfer, exact, rtol=0.0134)  # one shared std: 0.229 / 0.226 - 1 = 1.33%
    assert "1.33%" in note
    gray = PreprocessSpec((8, 8), color="GRAY", mean=(0.5,), std=(0.5,))
    assert nvinfer_normalization(gray) == (pytest.approx(1 / 127.5), [127.5], "")


def test_agx_orin_trt11_fp16_writes_an_fp16_onnx(tmp_path):
    target = _target("11.4", "fp16", JetsonSection("Jetson AGX Orin", "7.2.2", "8.7"))
    written = write_jetson_bundle(tmp_path, _artifact(tmp_path, _spec()), target)
    assert "toy.fp16.onnx" in [p.name for p in written]
    fp16 = onnx.load(str(tmp_path / "toy.fp16.onnx"))
    assert {i.data_type for i in fp16.graph.initializer} == {TensorProto.FLOAT16}
    readme = (tmp_path / "README.txt").read_text()
    assert "--onnx=toy.fp16.onnx" in readme and "--fp16" not in readme
    assert _config(tmp_path / "config_infer_toy.txt")["onnx-file"] == "toy.fp16.onnx"


def test_agx_orin_trt11_int8_uses_the_qdq_onnx_without_calibration(tmp_path):
    target = _target("11.4", "int8", JetsonSection("Jetson AGX Orin", "7.2.2", "8.7"))
    written = write_jetson_bundle(tmp_path, _artifact(tmp_path, _spec()), target)
    config = _config(tmp_path / "config_infer_toy.txt")
    assert config["onnx-file"] == "toy.int8.onnx" and "int8-calib-file" not in config
    assert "calib_toy.table" not in [p.name for p in written]


def test_bundle_needs_jetson_and_tensorrt(tmp_path):
    target = Target(name="t", runtime="tensorrt", tensorrt=TensorrtSection())
    with pytest.raises(SpecError, match="needs tensorrt and jetson sections"):
        write_jetson_bundle(tmp_path, _artifact(tmp_path, _spec()), target)


def test_build_sh_falls_back_to_trtexec_when_edgekit_cannot_import_tensorrt(tmp_path):
    """edgekit is on PATH (this venv's) but TensorRT is not installed here: build.sh must run trtexec, not fail in
    `edgekit build`. trtexec cannot run here: a stand-in script records the arguments it was given."""
    import subprocess
    import sys
    from pathlib import Path

    from edgekit.backend.tensorrt.loader import tensorrt_available

    if tensorrt_available():
        pytest.skip("TensorRT is installed here: build.sh rightly runs edgekit build")
    target = _target("8.5.2", "int8", JetsonSection("Jetson Xavier NX", "5.1.2", "7.2"), dla_core=0)
    folder = tmp_path / "bundle"
    folder.mkdir()
    write_jetson_bundle(folder, _artifact(folder, _spec(**IMAGENET)), target)
    stand_in = tmp_path / "trtexec"
    stand_in.write_text('#!/bin/sh\necho "$@" > "$(dirname "$0")/trtexec.args"\n')
    stand_in.chmod(0o755)
    bin_dir = Path(sys.executable).parent  # holds the edgekit entry point
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "TRTEXEC": str(stand_in), "HOME": str(tmp_path)}
    done = subprocess.run(["sh", str(folder / "build.sh")], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    args = (tmp_path / "trtexec.args").read_text().split()
    assert args[:2] == ["--onnx=toy.int8.onnx", "--saveEngine=toy.jetson-xavier-nx.trt8.5.2.sm72.int8.b1.engine"]
