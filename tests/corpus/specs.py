"""Generate the spec corpus (issue 13): hostile YAML (alias bombs, duplicate keys, deep nesting, NUL bytes),
recipes and targets with out-of-range values, manifests and embedded specs that are malformed, model files whose
inputs / outputs do not fit their spec, weights files with missing or malformed metadata, foreign dtypes or
unknown model arguments, and run folders holding foreign or partial ``last.pt`` files. Nothing binary is
committed; ``write_spec_corpus(dir, train_dir)`` writes it all in a few seconds.

    python tests/corpus/specs.py OUT_DIR     # writes the corpus and prints name -> path

Every entry must be refused with one line naming it (``<name>`` is the file the line must name; for artifacts,
``<name>_file`` when the line names a file inside the folder).
"""
from __future__ import annotations

import copy
import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np

Corpus = dict[str, Path]
BOMB_LEVELS = 9  # 9 ** 9 = 387 M strings once expanded: the 436-byte document of the issue


def _make_corpus():
    """tests/corpus/make_corpus.py (its helpers build ONNX and TFLite files and artifacts): already loaded by the
    test fixtures, else imported from beside this file."""
    if "make_corpus" not in sys.modules:
        sys.path.insert(0, str(Path(__file__).parent))
    import make_corpus

    return make_corpus


def _write(folder: Path, files: dict[str, tuple[str, bytes | str]]) -> Corpus:
    folder.mkdir(parents=True, exist_ok=True)
    corpus = {}
    for name, (file_name, data) in files.items():
        corpus[name] = folder / file_name
        corpus[name].write_bytes(data if isinstance(data, bytes) else data.encode())
    return corpus


# ----------------------------------------------------------------------------- YAML


