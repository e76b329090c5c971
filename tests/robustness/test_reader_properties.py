"""Property tests (hypothesis, bounded): any bytes into any reader, image decoder or folder scan is parsed or
refused with exactly one DataError naming the file; never another exception, never a line on stderr (the C
decoders print below Python: checked at the file-descriptor level)."""
from __future__ import annotations

import io
import json

import cv2
import numpy as np
import pytest
import scipy.io
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgekit.data import readers
from edgekit.data.check import check_folder
from edgekit.data.images import image_size, load_image
from edgekit.errors import DataError

BOUNDED = settings(max_examples=60, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture])
READERS = {  # file name -> reader of that format
    "face.pts": readers.read_pts_points, "face.json": readers.read_coco_json, "face.ljson": readers.read_ljson,
    "training.csv": readers.read_kaggle_csv, "list_98pt.txt": readers.read_wflw_txt,
    "a.mat": readers.read_aflw2000_mat, "b.mat": readers.read_300wlp_mat, "c.mat": readers.read_cofw_mat,
    "d.mat": readers.mat_shapes,
}
PTS_TOKENS = st.sampled_from(["1", "2.5", "-3e2", "1_0", "nan", "inf", "x", "\u0661", "{", "}", "n_points:", "68",
                              "version:", " ", "\t", "\r\n", "\n", "\r", "\x00", "\ufeff", "\udcff", "#"])
JSON_SCALARS = st.none() | st.booleans() | st.integers(-10 ** 30, 10 ** 30) | st.floats() | st.text(max_size=8)
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=6)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=30)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A scratch folder; each example overwrites the file it reads."""
    return tmp_path_factory.mktemp("fuzz")


def _parsed_or_one_error(read, path) -> None:
    try:
        read(path)
    except DataError as exc:
        assert exc.path == str(path) and "\n" not in str(exc)


def _write(folder, name: str, data: bytes):
    path = folder / name
    path.write_bytes(data)
    return path


def _valid_mat() -> bytes:
    buffer = io.BytesIO()
    pt3d = np.vstack([np.random.default_rng(0).uniform(10, 100, (2, 68)), np.zeros((1, 68))])
    scipy.io.savemat(buffer, {"pt3d_68": pt3d, "Pose_Para": np.array([[0.1, 0.2, 0.3, 0, 0, 0, 1]]),
                              "pt2d": pt3d[:2], "IsT": np.zeros((1, 1), dtype=object)}, do_compression=True)
    return buffer.getvalue()


def _valid_images() -> list[bytes]:
    image = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    return [cv2.imencode(suffix, image)[1].tobytes() for suffix in (".jpg", ".png", ".bmp", ".tiff", ".webp")]


MAT = _valid_mat()
IMAGES = _valid_images()


def _mutated(data: bytes, edits: list[tuple[int, int]], cut: int) -> bytes:
    """``data`` with (position, byte) overwrites, then cut to ``cut`` bytes when that is shorter."""
    mutable = bytearray(data)
    for position, value in edits:
        mutable[position % len(mutable)] = value
    return bytes(mutable[: max(1, cut)])


EDITS = st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(0, 255)), max_size=8)


@BOUNDED
@given(name=st.sampled_from(sorted(READERS)), data=st.binary(max_size=3000))
def test_any_bytes_into_any_reader(files, name, data):
    _parsed_or_one_error(READERS[name], _write(files, name, data))


@BOUNDED
@given(tokens=st.lists(PTS_TOKENS, max_size=60))
def test_any_pts_text(files, tokens):
    path = files / "t.pts"
    path.write_bytes("".join(tokens).encode("utf-8", "surrogateescape"))
    _parsed_or_one_error(readers.read_pts_points, path)


@BOUNDED
@given(images=JSON_VALUES, annotations=JSON_VALUES, landmarks=JSON_VALUES)
def test_any_json_document(files, images, annotations, landmarks):
    coco = _write(files, "c.json", json.dumps({"images": images, "annotations": annotations}).encode())
    _parsed_or_one_error(readers.read_coco_json, coco)
    ljson = _write(files, "c.ljson", json.dumps({"landmarks": landmarks, "groups": annotations}).encode())
    _parsed_or_one_error(readers.read_ljson, ljson)


@BOUNDED
@given(row=st.lists(st.text(max_size=10), max_size=40))
def test_any_kaggle_row(files, row):
    header = ",".join([f"{n}_{a}" for n in readers.KAGGLE_NAMES for a in "xy"] + ["Image"])
    path = _write(files, "k.csv", (header + "\n" + ",".join(row) + "\n").encode("utf-8", "surrogateescape"))
    _parsed_or_one_error(readers.read_kaggle_csv, path)


@BOUNDED
@given(edits=EDITS, cut=st.integers(1, len(MAT)), reader=st.sampled_from(["a.mat", "b.mat", "c.mat", "d.mat"]))
def test_any_damaged_mat_file(files, edits, cut, reader):
    _parsed_or_one_error(READERS[reader], _write(files, reader, _mutated(MAT, edits, cut)))


@BOUNDED
@given(which=st.integers(0, len(IMAGES) - 1), edits=EDITS, cut=st.integers(1, 4000))
def test_any_damaged_image_is_decoded_or_refused_quietly(files, capfd, which, edits, cut):
    path = _write(files, "face.jpg", _mutated(IMAGES[which], edits, cut))
    capfd.readouterr()
    for read in (load_image, image_size):
        _parsed_or_one_error(read, path)
    assert capfd.readouterr().err == ""  # libjpeg, libpng, libtiff and OpenCV print nothing


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(READERS) + ["face.jpg", "face.png"]), data=st.binary(max_size=600))
def test_a_scan_lists_any_bad_file_as_a_problem(tmp_path_factory, name, data):
    folder = tmp_path_factory.mktemp("scan")
    path = _write(folder, name, data)
    result = check_folder(folder, decode=True)  # never raises for a bad file
    assert all(problem.path == path and "\n" not in str(problem) for problem in result.problems)
