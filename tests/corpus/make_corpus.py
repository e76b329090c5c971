"""Generate the bad-input corpus: every kind of broken file a user can hand edgekit, plus a few odd-but-valid
images that must work. Nothing here is committed as a binary; ``make_corpus(dir)`` writes it all (~3 s).

    python tests/corpus/make_corpus.py OUT_DIR     # writes the corpus and prints name -> path

Names ending in ``_ok`` must be accepted; every other entry must be refused with one line naming it.
"""
from __future__ import annotations

import io
import json
import pickle
import shutil
import struct
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np

Corpus = dict[str, Path]


# ----------------------------------------------------------------------------- images


def _face(seed: int = 0, size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """A drawn face: BGR uint8 (size, size, 3) and its (68, 2) landmarks."""
    from edgekit.data.synthetic import draw_face

    image, landmarks, _ = draw_face(np.random.default_rng(seed), size)
    return image, landmarks


def _encode(image: np.ndarray, suffix: str) -> bytes:
    ok, data = cv2.imencode(suffix, image)
    assert ok, f"OpenCV could not encode {suffix}"
    return data.tobytes()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def huge_png_bytes(width: int = 20000, height: int = 20000) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` gray pixels, with a tiny IDAT and a proper IEND: a
    reader that trusts the header before decoding refuses it without allocating 400 MB."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit gray, no interlace
    pixels = zlib.compress(b"\x00" * (width + 1))  # one row only: decoding would fail, but must not be tried
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", pixels)
            + _png_chunk(b"IEND", b""))


def write_images(root: Path) -> Corpus:
    """Broken images (truncated, corrupt, empty, huge) and valid odd ones (gray, RGBA, 16-bit) of one face, each
    in its own folder ``images/<name>/`` (``<name>_dir``) with the face's 68 points beside it, so scans and
    evaluations reach the image itself."""
    from edgekit.data.readers import format_pts

    image, landmarks = _face()
    jpeg, png = _encode(image, ".jpg"), _encode(image, ".png")
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    rgba = cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)
    files = {
        "face_ok": ("face.jpg", jpeg),
        "gray_png_ok": ("gray.png", _encode(gray, ".png")),
        "rgba_png_ok": ("rgba.png", _encode(rgba, ".png")),
        "png16_ok": ("png16.png", _encode(image.astype(np.uint16) * 257, ".png")),
        "truncated_jpg": ("truncated.jpg", jpeg[: len(jpeg) // 2]),
        "truncated_png": ("truncated.png", png[: len(png) // 2]),
        "corrupt_jpg": ("corrupt.jpg", np.random.default_rng(1).integers(0, 256, 4096, np.uint8).tobytes()),
        "empty_jpg": ("empty.jpg", b""),
        "huge_png": ("huge.png", huge_png_bytes()),
    }
    corpus = {}
    for name, (file_name, data) in files.items():
        folder = root / "images" / name
        folder.mkdir(parents=True)
        corpus[name], corpus[f"{name}_dir"] = folder / file_name, folder
        corpus[name].write_bytes(data)
        corpus[name].with_suffix(".pts").write_text(format_pts(landmarks))
    return corpus


# ----------------------------------------------------------------------------- annotations


def _annotated_folder(root: Path, name: str, annotation: str, text: str | bytes) -> Path:
    """``root/name/`` holding a face image and one annotation file ``face.<annotation>``; returns the file."""
    folder = root / name
    folder.mkdir()
    image, _ = _face(2)
    (folder / "face.jpg").write_bytes(_encode(image, ".jpg"))
    path = folder / f"face.{annotation}"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _mat_bytes(variables: dict) -> bytes:
    import scipy.io

    buffer = io.BytesIO()
    scipy.io.savemat(buffer, variables)
    return buffer.getvalue()


def write_annotations(root: Path) -> Corpus:
    """Point files with 67 / 69 points, NaN and text coordinates, all points on one pixel, an AFLW2000 .mat
    without Pose_Para: each in its
    own folder beside a valid image (``<name>`` is the annotation, ``<name>_dir`` its folder)."""
    from edgekit.data.readers import format_pts

    _, landmarks = _face(2)
    nan_points = landmarks.copy()
    nan_points[5, 0] = np.nan
    pt3d = np.vstack([landmarks.T, np.zeros((1, 68))])  # 3x68, rows x, y, z
    files = {
        "pts67": ("pts", format_pts(landmarks[:67])),
        "pts69": ("pts", format_pts(np.vstack([landmarks, landmarks[:1]]))),
        "pts_nan": ("pts", format_pts(nan_points)),
        "pts_text": ("pts", format_pts(landmarks).replace(f"{landmarks[3, 1]:.6f}", "twelve", 1)),
        "pts_degenerate": ("pts", format_pts(np.full_like(landmarks, 50.0))),  # 68 points on one pixel
        "mat_no_pose": ("mat", _mat_bytes({"pt3d_68": pt3d, "pt2d": landmarks[:21].T})),
    }
    corpus = {}
    for name, (suffix, text) in files.items():
        corpus[name] = _annotated_folder(root, name, suffix, text)
        corpus[f"{name}_dir"] = corpus[name].parent
    return corpus


# ----------------------------------------------------------------------------- calibration folders and YAML


def write_calibration(root: Path) -> Corpus:
    empty = root / "calib_empty"
    empty.mkdir()
    non_images = root / "calib_non_images"
    non_images.mkdir()
    (non_images / "notes.txt").write_text("no faces here\n")
    (non_images / "weights.bin").write_bytes(b"\x00" * 16)
    return {"calib_empty": empty, "calib_non_images": non_images}


def write_yaml(root: Path, train_dir: Path) -> Corpus:
    """Recipes and targets with an unknown key or a wrong type (targets keep name == file stem, so only the
    defect under test is wrong)."""
    folder = root / "yaml"
    folder.mkdir()
    data = f"data: {{train: {{path: {train_dir}}}, val: {{path: {train_dir}}}}}\n"
    texts = {
        "recipe_unknown_key": ("recipe_unknown_key.yaml", f"model: pfld_0.25x\n{data}optim: {{epochs: 1, "
                                                          "learning_rate: 0.1}\n"),
        "recipe_wrong_type": ("recipe_wrong_type.yaml", f"model: pfld_0.25x\n{data}optim: {{epochs: ten}}\n"),
        "target_unknown_key": ("target_unknown_key.yaml", "name: target_unknown_key\nruntime: onnxruntime\n"
                                                          "int8: {method: minmax, bits: 4}\n"),
        "target_wrong_type": ("target_wrong_type.yaml", "name: target_wrong_type\nruntime: onnxruntime\n"
                                                        "int8: {min_images: many}\n"),
        "target_tiny_int8_ok": ("tiny-int8.yaml", "name: tiny-int8\nruntime: onnxruntime\n"  # one image is enough
                                                  "int8: {min_images: 1, max_images: 4, holdout_images: 0}\n"),
    }
    corpus = {}
    for name, (file_name, text) in texts.items():
        corpus[name] = folder / file_name
        corpus[name].write_text(text)
    return corpus


# ----------------------------------------------------------------------------- model files


def _spec(name: str):
    from edgekit.registry import create_model

    return create_model(name).spec


def gap_onnx(path: Path, spec, size: int) -> Path:
    """A valid ONNX taking (B, 3, size, size) that carries ``spec`` in its metadata (with ``size`` other than the
    spec's input, a file of another model): GlobalAveragePool -> Flatten -> Gemm (3 -> 2N), named as the spec's
    first output. Its landmarks are constant: fine for running every verb, useless for accuracy."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from edgekit.backend.onnxruntime.loader import embed_spec

    width = 2 * spec.head.num_points
    weights = [numpy_helper.from_array(np.full((3, width), 0.1, np.float32), "w"),
               numpy_helper.from_array(np.zeros(width, np.float32), "b")]
    nodes = [helper.make_node("GlobalAveragePool", ["input"], ["g"]), helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("Gemm", ["f", "w", "b"], [spec.head.outputs[0]])]
    graph = helper.make_graph(
        nodes, "wrong_shape", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, size, size])],
        [helper.make_tensor_value_info(spec.head.outputs[0], TensorProto.FLOAT, ["batch", width])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    embed_spec(model, spec)
    onnx.save(model, str(path))
    return path


def other_model_tflite(path: Path, spec) -> Path:
    """A real, runnable .tflite of another model (one RELU on a (1, 32, 32, 3) input, built with the LiteRT
    flatbuffer schema: no converter needed) that claims to be ``spec`` (embedded in its metadata)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    from edgekit.backend.tflite.loader import embed_spec

    def tensor(name: str, buffer: int):
        t = schema.TensorT()
        t.name, t.shape, t.type, t.buffer = name, [1, 32, 32, 3], schema.TensorType.FLOAT32, buffer
        return t

    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.RELU
    code.version = 1
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0], [1]
    graph = schema.SubGraphT()
    graph.tensors = [tensor("input", 1), tensor("output", 2)]
    graph.inputs, graph.outputs, graph.operators = [0], [1], [op]
    model = schema.ModelT()
    model.version, model.operatorCodes, model.subgraphs = 3, [code], [graph]
    model.buffers = [schema.BufferT() for _ in range(3)]  # buffer 0 is the empty sentinel
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))
    embed_spec(path, spec)
    return path


def _artifact(folder: Path, spec, files: dict[str, bytes], listed: dict[str, str] | None = None) -> Path:
    """An artifact folder: ``files`` written inside, each listed in edgekit.json with its sha256 (``listed`` maps a
    file to the manifest path recorded for it instead of its own name)."""
    from edgekit.artifact import ArtifactFile, Manifest, sha256_file, write_manifest

    folder.mkdir(parents=True)
    entries = []
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        fmt = {".onnx": "onnx", ".engine": "engine", ".tflite": "tflite"}[path.suffix]
        entries.append(ArtifactFile(path=(listed or {}).get(name, name), sha256=sha256_file(path), size=len(data),
                                    format=fmt))
    write_manifest(folder, Manifest(model=spec, files=tuple(entries)))
    return folder


def write_artifacts(root: Path, onnx_bytes: bytes, spec) -> Corpus:
    """A tampered file (sha256 no longer matches), a manifest path escaping the folder, a truncated engine."""
    tampered = _artifact(root / "artifact_bad_sha", spec, {"model.onnx": onnx_bytes})
    with open(tampered / "model.onnx", "r+b") as f:  # flip one byte in the middle
        f.seek(len(onnx_bytes) // 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))
    escape = _artifact(root / "artifact_escape" / "a", spec, {"model.onnx": onnx_bytes})
    shutil.move(escape / "model.onnx", root / "artifact_escape" / "model.onnx")
    _rewrite_paths(escape, {"model.onnx": "../model.onnx"})
    engine = np.random.default_rng(3).integers(0, 256, 8192, np.uint8).tobytes()
    truncated = _artifact(root / "artifact_truncated_engine", spec, {"model.engine": engine})
    (truncated / "model.engine").write_bytes(engine[:1000])
    lone = root / "engine" / "model.engine"
    lone.parent.mkdir()
    lone.write_bytes(engine[:1000])
    (lone.parent / "model.engine.json").write_text(json.dumps({"size": len(engine)}))
    return {"artifact_bad_sha": tampered, "artifact_bad_sha_file": tampered / "model.onnx",
            "artifact_escape": escape, "artifact_escape_manifest": escape / "edgekit.json",
            "artifact_truncated_engine": truncated, "artifact_truncated_engine_file": truncated / "model.engine",
            "engine_truncated": lone}


def _rewrite_paths(folder: Path, paths: dict[str, str]) -> None:
    manifest = folder / "edgekit.json"
    data = json.loads(manifest.read_text())
    for entry in data["files"]:
        entry["path"] = paths.get(entry["path"], entry["path"])
    manifest.write_text(json.dumps(data))


class MarkerPayload:
    """Unpickling this creates ``marker`` (via builtins.open): proof that a loader executed pickle code."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def write_checkpoints(root: Path) -> Corpus:
    """pfld_1x weights that say they are pfld_0.25x (.safetensors and .pt), raw and torch-zip pickles whose
    unpickling would create ``pickle_marker``, and run folders holding such files as last.pt."""
    import torch

    from edgekit.models.weights import build_model, save_weights
    from edgekit.train.checkpoint import save_checkpoint

    folder = root / "checkpoints"
    folder.mkdir()
    model = build_model("pfld_1x")
    model.edgekit_name = "pfld_0.25x"  # saved as if it were the smaller model
    weights = save_weights(model, folder / "pfld_1x_as_025x.safetensors")
    state = {"model_name": "pfld_0.25x", "model_args": {}, "model": model.state_dict()}
    checkpoint = save_checkpoint(folder / "pfld_1x_as_025x.pt", state)
    marker = root / "PICKLE_EXECUTED"
    raw = folder / "pickle.pt"
    raw.write_bytes(pickle.dumps({"model": MarkerPayload(marker)}, protocol=2))  # torch.load's own protocol
    zipped = folder / "pickle_zip.pt"
    torch.save({"model_name": "pfld_0.25x", "model": MarkerPayload(marker)}, zipped)
    corpus = {"wrong_arch_safetensors": weights, "wrong_arch_pt": checkpoint, "pickle_pt": raw,
              "pickle_zip_pt": zipped, "pickle_marker": marker}
    for name in ("wrong_arch_pt", "pickle_pt", "pickle_zip_pt"):  # the same files as a run's last.pt
        run = root / f"run_{name}"
        run.mkdir()
        shutil.copyfile(corpus[name], run / "last.pt")
        corpus[f"run_{name}"] = run
    return corpus


def write_models(root: Path) -> Corpus:
    folder = root / "models"
    folder.mkdir()
    pfld = _spec("pfld_0.25x")
    onnx_path = gap_onnx(folder / "pfld_96x96.onnx", pfld, 96)
    (folder / "empty.onnx").write_bytes(b"")
    (folder / "corrupt.onnx").write_bytes(b"\x08\x07garbage" * 100)
    corpus = {"onnx_ok": gap_onnx(folder / "pfld_shaped.onnx", pfld, pfld.preprocess.input_size[0]),
              "onnx_wrong_shape": onnx_path, "onnx_empty": folder / "empty.onnx",
              "onnx_corrupt": folder / "corrupt.onnx",
              "tflite_other": other_model_tflite(folder / "other.tflite", pfld)}
    corpus.update(write_artifacts(root, onnx_path.read_bytes(), pfld))
    corpus.update(write_checkpoints(root))
    return corpus


# ----------------------------------------------------------------------------- all of it


def make_corpus(root: str | Path) -> Corpus:
    """Write the whole corpus under ``root`` (created; must be empty) and return name -> path."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty")
    corpus = write_images(root)
    corpus.update(write_annotations(root))
    corpus.update(write_calibration(root))
    corpus.update(write_yaml(root, corpus["pts67_dir"]))
    corpus.update(write_models(root))
    return corpus


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/corpus/make_corpus.py OUT_DIR")
    for key, value in make_corpus(sys.argv[1]).items():
        print(f"{key:28} {value}")
