"""Shared fixtures. Tests that need ../shared/data use ``shared_data`` and skip with a reason when it is absent."""
from __future__ import annotations

from pathlib import Path

import os
import shutil

import numpy as np
import pytest

from edgekit.paths import shared_data_dir
from edgekit.specs import Int8Section

SMALL_INT8 = Int8Section(min_images=8, max_images=16, holdout_images=8)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = shared_data_dir()
    if not root.is_dir():
        pytest.skip(f"real face data not found at {root} (set EDGEKIT_SHARED_DATA or place ../shared/data)")
    return root


@pytest.fixture()
def run_cli(capsys):
    """Run ``edgekit ARGS`` in-process; returns (exit code, stdout, stderr)."""
    from edgekit.cli import main

    def _run(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return _run


def write_tiny_landmark_onnx(path: Path, num_points: int = 5, size: int = 32, embed: bool = True) -> Path:
    """A tiny real ONNX landmark regressor built with onnx.helper (dynamic batch, NCHW RGB ``size``^2 input):
    Conv 3->4 k3 pad 1, ReLU, global average pool, Gemm 4->2N, Sigmoid -> ``landmarks`` (B, 2N) in [0, 1].
    MACs per image: size^2 * 4 * 27 (conv) + 4 * 2N (Gemm). ``embed`` writes the ModelSpec into its metadata."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from edgekit.heads import RegressionParams
    from edgekit.specs import HeadSpec, ModelSpec, PreprocessSpec

    rng = np.random.default_rng(0)
    shapes = (("conv_w", (4, 3, 3, 3)), ("fc_w", (4, 2 * num_points)), ("fc_b", (2 * num_points,)))
    weights = [numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32) * 0.3, name)
               for name, shape in shapes]
    nodes = [helper.make_node("Conv", ["input", "conv_w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]), helper.make_node("GlobalAveragePool", ["r"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"]), helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["z"]),
             helper.make_node("Sigmoid", ["z"], ["landmarks"])]
    image = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, size, size])
    points = helper.make_tensor_value_info("landmarks", TensorProto.FLOAT, ["batch", 2 * num_points])
    graph = helper.make_graph(nodes, "tiny", [image], [points], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if embed:
        from edgekit.backend.onnxruntime.loader import embed_spec

        spec = ModelSpec(name="tiny_landmarks", task="landmarks", scheme="tiny",
                         preprocess=PreprocessSpec(input_size=(size, size)),
                         head=HeadSpec("regression", ("landmarks",), RegressionParams(num_points)))
        embed_spec(model, spec)
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


@pytest.fixture()
def make_tiny_onnx():
    """``write_tiny_landmark_onnx`` (conftest is not importable from tests in importlib mode)."""
    return write_tiny_landmark_onnx


@pytest.fixture()
def tiny_onnx(tmp_path) -> Path:
    """A tiny ONNX landmark model with its spec embedded (see ``write_tiny_landmark_onnx``)."""
    return write_tiny_landmark_onnx(tmp_path / "tiny.onnx")


@pytest.fixture()
def tiny_artifact(tmp_path, tiny_onnx):
    """``make(engine=False) -> folder``: an artifact holding the tiny ONNX (and a fake, never-run TensorRT
    engine), with a verified manifest."""
    from edgekit.artifact import Manifest, describe_file, write_manifest
    from edgekit.backend.onnxruntime.loader import spec_from_onnx

    def make(engine: bool = False) -> Path:
        folder = tmp_path / "art"
        folder.mkdir()
        model = folder / "model.onnx"
        model.write_bytes(tiny_onnx.read_bytes())
        files = [describe_file(folder, model, "onnx")]
        if engine:
            (folder / "model.engine").write_bytes(b"not built here")
            files.append(describe_file(folder, folder / "model.engine", "engine", precision="fp16"))
        write_manifest(folder, Manifest(model=spec_from_onnx(model), files=tuple(files)))
        return folder

    return make


# Training and evaluation tests: a small folder of synthetic faces (68 iBUG points, .jpg + .pts).


@pytest.fixture(scope="session")
def synthetic_faces(tmp_path_factory) -> Path:
    from edgekit.data.synthetic import write_synthetic_folder

    folder = tmp_path_factory.mktemp("synthetic_faces")
    write_synthetic_folder(folder, 16, np.random.default_rng(0), size=128)
    return folder


@pytest.fixture()
def tiny_recipe(synthetic_faces, tmp_path):
    """A 2-epoch PFLD 0.25x recipe on the synthetic faces (train and val the same folder), out in tmp_path."""
    from edgekit.recipe import recipe_from_dict

    def make(epochs: int = 2, out: Path | None = None, **extra):
        return recipe_from_dict({
            "model": "pfld_0.25x",
            "data": {"train": {"path": str(synthetic_faces)}, "val": {"path": str(synthetic_faces)}},
            "optim": {"epochs": epochs, "batch_size": 8, "lr": 1e-3, "warmup_epochs": 1},
            "seed": 3,
            "out": str(out or tmp_path / "run"),
            **extra,
        })

    return make


@pytest.fixture()
def dead_pid() -> int:
    """The id of a process that has just exited and been reaped: a killed edgekit run's (its leftovers are stale)."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# Export and backend tests: registered models with seeded random weights, a folder of real faces (ytf68/val when
# the shared data is present, else synthetic drawn faces), a private calibration cache, a small fast INT8 section.


@pytest.fixture(scope="session")
def private_cache(tmp_path_factory):
    """Calibration tensors are cached under a per-session folder, never ~/.cache."""
    old = os.environ.get("EDGEKIT_CACHE")
    os.environ["EDGEKIT_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("EDGEKIT_CACHE", None)
    else:
        os.environ["EDGEKIT_CACHE"] = old


def build(name: str):
    import torch

    from edgekit.models.weights import build_model

    torch.manual_seed(0)
    torch.set_num_threads(1)
    return build_model(name).eval()


@pytest.fixture(scope="session")
def small_int8() -> Int8Section:
    return SMALL_INT8


@pytest.fixture(scope="session")
def pfld():
    return build("pfld_0.25x")


@pytest.fixture(scope="session")
def fsanet():
    return build("fsanet")


@pytest.fixture(scope="session")
def faces_dir(tmp_path_factory, private_cache) -> Path:
    """24 annotated faces (calibration caches go to a private folder while they are used): real ytf68/val images (copied to a temp folder, never into the repo: scans refuse links
    leading out of the scanned folder) or synthetic ones."""
    real = shared_data_dir() / "ytf68" / "val"
    folder = tmp_path_factory.mktemp("faces")
    if real.is_dir():
        for image in sorted(real.glob("*.jpg"))[:24]:
            for path in (image, image.with_suffix(".pts")):
                shutil.copyfile(path, folder / path.name)
    else:
        from edgekit.data.synthetic import write_synthetic_folder

        write_synthetic_folder(folder, 24, np.random.default_rng(0), size=128)
    return folder


@pytest.fixture(scope="session")
def pfld_onnx(pfld, tmp_path_factory) -> Path:
    from edgekit.export.onnx import export_onnx
    from edgekit.specs import OnnxSection

    return export_onnx(pfld, tmp_path_factory.mktemp("onnx") / "model.onnx", OnnxSection())


@pytest.fixture(scope="session")
def pfld_calibration(pfld, faces_dir):
    from edgekit.export.calibset import load_calibration

    return load_calibration(str(faces_dir), pfld.spec, SMALL_INT8)


# Stream tests and the README's examples: a video of real faces the test writes with OpenCV (no network, no camera).


class FaceVideo:
    """Two real faces per frame: Grace Hopper's (matplotlib's sample photo, 200 x 200 px) moving right and down
    by (2, 1) px per frame, her mirror image moving left and up by (1, 1); ``SIZE`` (width, height) frames."""

    SIZE = (520, 280)
    FPS = 10.0

    @staticmethod
    def frame(index: int, second_face: bool = True, noise: float = 0.0) -> np.ndarray:
        import cv2

        from edgekit.profile.worker import sample_image_path

        face = cv2.resize(cv2.imread(str(sample_image_path()))[60:380, 110:430], (200, 200),
                          interpolation=cv2.INTER_AREA)
        canvas = np.full((FaceVideo.SIZE[1], FaceVideo.SIZE[0], 3), 80, np.uint8)
        canvas[30 + index : 230 + index, 20 + 2 * index : 220 + 2 * index] = face
        if second_face:
            canvas[40 - index : 240 - index, 290 - index : 490 - index] = cv2.flip(face, 1)
        if noise:  # seeded per frame: a still scene whose pixels jitter
            jitter = np.random.default_rng(index).normal(0.0, noise, canvas.shape)
            canvas = np.clip(canvas + jitter, 0, 255).astype(np.uint8)
        return canvas

    @staticmethod
    def write(path: Path, frames: list[np.ndarray]) -> Path:
        """``frames`` as a video: MJPG for .avi, mp4v for .mp4 (codecs every OpenCV build writes)."""
        import cv2

        fourcc = cv2.VideoWriter_fourcc(*("MJPG" if Path(path).suffix == ".avi" else "mp4v"))
        writer = cv2.VideoWriter(str(path), fourcc, FaceVideo.FPS, FaceVideo.SIZE)
        for frame in frames:
            writer.write(frame)
        writer.release()
        return Path(path)


@pytest.fixture(scope="session")
def face_video() -> type[FaceVideo]:
    return FaceVideo
