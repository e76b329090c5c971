"""``edgekit build``: --dry-run prints the exact trtexec line with no TensorRT; a real build without TensorRT is a
one-line error pointing at --dry-run (exit 2)."""
import dataclasses

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgekit.artifact import Manifest, describe_file, write_manifest
from edgekit.backend.tensorrt.loader import tensorrt_available
from edgekit.backend.tensorrt.commands import trtexec_command
from edgekit.specs import HeadSpec, ModelSpec, PreprocessSpec, load_target

SPEC = ModelSpec("toy", "pose", PreprocessSpec((8, 8)), HeadSpec("pose_regression", ("pose",)))


def _onnx(qdq: bool) -> onnx.ModelProto:
    """x (B,3,8,8) -> [Q/DQ, int8 symmetric] -> Conv 3->3 1x1 -> pose."""
    inits = [numpy_helper.from_array(np.full((3, 3, 1, 1), 0.1, np.float32), "w"),
             numpy_helper.from_array(np.float32(0.02), "s"), numpy_helper.from_array(np.int8(0), "z")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["x_q"]),
             helper.make_node("DequantizeLinear", ["x_q", "s", "z"], ["x_dq"])] if qdq else []
    nodes.append(helper.make_node("Conv", ["x_dq" if qdq else "x", "w"], ["pose"]))
    graph = helper.make_graph(nodes, "toy", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 3, 8, 8])],
                              [helper.make_tensor_value_info("pose", TensorProto.FLOAT, ["B", 3, 8, 8])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _artifact(folder, target_name: str, with_int8: bool = True):
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(_onnx(False), folder / "toy.onnx")
    files = [describe_file(folder, folder / "toy.onnx", "onnx")]
    if with_int8:
        onnx.save(_onnx(True), folder / "toy.int8.onnx")
        files.append(describe_file(folder, folder / "toy.int8.onnx", "onnx", precision="int8"))
    target = load_target(target_name)
    write_manifest(folder, Manifest(model=SPEC, files=tuple(files), target=target))
    return folder, target


def test_dry_run_prints_engine_and_exact_trtexec_line(tmp_path, run_cli):
    folder, target = _artifact(tmp_path, "jetson-xavier-nx-jp5")
    code, out, err = run_cli("build", folder, "--dry-run")
    assert code == 0, err
    engine = "toy.jetson-xavier-nx.trt8.5.2.sm72.int8.b1.engine"
    line = trtexec_command("toy.int8.onnx", target.tensorrt, engine, "8.5.2", input_shapes={"x": [-1, 3, 8, 8]})
    assert out.splitlines() == [f"# engine: {engine}", line]
    assert "--int8 --fp16 --useDLACore=0 --allowGPUFallback" in line


def test_dry_run_with_another_trt_version(tmp_path, run_cli):
    folder, target = _artifact(tmp_path, "desktop-gpu-fp16", with_int8=False)
    code, out, _ = run_cli("build", folder, "--dry-run", "--trt-version", "8.6")
    section = dataclasses.replace(target.tensorrt, version="8.6")
    assert code == 0
    assert out.splitlines()[-1] == trtexec_command("toy.onnx", section, out.splitlines()[-2][len("# engine: "):],
                                                   "8.6", input_shapes={"x": [-1, 3, 8, 8]})
    assert "--memPoolSize=workspace:2048 --fp16" in out and "--maxShapes=x:32x3x8x8" in out


def test_dry_run_validates_the_other_trt_version(tmp_path, run_cli):
    folder, _ = _artifact(tmp_path, "jetson-xavier-nx-jp5")  # DLA core 0
    code, out, err = run_cli("build", folder, "--dry-run", "--trt-version", "10.8")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "--trt-version 10.8: target jetson-xavier-nx-jp5: " in err and "TensorRT 10.8 has no DLA" in err


@pytest.mark.skipif(tensorrt_available(), reason="TensorRT is installed here")
def test_build_without_tensorrt_is_one_line_pointing_at_dry_run(tmp_path, run_cli):
    folder, _ = _artifact(tmp_path, "jetson-orin-nano-jp6", with_int8=False)
    code, out, err = run_cli("build", folder)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "TensorRT is not installed on this machine" in err and "--dry-run" in err


def test_refusals(tmp_path, run_cli):
    folder, _ = _artifact(tmp_path / "cpu", "cpu-x86-int8")
    code, _, err = run_cli("build", folder, "--dry-run")
    assert code == 2 and "has no tensorrt section" in err
    folder, _ = _artifact(tmp_path / "int8", "desktop-gpu-int8", with_int8=False)
    code, _, err = run_cli("build", folder, "--dry-run")
    assert code == 2 and "run the calibrate stage" in err and str(folder) in err
