"""TensorRT export helpers that need no GPU: names, ONNX/QDQ checks on real graphs (one quantized by ONNX Runtime),
the calibration-cache format, trtexec lines per generation and target validation."""
import struct

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgekit.artifact import ArtifactFile, Manifest
from edgekit.errors import EdgekitError, ModelFileError, SpecError
from edgekit.backend.tensorrt import commands, targets
from edgekit.backend.tensorrt import prepare as ex
from edgekit.checks import Gate, GateResult
from edgekit.specs import HeadSpec, JetsonSection, ModelSpec, OnnxSection, PreprocessSpec, Target, \
    TensorrtSection


def _conv_net(opset: int = 17, input_dims=("B", 3, 8, 8), elem=TensorProto.FLOAT) -> onnx.ModelProto:
    """x -> Conv 3->4 (3x3) -> Relu -> Conv 4->4 (1x1) -> GlobalAveragePool -> Flatten -> pose (B, 4)."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.normal(0, 0.3, (4, 4, 1, 1)).astype(np.float32), "w2")]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2"),
             helper.make_node("GlobalAveragePool", ["c2"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["pose"], name="flatten")]
    graph = helper.make_graph(nodes, "conv", [helper.make_tensor_value_info("x", elem, list(input_dims))],
                              [helper.make_tensor_value_info("pose", TensorProto.FLOAT, ["B", 4])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def _quantize(tmp, activations: str) -> onnx.ModelProto:
    """ONNX Runtime QDQ, per-channel int8 weights; activations 'uint8' (QUInt8, the toolchain note's recipe),
    'int8' (ORT 1.31's default: QInt8, asymmetric) or 'int8_symmetric' (what TensorRT needs)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(1)
            self.items = iter([{"x": rng.uniform(-1, 1, (1, 3, 8, 8)).astype(np.float32)} for _ in range(8)])

        def get_next(self):
            return next(self.items, None)

    source, out = tmp / "float.onnx", tmp / f"qdq_{activations}.onnx"
    onnx.save(_conv_net(), source)
    options = {"uint8": dict(activation_type=QuantType.QUInt8), "int8": {},
               "int8_symmetric": dict(activation_type=QuantType.QInt8,
                                      extra_options={"ActivationSymmetric": True})}[activations]
    quantize_static(str(source), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    weight_type=QuantType.QInt8, **options)
    return onnx.load(str(out))


@pytest.fixture(scope="module")
def qdq_models(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("qdq")
    return {name: _quantize(tmp, name) for name in ("uint8", "int8", "int8_symmetric")}


# ----------------------------------------------------------------------------- names


def test_engine_name():
    assert commands.engine_name("pfld_0.25x", "10.3", "", "8.7", "int8", 1) == "pfld_0.25x.trt10.3.sm87.int8.b1.engine"
    assert commands.engine_name("PFLD 1x/v2", "8.5.2", "Jetson Xavier NX", "sm72", "fp16", (1, 8, 32)) == \
        "pfld-1x-v2.jetson-xavier-nx.trt8.5.2.sm72.fp16.b1-32.engine"
    assert commands.engine_name("m", "11.4", "NVIDIA GeForce RTX 4090", "8.9", "fp16", (4, 4, 4)).endswith(
        "m.nvidia-geforce-rtx-4090.trt11.4.sm89.fp16.b4.engine")


# ----------------------------------------------------------------------------- ONNX checks


def test_clean_model_has_no_problems():
    assert ex.check_onnx_for_tensorrt(_conv_net(17), "8.5.2") == []
    assert ex.check_onnx_for_tensorrt(_conv_net(20), "10.3") == []


def test_opset_table():
    assert [ex.max_opset(v) for v in ("8.5.2", "8.6.1", "10.3", "11.4")] == [17, 17, 20, 20]
    assert ex.check_onnx_for_tensorrt(_conv_net(18), "8.6") == [
        "opset 18 is outside 9..17, what TensorRT 8.6's parser takes: export with onnx.opset in that range"]


def test_ops_inputs_and_domains():
    model = _conv_net(17, input_dims=("B", 3, "H", 8), elem=TensorProto.INT64)
    model.graph.node.append(helper.make_node("LayerNormalization", ["pose", "s"], ["ln"]))
    model.graph.node.append(helper.make_node("FusedConv", ["pose"], ["fc"], domain="com.microsoft"))
    problems = ex.check_onnx_for_tensorrt(model, "8.5.2")
    assert problems == [
        "op LayerNormalization (1 nodes) is not in edgekit's TensorRT 8.5.2 supported set",
        "op com.microsoft::FusedConv (1 nodes) is not in edgekit's TensorRT 8.5.2 supported set",
        "input 'x' is INT64; edgekit feeds float32 inputs",
        "input 'x' has dynamic dims other than the batch: [-1, 3, -1, 8]"]
    assert not any("LayerNormalization" in p for p in ex.check_onnx_for_tensorrt(model, "8.6"))


# ----------------------------------------------------------------------------- QDQ


def test_uint8_activations_are_reported(qdq_models):
    problems = ex.check_qdq_placement(qdq_models["uint8"])
    assert "activation 'x' is quantized to uint8 (ONNX Runtime's QUInt8): use activation_type=QInt8, " \
           "ActivationSymmetric=True; TensorRT needs int8" in problems
    assert all("activation" in p for p in problems)  # weights are int8 symmetric already


def test_asymmetric_int8_activations_are_reported(qdq_models):
    problems = ex.check_qdq_placement(qdq_models["int8"])
    assert problems and all(p.endswith("has a non-zero zero point: TensorRT needs symmetric int8")
                            for p in problems)


def test_int8_symmetric_qdq_is_tensorrt_ready(qdq_models):
    assert ex.check_qdq_placement(qdq_models["int8_symmetric"]) == []


def test_float_model_is_not_qdq():
    assert ex.check_qdq_placement(_conv_net()) == ["no QuantizeLinear / DequantizeLinear nodes: not a QDQ model"]


def _hand_qdq(axis: int = 0, zero: int = 0, q_feeds: str = "DequantizeLinear") -> onnx.ModelProto:
    """x -Q-> (DQ or Relu) ... ; int8 per-channel weights w_q -DQ(axis)-> Conv."""
    inits = [numpy_helper.from_array(np.float32(0.02), "s"), numpy_helper.from_array(np.int8(zero), "z"),
             numpy_helper.from_array(np.ones((2, 3, 1, 1), np.int8), "w_q"),
             numpy_helper.from_array(np.array([0.1, 0.2], np.float32), "w_s"),
             numpy_helper.from_array(np.zeros(2, np.int8), "w_z")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["x_q"], name="q_x"),
             helper.make_node(q_feeds, ["x_q", "s", "z"][: 3 if q_feeds == "DequantizeLinear" else 1], ["x_dq"],
                              name="after_q"),
             helper.make_node("DequantizeLinear", ["w_q", "w_s", "w_z"], ["w"], axis=axis, name="dq_w"),
             helper.make_node("Conv", ["x_dq", "w"], ["y"], name="conv")]
    graph = helper.make_graph(nodes, "hand", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 4, 4])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def test_hand_made_qdq_problems():
    assert ex.check_qdq_placement(_hand_qdq()) == []
    assert ex.check_qdq_placement(_hand_qdq(axis=1)) == [
        "per-channel weight 'w_q' of Conv 'conv' is quantized on axis 1; TensorRT needs the output-channel axis 0"]
    assert ex.check_qdq_placement(_hand_qdq(zero=3)) == [
        "activation 'x' has a non-zero zero point: TensorRT needs symmetric int8"]
    assert ex.check_qdq_placement(_hand_qdq(q_feeds="Relu")) == [
        "QuantizeLinear 'q_x' must feed only DequantizeLinear (feeds Relu)"]


# ----------------------------------------------------------------------------- calibration cache


def test_calibration_header_versions():
    assert ex.calibration_header_version("8.5.2") == 8502
    assert ex.calibration_header_version("8.6.1.6") == 8601
    assert ex.calibration_header_version("10.3") == 100300


def test_calibration_table_decodes_to_the_qdq_scales(qdq_models):
    model = qdq_models["int8_symmetric"]
    table = ex.calibration_table_from_qdq(model, "8.5.2")
    lines = table.splitlines()
    assert lines[0] == "TRT-8502-EntropyCalibration2" and table.endswith("\n")
    arrays = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    expected = {n.input[0].removesuffix("_QuantizeLinear_Input"): arrays[n.input[1]] for n in model.graph.node
                if n.op_type == "QuantizeLinear" and n.input[0] not in arrays}  # the float model's names
    decoded = {}
    for line in lines[1:]:
        name, hex_scale = line.split(": ")
        assert len(hex_scale) == 8
        decoded[name] = ex.scale_from_hex(hex_scale)
    assert decoded.keys() == expected.keys() and "x" in decoded and "pose" in decoded  # the output too
    for name, scale in expected.items():
        assert decoded[name] == np.float32(scale)  # bit-exact float32


def test_calibration_table_hand_values():
    table = ex.calibration_table_from_qdq(_hand_qdq(), "10.3", algorithm="MinMaxCalibration")
    assert table == f"TRT-100300-MinMaxCalibration\nx: {struct.pack('>f', 0.02).hex()}\n"
    assert ex.scale_from_hex("3f000000") == 0.5 and ex.scale_from_hex("3c010204") == pytest.approx(1 / 127)


def test_calibration_table_widens_uint8_ranges(qdq_models):
    model = qdq_models["uint8"]
    arrays = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    q = next(n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "x")
    scale, zero = float(arrays[q.input[1]]), int(arrays[q.input[2]])
    amax = max(abs((0 - zero) * scale), abs((255 - zero) * scale))
    line = next(l for l in ex.calibration_table_from_qdq(model, "10.3").splitlines() if l.startswith("x: "))
    assert ex.scale_from_hex(line[3:]) == pytest.approx(amax / 127, rel=1e-6)


def test_calibration_table_refusals():
    with pytest.raises(SpecError, match="removed implicit INT8 calibration"):
        ex.calibration_table_from_qdq(_hand_qdq(), "11.4")
    with pytest.raises(EdgekitError, match="no activation QuantizeLinear"):
        ex.calibration_table_from_qdq(_conv_net(), "10.3")


# ----------------------------------------------------------------------------- trtexec


SHAPES = {"x": [-1, 3, 8, 8]}


def test_trtexec_8_5_int8_dla_with_calibration_cache():
    section = TensorrtSection(version="8.5.2", precision="int8", workspace_mb=512, dla_core=0)
    assert commands.trtexec_command("m.onnx", section, "m.engine", "8.5.2", calib_file="calib.table") == (
        "trtexec --onnx=m.onnx --saveEngine=m.engine --memPoolSize=workspace:512 --int8 --fp16 --calib=calib.table "
        "--useDLACore=0 --allowGPUFallback --timingCacheFile=m.timing.cache --buildOnly")


def test_trtexec_8_6_options():
    section = TensorrtSection(version="8.6", precision="fp16", timing_cache=False, version_compatible=True,
                              builder_optimization_level=4)
    assert commands.trtexec_command("m.onnx", section, "m.engine", "8.6.1") == (
        "trtexec --onnx=m.onnx --saveEngine=m.engine --memPoolSize=workspace:1024 --fp16 --versionCompatible "
        "--builderOptimizationLevel=4 --skipInference")
    with pytest.raises(SpecError, match="version_compatible needs TensorRT 8.6"):
        commands.trtexec_command("m.onnx", section, "m.engine", "8.5.2")


def test_trtexec_10_dynamic_batch_and_qdq(tmp_path):
    section = TensorrtSection(version="10.3", precision="fp16", workspace_mb=2048, batch=(1, 8, 32))
    onnx.save(_conv_net(), tmp_path / "m.onnx")
    line = commands.trtexec_command(str(tmp_path / "m.onnx"), section, "m.engine", "10.3")  # shapes read from the file
    assert line.endswith("--saveEngine=m.engine --memPoolSize=workspace:2048M --fp16 "
                         "--timingCacheFile=m.timing.cache --minShapes=x:1x3x8x8 --optShapes=x:8x3x8x8 "
                         "--maxShapes=x:32x3x8x8 --skipInference")
    int8 = TensorrtSection(version="10.3", precision="int8", timing_cache=False)
    assert commands.trtexec_args("q.onnx", int8, "q.engine", "10.3", input_shapes=SHAPES)[3] == "--stronglyTyped"


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_trtexec_11_has_no_precision_flags(precision):
    section = TensorrtSection(version="11.4", precision=precision, timing_cache=False)
    line = commands.trtexec_command("m.onnx", section, "m.engine", "11.4")
    assert line == "trtexec --onnx=m.onnx --saveEngine=m.engine --memPoolSize=workspace:1024M --skipInference"
    with pytest.raises(SpecError, match="removed calibration caches"):
        commands.trtexec_command("m.onnx", section, "m.engine", "11.4", calib_file="c.table")
    with pytest.raises(SpecError, match="no DLA"):
        commands.trtexec_command("m.onnx", TensorrtSection(version="11.1", dla_core=0), "m.engine", "11.1")


def test_workspace_flag_per_version():
    assert commands.workspace_flag("8.2.1", 1024) == "--workspace=1024"
    assert commands.workspace_flag("8.4.3", 1024) == "--memPoolSize=workspace:1024"
    assert commands.workspace_flag("10.0", 64) == "--memPoolSize=workspace:64M"


# ----------------------------------------------------------------------------- targets and artifacts


def _target(trt: TensorrtSection, jetson: JetsonSection | None = None, **kw) -> Target:
    return Target(name="t", runtime="tensorrt", tensorrt=trt, jetson=jetson, **kw)


XAVIER = JetsonSection("Jetson Xavier NX", "5.1.2", "7.2")


@pytest.mark.parametrize("target, expected", [
    (_target(TensorrtSection("8.5.2", "fp16", dla_core=0), XAVIER), []),
    (_target(TensorrtSection("8.5.2", "fp32", dla_core=0), XAVIER), ["DLA runs only fp16 or int8: set tensorrt.precision"]),
    (_target(TensorrtSection("10.3", "fp16", dla_core=0), JetsonSection("Jetson Orin Nano", "6.1", "8.7")),
     ["Jetson Orin Nano has no DLA"]),
    (_target(TensorrtSection("10.3", "fp16", dla_core=0)), ["dla_core needs a Jetson Xavier (cc 7.2) or Orin (cc 8.7) "
                                                            "jetson section"]),
    (_target(TensorrtSection("11.4", "fp16"), JetsonSection("Jetson Orin Nano", "6.1", "8.7")),
     ["JetPack 6.1 ships TensorRT 10.3, not 11.4 (TensorRT 11 never ships on JetPack 6)"]),
    (_target(TensorrtSection("8.6", "fp16"), JetsonSection("Jetson Xavier NX", "6.0", "7.2")),
     ["JetPack 6.0 does not run on compute capability 7.2 (supports 8.7)"]),
    (_target(TensorrtSection("11.4", "fp16"), JetsonSection("Jetson AGX Orin", "7.1", "8.7")),
     ["JetPack 7.1 ships TensorRT 10.x, or 11.4+ from JetPack 7.2.2, not 11.4",
      "JetPack 7.1 does not run on compute capability 8.7 (supports 10.1, 11.0)"]),
    (_target(TensorrtSection("11.2", "int8", dla_core=0), JetsonSection("Jetson AGX Orin", "7.2.2", "8.7")),
     ["tensorrt int8 needs an int8 section (calibration of the QDQ ONNX)", "TensorRT 11.2 has no DLA (DLA is in "
      "8.x, 10.0-10.7 and 11.4.1+ (Jetson AGX Orin, JetPack 7.2.2+))", "JetPack 7.2.2 ships TensorRT 10.x, or 11.4+ from JetPack 7.2.2, not 11.2"]),
    (_target(TensorrtSection("10.3", batch=(1, 8, 32))), ["a batch range above 1 needs onnx.dynamic_batch: true"]),
    (_target(TensorrtSection("8.5.2"), onnx=OnnxSection(opset=18)),
     ["onnx.opset 18 is above 17, the highest TensorRT 8.5.2 is taken to parse"]),
    (_target(TensorrtSection("8.1")), ["TensorRT 8.1 is older than 8.5, which edgekit supports"]),
    (Target(name="t", runtime="onnxruntime", jetson=XAVIER), ["a jetson section needs a tensorrt section"]),
])
def test_validate_target(target, expected):
    assert targets.validate_target(target) == expected


def test_onnx_for_tensorrt_picks_by_precision():
    spec = ModelSpec("toy", "pose", PreprocessSpec((8, 8)), HeadSpec("pose_regression", ("pose",)))
    files = (ArtifactFile("m.onnx", "0", 1, "onnx"), ArtifactFile("m.int8.onnx", "0", 1, "onnx", precision="int8"))
    manifest = Manifest(model=spec, files=files)
    assert ex.onnx_for_tensorrt(manifest, TensorrtSection(precision="int8")).path == "m.int8.onnx"
    assert ex.onnx_for_tensorrt(manifest, TensorrtSection(version="11.4", precision="fp16")).path == "m.onnx"
    mixed = Manifest(model=spec, files=files + (ArtifactFile("m.mixed.onnx", "0", 1, "onnx", precision="mixed"),))
    assert ex.onnx_for_tensorrt(mixed, TensorrtSection(precision="int8")).path == "m.mixed.onnx"  # gate fallback
    recalibrated = mixed.with_file(ArtifactFile("m.int8-p99.9.onnx", "0", 1, "onnx", precision="int8"))
    verdicts = {name: GateResult("nme", 7.0, delta, 0.1, delta <= 0.1, False)
                for name, delta in (("m.int8.onnx", 0.2), ("m.mixed.onnx", 0.15), ("m.int8-p99.9.onnx", 0.05))}
    gated = recalibrated.with_checks(gate=Gate("nme", False, verdicts))
    assert ex.onnx_for_tensorrt(gated, TensorrtSection(precision="int8")).path == "m.int8-p99.9.onnx"  # passed
    with pytest.raises(ModelFileError, match="run the calibrate stage"):
        ex.onnx_for_tensorrt(Manifest(model=spec, files=files[:1]), TensorrtSection(precision="int8"))


def test_calibration_table_names_the_float_models_tensors(pfld, pfld_onnx, pfld_calibration, small_int8, tmp_path):
    """nvinfer builds from the float ONNX with the table: every name must be one of its tensors, the output
    included (ONNX Runtime's QDQ file calls it ``landmarks_QuantizeLinear_Input``)."""
    from edgekit.backend.onnxruntime.quantize import QdqQuantizer

    quantizer = QdqQuantizer(pfld_onnx, pfld.spec, small_int8, tmp_path, pfld_calibration.calib.tensors, "QInt8")
    qdq = onnx.load(str(quantizer.quantize(tmp_path / "int8.onnx")))
    float_model = onnx.load(str(pfld_onnx))
    tensors = {t for n in float_model.graph.node for t in n.output} | {i.name for i in float_model.graph.input}
    names = [line.split(": ")[0] for line in ex.calibration_table_from_qdq(qdq, "10.3").splitlines()[1:]]
    assert "landmarks" in names and not any("QuantizeLinear" in name for name in names)
    assert set(names) <= tensors and len(names) == len(set(names))
