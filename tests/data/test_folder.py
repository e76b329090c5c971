"""Folder scans: formats recognised, one problem per bad file, never an exception for a bad file."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest
import scipy.io

from edgekit.data.folder import MAX_DEPTH, scan_folder
from edgekit.data.readers import format_pts
from edgekit.data.synthetic import write_synthetic_folder
from edgekit.errors import DataError


@pytest.fixture()
def faces(tmp_path):
    folder = tmp_path / "faces"
    write_synthetic_folder(folder, 3, np.random.default_rng(0), size=96)
    return folder


def test_clean_synthetic_folder(faces):
    result = scan_folder(faces)
    assert len(result.samples) == 3 and result.problems == []
    assert result.formats == {"pts": 3} and result.schemes == {"ibug68": 3} and result.with_pose == 0


def _messages(result):
    return {p.path.name: p.message for p in result.problems}


def test_each_bad_file_gives_one_problem(faces):
    pts = (faces / "face_0000.pts").read_text()
    (faces / "orphan.jpg").write_bytes((faces / "face_0000.jpg").read_bytes())  # image without annotation
    (faces / "lonely.pts").write_text(pts)  # annotation without image
    far = np.full((68, 2), 50.0)
    far[3] = (500, 40)
    (faces / "face_0001.pts").write_text(format_pts(far))  # a point outside the 96x96 image
    (faces / "face_0002.pts").write_text("1 2\n3 x\n")  # unreadable annotation
    (faces / "notes.txt").write_text("not a WFLW list\n")  # ignored
    (faces / "config.json").write_text('{"lr": 0.1}')  # not COCO: ignored
    scipy.io.savemat(faces / "other.mat", {"weights": np.zeros(3)})  # unrecognised .mat
    result = scan_folder(faces)
    messages = _messages(result)
    assert set(messages) == {"orphan.jpg", "lonely.pts", "face_0001.pts", "face_0002.pts", "other.mat"}
    assert messages["orphan.jpg"] == "image without annotation"
    assert messages["lonely.pts"] == "annotation without image (looked for lonely.jpg)"
    assert messages["face_0001.pts"] == "1 of 68 points outside the 96x96 image by more than 8 px"
    assert messages["face_0002.pts"] == "line 2: 'x' is not a number"
    assert messages["other.mat"] == "unrecognised .mat file (variables: weights)"
    # the out-of-image point is a warning: that sample is kept, the others are errors and dropped
    assert len(result.samples) == 2 and result.formats == {"pts": 2}
    assert [p.path.name for p in result.problems if p.warning] == ["face_0001.pts"]


def test_coco_missing_points_and_mat_formats(tmp_path, faces):
    (faces / "face_0000.pts").unlink()
    points = np.c_[np.full((68, 2), 40.0), np.full(68, 2.0)]
    points[5] = 0  # unlabelled -> NaN -> a problem for a 68-point scheme
    coco = {"images": [{"id": 1, "file_name": "face_0000.jpg"}],
            "annotations": [{"image_id": 1, "keypoints": points.reshape(-1).tolist()}]}
    (faces / "anno.json").write_text(json.dumps(coco))
    result = scan_folder(faces)
    assert _messages(result) == {"anno.json": "face_0000.jpg: 1 of 68 points are missing (NaN)"}
    pose = np.r_[np.radians([5.0, 10.0, 0.0]), 0, 0, 0, 1][None]
    scipy.io.savemat(faces / "face_0001.mat", {"pt2d": 30.0 + np.arange(136.0).reshape(2, 68) % 10, "Pose_Para": pose})
    (faces / "face_0001.pts").unlink()
    result = scan_folder(faces)
    assert result.formats == {"pts": 1, "300wlp_mat": 1} and result.with_pose == 1


def test_missing_root_is_an_error(tmp_path):
    with pytest.raises(DataError, match="folder not found"):
        scan_folder(tmp_path / "nope")


def test_real_folders(shared_data):
    start = time.perf_counter()
    val = scan_folder(shared_data / "ytf68" / "val")
    assert (len(val.samples), val.problems, val.formats) == (770, [], {"pts": 770})
    assert time.perf_counter() - start < 5.0
    fixtures = scan_folder(shared_data / "fixtures")
    assert fixtures.problems == []
    assert fixtures.formats == {"pts": 7, "ljson": 1, "coco_json": 14}  # 3 of 300VW's JSON faces repeat its .pts files
    assert fixtures.schemes == {"ibug68": 12, "wflw98": 4, "cofw29": 2, "aflw19": 2, "lapa106": 2}


def test_aflw2000_dev_scan(shared_data):
    result = scan_folder(shared_data / "aflw2000" / "dev")
    assert result.with_pose == len(result.samples) == 1400  # jaw points past the edge are real: kept, warned
    assert result.errors == [] and len(result.problems) == 3
    assert [p.path.name for p in result.problems] == ["image01591.mat", "image02156.mat", "image02769.mat"]
    assert all("outside the 450x450 image" in p.message for p in result.problems)


def test_faces_annotated_in_two_formats_count_once(shared_data):
    # 300VW ships .pts files and a COCO JSON for three of the same four frames
    result = scan_folder(shared_data / "fixtures" / "mmpose" / "300vw")
    assert len(result.samples) == 4 and result.duplicates == 3
    assert result.formats == {"pts": 4}


def test_links_out_of_the_folder_are_refused_unread(faces, tmp_path):
    secret = tmp_path / "secret.pts"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    outside = tmp_path / "elsewhere"
    write_synthetic_folder(outside, 1, np.random.default_rng(1), size=96)
    (faces / "face_0000.pts").unlink()
    (faces / "face_0000.pts").symlink_to(secret)  # an annotation leading out
    (faces / "face_0001.jpg").unlink()
    (faces / "face_0001.jpg").symlink_to(outside / "face_0000.jpg")  # an image leading out
    (faces / "more").symlink_to(outside)  # a folder leading out
    result = scan_folder(faces)
    messages = _messages(result)
    assert set(messages) == {"face_0000.pts", "face_0001.jpg", "more"}
    assert all(m.startswith("symbolic link to outside the scanned folder: not read") for m in messages.values())
    assert len(result.samples) == 1 and "root:x" not in "".join(map(str, result.problems))


def test_links_inside_the_folder_are_read_once(faces):
    (faces / "alias").symlink_to(faces)  # a loop, for a walk that follows links
    (faces / "copy.pts").symlink_to(faces / "face_0000.pts")
    result = scan_folder(faces)
    assert len(result.samples) == 3
    assert _messages(result) == {"copy.pts": "annotation without image (looked for copy.jpg)"}


def test_deep_trees_stop_at_the_depth_limit(tmp_path):
    folder = tmp_path
    for _ in range(MAX_DEPTH):
        folder = folder / "d"
    write_synthetic_folder(folder, 1, np.random.default_rng(0), size=64)  # at the deepest level scanned
    write_synthetic_folder(folder / "d", 1, np.random.default_rng(0), size=64)  # one level too deep
    result = scan_folder(tmp_path)
    assert len(result.samples) == 1
    assert [(p.path, p.message) for p in result.problems] == [
        (folder / "d", f"more than {MAX_DEPTH} folder levels deep: not scanned")]


def test_a_problem_is_one_line_whatever_the_file_name(faces):
    (faces / "face_0000.pts").rename(faces / "face\n0000.pts")
    (faces / "face\n0000.pts").write_text("1 2\n\x1b[2J 4\n")
    lines = [str(p) for p in scan_folder(faces).problems]
    assert f"{faces}/face\\n0000.pts: line 2: '\\x1b[2J' is not a number" in lines
    assert all("\n" not in line and "\x1b" not in line for line in lines)