def alias_bomb(key: str) -> str:
    """A billion-laughs document under ``key``: each level is a list of nine aliases of the one before."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, BOMB_LEVELS):
        lines.append(f"a{level}: &a{level} [" + ",".join([f"*a{level - 1}"] * 9) + "]")
    return f"{key}:\n" + "\n".join("  " + line for line in lines) + "\n"


def hostile_yaml(head: str, key: str) -> dict[str, bytes | str]:
    """Defects any YAML file can have; ``head`` is the valid start of the document, ``key`` a string field."""
    return {
        "alias_bomb": head + alias_bomb(key),
        "duplicate_key": head + f"{key}: one\n{key}: two\n",
        "deep_nesting": head + f"{key}: " + "[" * 5000 + "]" * 5000 + "\n",
        "nul_byte": (head + f"{key}: a\0b\n").encode(),
        "not_utf8": (head + f"{key}: caf").encode() + b"\xe9\n",
        "huge_value": head + f"{key}: [" + ",".join(["1"] * 200_000) + "]\n",
        "control_char": head + f'{key}: "bell\\a escape\\e"\n',
        "huge_integer": head + f"{key}: " + "9" * 5000 + "\n",
    }


def recipe_texts(train_dir: Path) -> dict[str, str]:
    """Recipes whose only defect is one out-of-range value (or a model argument the builder does not take)."""
    model, data = "model: pfld_0.25x\n", f"data: {{train: {{path: {train_dir}}}, val: {{path: {train_dir}}}}}\n"
    values = {
        "seed_huge": "seed: 123456789012345678901234567890", "seed_negative": "seed: -1",
        "lr_nan": "optim: {lr: .nan}", "lr_inf": "optim: {lr: .inf}", "workers_negative": "num_workers: -2",
        "batch_zero": "optim: {batch_size: 0}", "epochs_huge": "optim: {epochs: 1000000000}",
        "log_every_zero": "log_every: 0", "weight_decay_negative": "optim: {weight_decay: -0.1}",
        "gamma_nan": "optim: {gamma: .nan}", "flip_p_two": "augment: {flip_p: 2.0}",
        "val_fraction_one": f"data: {{train: {{path: {train_dir}, split: {{val_fraction: 1.0}}}}, "
                            f"val: {{path: {train_dir}}}}}",
        "split_seed_negative": f"data: {{train: {{path: {train_dir}, split: {{seed: -5}}}}, "
                               f"val: {{path: {train_dir}}}}}",
        "unknown_model_arg": "model_args: {depth_multiplier: 3}",
        "model_arg_nan": "model_args: {width: .nan}",
    }
    texts = {f"recipe_{name}": model + ("" if value.startswith("data:") else data) + value + "\n"
             for name, value in values.items()}  # a data: value replaces the default one
    texts.update({f"recipe_{name}": text for name, text in hostile_yaml(model + data, "out").items()})
    return texts


def target_texts() -> dict[str, str]:
    """Targets (name = file stem, as load_target requires) whose only defect is one value."""
    trt = "runtime: tensorrt\nonnx: {dynamic_batch: true}\n"
    values = {
        "opset_high": "runtime: onnxruntime\nonnx: {opset: 99}", "opset_low": "runtime: onnxruntime\nonnx: {opset: 7}",
        "workspace_negative": trt + "tensorrt: {workspace_mb: -512}",
        "batch_negative": trt + "tensorrt: {batch: [-4, 1, 8]}",
        "batch_unordered": trt + "tensorrt: {batch: [1, 8, 4]}",
        "images_min_above_max": "runtime: onnxruntime\nint8: {min_images: 64, max_images: 8}",
        "holdout_negative": "runtime: onnxruntime\nint8: {holdout_images: -1}",
        "percentile_high": "runtime: onnxruntime\nint8: {percentile: 150}",
        "budget_nan": "runtime: onnxruntime\nint8: {budget_nme: .nan}",
        "parity_images_zero": "runtime: onnxruntime\nonnx: {parity_images: 0}",
        "trt_version_unknown": trt + "tensorrt: {version: '9.9'}",
        "dla_negative": trt.replace("true", "false") + "tensorrt: {version: '8.5.2', precision: fp16, dla_core: -1}",
    }
    texts = {f"target_{name}": f"name: target_{name}\n{text}\n" for name, text in values.items()}
    for name, text in hostile_yaml("runtime: onnxruntime\n", "description").items():
        texts[f"target_{name}"] = (f"name: target_{name}\n".encode() if isinstance(text, bytes) else
                                   f"name: target_{name}\n") + text
    return texts


def calibration_texts(train_dir: Path) -> dict[str, str]:
    """Calibration lists (``--calib X.yaml``): a negative limit, an alias bomb in the description."""
    head = f"sources:\n  - path: {train_dir}\n"
    return {"calib_negative_limit": head + "    limit: -3\n", "calib_alias_bomb": head + alias_bomb("description")}


def write_yaml(root: Path, train_dir: Path) -> Corpus:
    texts = {**recipe_texts(train_dir), **target_texts(), **calibration_texts(train_dir)}
    return _write(root / "yaml", {name: (f"{name}.yaml", text) for name, text in texts.items()})


# ----------------------------------------------------------------------------- manifests


def _manifest_edits(spec) -> dict[str, object]:
    """manifest case -> a function of the manifest dict returning the bad JSON text."""
    big = 10 ** 4000

    def with_target(section: dict):
        target = {"name": "desktop", "runtime": "tensorrt", "onnx": {"dynamic_batch": True}, "tensorrt": section}
        return lambda m: json.dumps({**m, "target": target})

    return {
        "manifest_nul_path": lambda m: json.dumps({**m, "files": [{**m["files"][0], "path": "model\0.onnx"}]}),
        "manifest_nul_name": lambda m: json.dumps({**m, "model": {**m["model"], "name": "pf\0ld"}}),
        "manifest_deep": lambda m: json.dumps(m)[:-1] + ', "provenance": ' + "[" * 5000 + "]" * 5000 + "}",
        "manifest_deep_checks": lambda m: json.dumps(m)[:-1] + ', "checks": {"profile": {"context": {"x": '
        + "[" * 100 + "]" * 100 + "}}}}",
        "manifest_files_string": lambda m: json.dumps({**m, "files": "model.onnx"}),
        "manifest_size_string": lambda m: json.dumps({**m, "files": [{**m["files"][0], "size": "12"}]}),
        "manifest_huge_name": lambda m: json.dumps({**m, "model": {**m["model"], "name": "p" * 3_000_000}}),
        "manifest_huge_integer": lambda m: json.dumps(m)[:-1] + f', "format": {big}' + "}",
        "manifest_not_utf8": lambda m: json.dumps(m).replace('"fp32"', '"fp32\udcff"'),  # encoded below
        "manifest_checks_wrong_type": lambda m: json.dumps({**m, "checks": {"gate": [1, 2], "selected": 3}}),
        "manifest_engines_wrong_type": lambda m: json.dumps({**m, "checks": {"engines": {"e": 5}}}),
        "manifest_input_size_huge": lambda m: json.dumps(
            {**m, "model": {**m["model"], "preprocess": {**m["model"]["preprocess"], "input_size": [10**6, 10**6]}}}),
        "manifest_workspace_negative": with_target({"workspace_mb": -512}),
        "manifest_trt_version_unknown": with_target({"version": "9.9"}),
    }


TRT_TARGET = {"name": "desktop-fp16", "runtime": "tensorrt", "onnx": {"dynamic_batch": True},
              "tensorrt": {"version": "10.3", "precision": "fp16", "batch": [1, 4, 8]}}


def write_manifests(root: Path, onnx_bytes: bytes, spec) -> Corpus:
    """Artifact folders holding a valid model file and a malformed ``edgekit.json`` (``<name>_file``), and a
    valid TensorRT-target artifact (``trt_artifact_ok``) for ``build --trt-version`` and as the control case."""
    mc = _make_corpus()
    good = mc._artifact(root / "manifests" / "trt_artifact_ok", spec, {"model.onnx": onnx_bytes})
    manifest = json.loads((good / "edgekit.json").read_text())
    (good / "edgekit.json").write_text(json.dumps({**manifest, "target": TRT_TARGET}))
    corpus = {"trt_artifact_ok": good}
    for name, edit in _manifest_edits(spec).items():
        folder = mc._artifact(root / "manifests" / name, spec, {"model.onnx": onnx_bytes})
        manifest = folder / "edgekit.json"
        text = edit(json.loads(manifest.read_text()))
        manifest.write_bytes(text.encode("utf-8", "surrogateescape"))
        corpus[name], corpus[f"{name}_file"] = folder, manifest
    return corpus


# ----------------------------------------------------------------------------- ONNX and TFLite files


def graph_onnx(path: Path, spec, outputs: list[tuple[str, tuple[int, ...], int]], input_type: int | None = None,
               metadata: str | None = None) -> Path:
    """A valid ONNX taking the spec's (B, C, H, W) input (of ``input_type``, cast to float inside) with
    ``outputs`` (name, per-image shape, ONNX element type), each GlobalAveragePool -> Gemm -> Reshape (-> Cast).
    ``metadata`` replaces the embedded spec JSON."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from edgekit.backend.onnxruntime.loader import SPEC_KEY, embed_spec

    width, height = spec.preprocess.input_size
    channels = spec.preprocess.channels
    nodes = [helper.make_node("Cast", ["input"], ["x"], to=TensorProto.FLOAT),
             helper.make_node("GlobalAveragePool", ["x"], ["g"]), helper.make_node("Flatten", ["g"], ["f"])]
    weights, graph_outputs = [], []
    for i, (name, shape, elem) in enumerate(outputs):
        size = int(np.prod(shape))
        weights += [numpy_helper.from_array(np.full((channels, size), 0.1, np.float32), f"w{i}"),
                    numpy_helper.from_array(np.zeros(size, np.float32), f"b{i}"),
                    numpy_helper.from_array(np.array([-1, *shape], np.int64), f"s{i}")]
        nodes += [helper.make_node("Gemm", ["f", f"w{i}", f"b{i}"], [f"y{i}"]),
                  helper.make_node("Reshape", [f"y{i}", f"s{i}"], [f"r{i}"]),
                  helper.make_node("Cast", [f"r{i}"], [name], to=elem)]
        graph_outputs.append(helper.make_tensor_value_info(name, elem, ["batch", *shape]))
    source = helper.make_tensor_value_info("input", input_type or TensorProto.FLOAT,
                                           ["batch", channels, height, width])
    model = helper.make_model(helper.make_graph(nodes, "spec_case", [source], graph_outputs, weights),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    embed_spec(model, spec)
    if metadata is not None:
        next(p for p in model.metadata_props if p.key == SPEC_KEY).value = metadata
    onnx.save(model, str(path))
    return path


def _spec_json_defects(spec) -> dict[str, str]:
    good = spec.to_dict()
    return {
        "nul": json.dumps({**good, "name": "pf\0ld"}),
        "deep": json.dumps({**good, "description": "x"})[:-1] + ', "scheme": ' + "[" * 5000 + "]" * 5000 + "}",
        "wrong_type": json.dumps([good]),
        "not_json": '{"name": "pfld", ',
        "huge": json.dumps({**good, "description": "d" * 2_000_000}),
        "huge_integer": json.dumps(good)[:-1] + ', "description": ' + "9" * 5000 + "}",
        "zero_points": json.dumps({**good, "head": {**good["head"], "params": {"num_points": 0}}}),
    }


def write_onnx(root: Path, pfld, hopenet, mobilefan) -> Corpus:
    """ONNX files that do not fit their spec (output width, heatmap size, bins, dtypes, output count) or carry
    a malformed one."""
    from onnx import TensorProto

    F, folder = TensorProto.FLOAT, root / "onnx"
    folder.mkdir()
    cases = {
        "onnx_wrong_width": (pfld, [("landmarks", (134,), F)], None),
        "onnx_wrong_rank": (pfld, [("landmarks", (68, 2), F)], None),
        "onnx_uint8_input": (pfld, [("landmarks", (136,), F)], TensorProto.UINT8),
        "onnx_double_output": (pfld, [("landmarks", (136,), TensorProto.DOUBLE)], None),
        "onnx_int_output": (pfld, [("landmarks", (136,), TensorProto.INT64)], None),
        "onnx_bins_wrong": (hopenet, [("bins", (3, 60), F)], None),
        "onnx_heatmap_wrong": (mobilefan, [("heatmaps", (68, 16, 16), F)], None),
    }
    corpus = {name: graph_onnx(folder / f"{name}.onnx", spec, outputs, input_type)
              for name, (spec, outputs, input_type) in cases.items()}
    for defect, text in _spec_json_defects(pfld).items():
        name = f"onnx_spec_{defect}"
        corpus[name] = graph_onnx(folder / f"{name}.onnx", pfld, [("landmarks", (136,), F)], metadata=text)
    return corpus


def reshape_tflite(path: Path, spec, in_shape: list[int], out_shape: list[int], int8: bool = False,
                   metadata_buffer: int | None = None) -> Path:
    """A runnable .tflite: one RESHAPE from ``in_shape`` to ``out_shape`` (float32, or int8 without quantization
    parameters), carrying ``spec``; ``metadata_buffer`` points the spec's metadata entry at another buffer."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    from edgekit.backend.tflite.loader import embed_spec, rewrite_model

    def tensor(name: str, shape: list[int], buffer: int, kind: int):
        t = schema.TensorT()
        t.name, t.shape, t.type, t.buffer = name, shape, kind, buffer
        return t

    kind = schema.TensorType.INT8 if int8 else schema.TensorType.FLOAT32
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.RESHAPE
    code.version = 1
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1], [2]
    graph = schema.SubGraphT()
    graph.tensors = [tensor("input", in_shape, 1, kind), tensor("shape", [len(out_shape)], 2,
                                                                 schema.TensorType.INT32),
                     tensor("output", out_shape, 3, kind)]
    graph.inputs, graph.outputs, graph.operators = [0], [2], [op]
    buffers = [schema.BufferT() for _ in range(4)]  # buffer 0 is the empty sentinel
    buffers[2].data = np.asarray(out_shape, np.int32).view(np.uint8)
    model = schema.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, [code], [graph], buffers
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))
    embed_spec(path, spec)
    if metadata_buffer is not None:
        rewrite_model(path, lambda m: setattr(m.metadata[-1], "buffer", metadata_buffer))
    return path


def write_tflite(root: Path, pfld) -> Corpus:
    """A TFLite of the right input and the wrong output, an int8 one with no scale (for a 1x1-pixel pose spec it
    fits exactly), and one whose spec metadata points past the buffers."""
    import dataclasses

    from edgekit.specs import HeadSpec

    folder = root / "tflite"
    folder.mkdir()
    pose = dataclasses.replace(pfld, name="toy_pose", task="pose",
                               preprocess=dataclasses.replace(pfld.preprocess, input_size=(1, 1), layout="NHWC"),
                               head=HeadSpec("pose_regression", ("pose",)))
    return {
        "tflite_wrong_output": reshape_tflite(folder / "wrong_output.tflite", pfld, [1, 112, 112, 3],
                                              [1, 112 * 112 * 3]),
        "tflite_int8_no_scale": reshape_tflite(folder / "int8_no_scale.tflite", pose, [1, 1, 1, 3], [1, 3], int8=True),
        "tflite_spec_bad_buffer": reshape_tflite(folder / "bad_buffer.tflite", pfld, [1, 112, 112, 3], [1, 37632],
                                                 metadata_buffer=999),
    }


# ----------------------------------------------------------------------------- weights and run folders


def _weights_metadata(model) -> dict[str, str]:
    return {"edgekit.format": "1", "edgekit.model": "pfld_0.25x", "edgekit.model_args": "{}",
            "edgekit.spec": json.dumps(model.spec.to_dict())}


def write_weights(root: Path) -> Corpus:
    """pfld_0.25x weights with one defect each: metadata missing or malformed, an argument its builder does not
    take, a parameter stored as int32 / complex / float64, one tensor of the wrong shape."""
    import torch
    from safetensors.torch import save

    from edgekit.models.weights import build_model

    model = build_model("pfld_0.25x")
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    good = _weights_metadata(model)
    key = "fc.weight"
    cases = {
        "weights_no_metadata": (state, {}),
        "weights_no_spec": (state, {k: v for k, v in good.items() if k != "edgekit.spec"}),
        "weights_spec_not_json": (state, {**good, "edgekit.spec": "{'name': pfld"}),
        "weights_spec_wrong_type": (state, {**good, "edgekit.spec": "[1, 2, 3]"}),
        "weights_spec_deep": (state, {**good, "edgekit.spec": "[" * 5000 + "]" * 5000}),
        "weights_spec_invalid": (state, {**good, "edgekit.spec": json.dumps({"name": "x"})}),
        "weights_args_not_json": (state, {**good, "edgekit.model_args": "width=0.25"}),
        "weights_args_wrong_type": (state, {**good, "edgekit.model_args": "[0.25]"}),
        "weights_unknown_arg": (state, {**good, "edgekit.model_args": json.dumps({"depth_multiplier": 3})}),
        "weights_int32": ({**state, key: state[key].to(torch.int32)}, good),
        "weights_complex": ({**state, key: state[key].to(torch.complex64)}, good),
        "weights_float64": ({**state, key: state[key].double()}, good),
        "weights_wrong_shape": ({**state, key: state[key][:, :-1].contiguous()}, good),
        "weights_model_name_nul": (state, {**good, "edgekit.model": "pfld\0x"}),
    }
    folder = root / "weights"
    folder.mkdir()
    corpus = {}
    for name, (tensors, metadata) in cases.items():
        corpus[name] = folder / f"{name}.safetensors"
        corpus[name].write_bytes(save(tensors, metadata=metadata or None))
    return corpus


def _run_states() -> dict[str, bytes]:
    """last.pt contents: foreign bytes, a truncated zip, checkpoints missing or mangling what resuming needs."""
    import torch

    from edgekit.models.weights import build_model
    from edgekit.train.rng import rng_state

    model = build_model("pfld_0.25x")
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    params[0].grad = torch.zeros_like(params[0])
    optimizer.step()  # a real moment for the first parameter
    full = {"model_name": "pfld_0.25x", "model_args": {}, "model": model.state_dict(),
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "scaler": {}, "epoch": 1,
            "step": 1, "best_metric": 9.0, "best_epoch": 1, "rng": rng_state()}
    bad_moment = copy.deepcopy(optimizer.state_dict())  # its state dicts are the optimizer's own
    bad_moment["state"][0]["exp_avg"] = torch.zeros(3)
    states = {
        "run_missing_keys": {k: v for k, v in full.items() if k not in ("optimizer", "rng")},
        "run_bad_optimizer": {**full, "optimizer": bad_moment},
        "run_bad_rng": {**full, "rng": {"torch": torch.zeros(3, dtype=torch.uint8)}},
        "run_epoch_string": {**full, "epoch": "one"},
        "run_model_name_int": {**full, "model_name": 7},
        "run_model_list": {**full, "model": [1, 2, 3]},
    }
    data = {}
    for name, state in states.items():
        buffer = io.BytesIO()
        torch.save(state, buffer)
        data[name] = buffer.getvalue()
    data["run_truncated_zip"] = data["run_bad_rng"][: len(data["run_bad_rng"]) // 2]
    data["run_not_zip"] = b"last.pt of another program\n" * 40
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("notes.txt", "a zip, but not torch's")
    data["run_foreign_zip"] = zipped.getvalue()
    return data


def write_runs(root: Path) -> Corpus:
    """Run folders (``<name>``) whose last.pt (``<name>_file``) cannot be resumed."""
    corpus = {}
    for name, data in _run_states().items():
        folder = root / "runs" / name
        folder.mkdir(parents=True)
        (folder / "last.pt").write_bytes(data)
        corpus[name], corpus[f"{name}_file"] = folder, folder / "last.pt"
    return corpus


# ----------------------------------------------------------------------------- all of it


def write_spec_corpus(root: str | Path, train_dir: str | Path) -> Corpus:
    """Write the whole spec corpus under ``root`` (created; must be empty); ``train_dir``: a folder of faces the
    recipes name (any: their defect is refused first). Returns name -> path."""
    from edgekit.registry import create_model

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty")
    pfld, hopenet, mobilefan = (create_model(n).spec for n in ("pfld_0.25x", "hopenet_mbv2", "mobilefan"))
    corpus = write_yaml(root, Path(train_dir))
    corpus.update(write_onnx(root, pfld, hopenet, mobilefan))
    onnx_ok = graph_onnx(root / "onnx" / "ok.onnx", pfld, [("landmarks", (136,), 1)])
    corpus.update(write_manifests(root, onnx_ok.read_bytes(), pfld))
    corpus.update(write_tflite(root, pfld))
    corpus.update(write_weights(root))
    corpus.update(write_runs(root))
    return corpus


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/corpus/specs.py OUT_DIR")
    out = Path(sys.argv[1])
    faces = out / "faces"
    for key, value in write_spec_corpus(out / "specs", faces).items():
        print(f"{key:34} {value}")
