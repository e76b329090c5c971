"""The shipped targets/*.yaml: all load, all pass validate_target, and YAML mistakes name the key and file."""
import pytest

from edgekit.errors import SpecError
from edgekit.backend.tensorrt.targets import validate_target
from edgekit.paths import PROJECT_DIR, list_names
from edgekit.specs import load_target

SHIPPED = ["android-arm64-fp16", "android-arm64-int8", "cpu-x86-int8", "cpu-x86-openvino-int8", "desktop-gpu-fp16",
           "desktop-gpu-int8", "jetson-agx-orin-jp7", "jetson-orin-nano-jp6", "jetson-xavier-nx-jp5"]


def test_shipped_targets_are_listed():
    assert set(SHIPPED) <= set(list_names("targets"))
    assert sorted(p.stem for p in (PROJECT_DIR / "targets").glob("*.yaml")) == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_target_loads_and_validates(name):
    target = load_target(name)
    assert target.name == name and target.description
    assert validate_target(target) == []


def test_key_facts_of_the_device_targets():
    xavier, nano, agx = (load_target(n) for n in ("jetson-xavier-nx-jp5", "jetson-orin-nano-jp6",
                                                    "jetson-agx-orin-jp7"))
    assert (xavier.tensorrt.version, xavier.jetson.jetpack, xavier.jetson.compute_capability) == ("8.5.2", "5.1.2", "7.2")
    assert (xavier.tensorrt.dla_core, xavier.tensorrt.gpu_fallback, xavier.tensorrt.precision) == (0, True, "int8")
    assert (nano.tensorrt.version, nano.jetson.jetpack, nano.tensorrt.dla_core) == ("10.3", "6.1", None)
    assert (agx.tensorrt.version, agx.jetson.jetpack, agx.tensorrt.precision) == ("11.4", "7.2.2", "int8")
    assert load_target("desktop-gpu-fp16").tensorrt.batch == (1, 8, 32)
    assert load_target("android-arm64-int8").tflite.precisions == ("fp32", "int8")


def test_unknown_key_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nruntime: tensorrt\ntensorrt:\n  version: '10.3'\n  dla_cores: 1\n")
    with pytest.raises(SpecError, match=r"bad.yaml: unknown key 'dla_cores' in Target.tensorrt"):
        load_target(str(path))


def test_name_must_match_file(tmp_path):
    path = tmp_path / "other.yaml"
    path.write_text("name: bad\nruntime: onnxruntime\n")
    with pytest.raises(SpecError, match="does not match the file name 'other'"):
        load_target(str(path))


def test_list_verb_prints_targets(run_cli):
    code, out, _ = run_cli("list", "targets")
    assert code == 0
    assert "jetson-xavier-nx-jp5" in out and "tensorrt" in out


@pytest.mark.parametrize("text, problem", [
    ("runtime: tensorrt\ntensorrt: {version: '9.9'}\n", "TensorRT 9.9 is not supported"),
    ("runtime: tensorrt\ntensorrt: {version: '10.3'}\njetson: {device: Orin Nano, jetpack: '5.1.2', "
     "compute_capability: '8.7'}\n", "JetPack 5.1.2 ships TensorRT 8.5, not 10.3"),
    ("runtime: tflite\ntflite: {precisions: [int8]}\n", "tflite int8 needs an int8 section"),
])
def test_load_target_validates_the_sections_together(tmp_path, text, problem):
    path = tmp_path / "t.yaml"
    path.write_text("name: t\n" + text)
    with pytest.raises(SpecError) as info:
        load_target(str(path))
    assert str(info.value).startswith(f"{path}: target t: ") and problem in str(info.value)


def test_out_of_range_values_name_key_and_file(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("name: t\nruntime: tensorrt\nonnx: {dynamic_batch: true}\ntensorrt: {workspace_mb: -512}\n")
    with pytest.raises(SpecError) as info:
        load_target(str(path))
    assert str(info.value) == f"{path}: Target.tensorrt: workspace_mb must be in [1, 1048576], got -512"
