"""Generate the reader corpus (issue 13): malformed annotation files for every reader, broken images that
decoders accept or choke on, and hostile folder layouts (links out of the folder, very deep trees, file names
with newlines). Nothing binary is committed; ``write_reader_corpus(dir)`` writes it all in well under a second.

    python tests/corpus/readers.py OUT_DIR     # writes the corpus and prints name -> path

Every case is a folder ``<name>_dir`` holding one drawn face image and the file under test ``<name>``, so a scan,
an evaluation or a training run of that folder reaches exactly that file. Names ending in ``_ok`` must be
accepted; every other entry must be refused with one line naming it.
"""
from __future__ import annotations

import io
import json
import os
import struct
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np

Corpus = dict[str, Path]
Files = dict[str, tuple[str, bytes]]  # case name -> (file name, content)
DEEP_LEVELS = 600  # far past edgekit's walk limit (32), yet shallow enough for shutil.rmtree (pytest's clean-up
# of old temp folders), which recurses once per level and fails near Python's recursion limit (1000)


def _face() -> tuple[bytes, np.ndarray]:
    """A drawn 128 px face as JPEG bytes, and its (68, 2) landmarks."""
    from edgekit.data.synthetic import draw_face

    image, landmarks, _ = draw_face(np.random.default_rng(4), 128)
    return cv2.imencode(".jpg", image)[1].tobytes(), landmarks


def _pts(points: np.ndarray) -> str:
    from edgekit.data.readers import format_pts

    return format_pts(points)


# ----------------------------------------------------------------------------- .pts


def pts_files(points: np.ndarray) -> Files:
    good = _pts(points)
    lines = good.splitlines()
    first = lines[3]  # the first "x y" line
    return {
        "pts_underscore": ("face.pts", good.replace(first, "1_000 " + first.split()[1], 1).encode()),
        "pts_arabic_digits": ("face.pts", good.replace(first, "\u0661\u0662 " + first.split()[1], 1).encode()),
        "pts_binary": ("face.pts", np.random.default_rng(7).integers(0, 256, 600, np.uint8).tobytes()),
        "pts_nul": ("face.pts", good.replace(first, first + "\x00", 1).encode()),
        "pts_escape_codes": ("face.pts", good.replace(first, "\x1b[31mred\x1b[0m\r\x07 1", 1).encode()),
        "pts_long_line": ("face.pts", good.replace(first, "9" * 2_000_000 + "x 1", 1).encode()),
        "pts_bad_count": ("face.pts", good.replace("n_points: 68", "n_points: 6_8").encode()),
        "pts_huge_number": ("face.pts", good.replace(first, "1e400 1", 1).encode()),
        "pts_far_number": ("face.pts", good.replace(first, "1e30 1", 1).encode()),
        "pts_three_fields": ("face.pts", good.replace(first, first + " 7", 1).encode()),
        "pts_utf16": ("face.pts", good.encode("utf-16")),
        "pts_bom_ok": ("face.pts", b"\xef\xbb\xbf" + good.encode()),
        "pts_crlf_ok": ("face.pts", good.replace("\n", "\r\n").encode()),
        "pts_bom_crlf_ok": ("face.pts", b"\xef\xbb\xbf" + good.replace("\n", "\r\n").encode()),
        "pts_cr_ok": ("face.pts", good.replace("\n", "\r").encode()),
        "pts_tabs_ok": ("face.pts", "\n".join(line.replace(" ", "\t") + " \t" for line in lines).encode()),
    }


# ----------------------------------------------------------------------------- JSON: COCO and menpo


def _coco(points: np.ndarray, **changes) -> bytes:
    """A COCO keypoint file for face.jpg, with top-level ``images`` / ``annotations`` or annotation fields
    (``keypoints``, ``image_id``, ``bbox``) replaced by ``changes``."""
    keypoints = np.c_[points, np.full(len(points), 2.0)].reshape(-1).tolist()
    annotation = {"image_id": 1, "keypoints": keypoints, "bbox": [10, 10, 100, 100]}
    document = {"images": [{"id": 1, "file_name": "face.jpg"}], "annotations": [annotation]}
    for key, value in changes.items():
        (document if key in document else annotation)[key] = value
    return json.dumps(document).encode()


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def json_files(points: np.ndarray) -> Files:
    keypoints = np.c_[points, np.full(len(points), 2.0)].reshape(-1).tolist()
    coco = {
        "coco_string_numbers": _coco(points, keypoints=[str(v) for v in keypoints]),
        "coco_bool_numbers": _coco(points, keypoints=[True] * len(keypoints)),
        "coco_null_keypoints": _coco(points, keypoints=None),
        "coco_dict_keypoints": _coco(points, keypoints={"x": 1}),
        "coco_nested_keypoints": _coco(points, keypoints=[[v] for v in keypoints]),
        "coco_huge_int": _coco(points, keypoints=[10 ** 400] + keypoints[1:]),
        "coco_nan": _coco(points, keypoints=[float("nan")] + keypoints[1:]),
        "coco_images_dict": _coco(points, images={"id": 1, "file_name": "face.jpg"}),
        "coco_images_strings": _coco(points, images=["face.jpg"]),
        "coco_file_name_number": _coco(points, images=[{"id": 1, "file_name": 5}]),
        "coco_image_id_list": _coco(points, image_id=[1]),
        "coco_image_id_bool": _coco(points, image_id=True),
        "coco_annotations_null": _coco(points, annotations=None),
        "coco_annotation_string": _coco(points, annotations=["face"]),
        "coco_bbox_strings": _coco(points, bbox=["a", "b", "c", "d"]),
        "coco_bbox_three": _coco(points, bbox=[1, 2, 3]),
        "coco_deep": b'{"images": ' + _nested(100_000).encode() + b', "annotations": []}',
        "coco_not_utf8": _coco(points).replace(b"face.jpg", b"face\xff.jpg"),
    }
    ljson_points = points[:, ::-1].tolist()
    ljson = {
        "ljson_strings": {"landmarks": {"points": [[str(y), str(x)] for y, x in ljson_points]}},
        "ljson_triples": {"landmarks": {"points": [p + [0] for p in ljson_points]}},
        "ljson_points_dict": {"landmarks": {"points": {"0": [1, 2]}}},
        "ljson_groups_list": {"groups": [{"landmarks": {"points": ljson_points}}]},
        "ljson_group_null": {"groups": {"face": None}},
        "ljson_bool_pairs": {"landmarks": {"points": [[True, False]] * len(points)}},
        "ljson_top_list": [1, 2, 3],
        "ljson_huge": {"landmarks": {"points": [[1e308 * 10, 1]] + ljson_points[1:]}},
    }
    files = {name: ("face.json", text) for name, text in coco.items()}
    files.update({name: ("face.ljson", json.dumps(doc).encode()) for name, doc in ljson.items()})
    files["ljson_deep"] = ("face.ljson", ('{"landmarks": {"points": ' + _nested(100_000) + "}}").encode())
    files["ljson_not_json"] = ("face.ljson", b"\xff\xfe not json")
    return files


# ----------------------------------------------------------------------------- CSV (Kaggle) and WFLW text


def _kaggle(points: np.ndarray, row: list[str] | None = None, image: str | None = None) -> bytes:
    from edgekit.data.readers import KAGGLE_NAMES

    columns = [f"{name}_{axis}" for name in KAGGLE_NAMES for axis in "xy"]
    values = row if row is not None else [f"{v:.3f}" for v in points[:15].reshape(-1) * 0.75]
    pixels = image if image is not None else " ".join(["128"] * 96 * 96)
    return (",".join(columns + ["Image"]) + "\n" + ",".join(values + [pixels]) + "\n").encode()


def csv_files(points: np.ndarray) -> Files:
    good = [f"{v:.3f}" for v in points[:15].reshape(-1) * 0.75]
    return {name: ("training.csv", data) for name, data in {
        "kaggle_short_row": _kaggle(points, good[:10], ""),
        "kaggle_long_row": _kaggle(points, good + ["1", "2"]),
        "kaggle_huge_field": _kaggle(points, image="1" * 200_000),
        "kaggle_not_utf8": _kaggle(points).replace(b"128 128", b"128\xff128", 1),
        "kaggle_nul": _kaggle(points).replace(b"128 128", b"128\x00128", 1),
        "kaggle_pixel_nan": _kaggle(points, image=" ".join(["nan"] * 96 * 96)),
        "kaggle_pixel_big": _kaggle(points, image=" ".join(["999"] * 96 * 96)),
        "kaggle_coordinate_text": _kaggle(points, ["\x1b[2J" + "twelve " * 50] + good[1:]),
        "kaggle_coordinate_inf": _kaggle(points, ["inf"] + good[1:]),
        "kaggle_open_quote": _kaggle(points, ['"' + good[0]] + good[1:]),
    }.items()}


def _wflw_line(points98: np.ndarray, replace: dict[int, str] | None = None) -> str:
    fields = [f"{v:.3f}" for v in points98.reshape(-1)] + ["10", "10", "110", "110"] + ["0"] * 6 + ["face.jpg"]
    for index, value in (replace or {}).items():
        fields[index] = value
    return " ".join(fields)


def wflw_files(points: np.ndarray) -> Files:
    points98 = np.vstack([points, points[:30]])
    line = _wflw_line(points98)
    return {name: ("list_98pt.txt", text.encode() if isinstance(text, str) else text) for name, text in {
        "wflw_underscore": _wflw_line(points98, {0: "1_0"}),
        "wflw_text": _wflw_line(points98, {5: "\x1b]0;title\x07"}),
        "wflw_nan_box": _wflw_line(points98, {197: "nan"}),
        "wflw_short_second_line": line + "\n" + " ".join(line.split()[:150]) + "\n",
        "wflw_not_utf8": line.encode() + b"\n" + line.encode().replace(b"face.jpg", b"face\xff.jpg") + b"\n",
    }.items()}


# ----------------------------------------------------------------------------- MATLAB .mat


def _mat(variables: dict, compress: bool = False) -> bytes:
    import scipy.io

    buffer = io.BytesIO()
    scipy.io.savemat(buffer, variables, do_compression=compress)
    return buffer.getvalue()


def _cell(*items) -> np.ndarray:
    cell = np.empty((len(items), 1), dtype=object)
    for i, item in enumerate(items):
        cell[i, 0] = item
    return cell


def mat_files(points: np.ndarray) -> Files:
    pt3d = np.vstack([points.T, np.zeros((1, 68))])  # 3x68 rows x, y, z: an AFLW2000-3D file
    pose = np.array([[0.1, -0.2, 0.05, 0, 0, 0, 1.0]])
    good = {"pt3d_68": pt3d, "Pose_Para": pose}
    compressed = _mat(good, compress=True)
    body = compressed.index(b"x\x9c")  # the first zlib stream (after the 128-byte header and an 8-byte tag)
    broken_zlib = compressed[:body + 40] + bytes(b ^ 0x5A for b in compressed[body + 40: body + 90]) + \
        compressed[body + 90:]
    phis = np.hstack([np.tile(points[:29, 0], (1, 1)), np.tile(points[:29, 1], (1, 1)), np.zeros((1, 29))])
    files = {
        "mat_pose_string": {"pt3d_68": pt3d, "Pose_Para": "abcdefg"},
        "mat_pose_numeric_string": {"pt3d_68": pt3d, "Pose_Para": "1234567"},
        "mat_pose_struct": {"pt3d_68": pt3d, "Pose_Para": {"pitch": 0.1, "yaw": 0.2}},
        "mat_pose_complex": {"pt3d_68": pt3d, "Pose_Para": pose + 1j},
        "mat_pose_cell": {"pt3d_68": pt3d, "Pose_Para": _cell(1.0, "two")},
        "mat_pt3d_complex": {"pt3d_68": pt3d + 1j, "Pose_Para": pose},
        "mat_pt2d_struct_300wlp": {"pt2d": {"x": points[:, 0]}, "Pose_Para": pose},
        "mat_roi_string_300wlp": {"pt2d": points.T, "Pose_Para": pose, "roi": "abcd"},
        "mat_pt2d_huge_300wlp": {"pt2d": np.full((2, 68), 1e300), "Pose_Para": pose},
        "mat_cofw_text_images": {"IsT": _cell("face"), "phisT": phis},
        "mat_cofw_float_images": {"IsT": _cell(np.full((20, 20), np.nan)), "phisT": phis},
        "mat_cofw_complex_phis": {"IsT": _cell(np.zeros((20, 20), np.uint8)), "phisT": phis + 1j},
    }
    out = {name: ("face.mat", _mat(variables)) for name, variables in files.items()}
    valid = _mat(good)
    out.update({
        "mat_truncated": ("face.mat", valid[: len(valid) // 2]),
        "mat_zlib_broken": ("face.mat", broken_zlib),
        "mat_zlib_cut": ("face.mat", compressed[: body + 60]),
        "mat_garbage": ("face.mat", np.random.default_rng(8).integers(0, 256, 3000, np.uint8).tobytes()),
        "mat_header_only": ("face.mat", valid[:128]),
        "mat_v73_header": ("face.mat", b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(116) + bytes(8)
                           + b"\x00\x02IM" + b"\x89HDF\r\n\x1a\n" + bytes(200)),
        "mat_tag_lies": ("face.mat", valid[:128] + struct.pack("<II", 14, 0x7FFFFFF0) + valid[136:]),
    })
    return out


# ----------------------------------------------------------------------------- images


def _jpeg_parts(jpeg: bytes) -> tuple[bytes, int]:
    """(the bytes up to the entropy-coded data of the first scan, entropy data length up to EOI)."""
    sos = jpeg.index(b"\xff\xda")
    start = sos + 2 + struct.unpack(">H", jpeg[sos + 2: sos + 4])[0]
    return jpeg[:start], len(jpeg) - start - 2


def _huge_jpeg(jpeg: bytes) -> bytes:
    """The face JPEG with its SOF saying 20000 x 20000: refused from the header, never decoded."""
    sof = jpeg.index(b"\xff\xc0")
    return jpeg[: sof + 5] + struct.pack(">HH", 20000, 20000) + jpeg[sof + 9:]


def _bmp_header(width: int, height: int) -> bytes:
    return b"BM" + struct.pack("<IHHI", 70, 0, 0, 54) + struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0,
                                                                     2835, 2835, 0, 0) + bytes(16)


def _tiff_header(width: int, height: int) -> bytes:
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 122), (277, 3, 1, 1), (278, 4, 1, height), (279, 4, 1, 16)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries) + bytes(4)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + bytes(16)


def _png_chunk(kind: bytes, payload: bytes, crc: int | None = None) -> bytes:
    crc = zlib.crc32(kind + payload) if crc is None else crc
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def image_files(jpeg: bytes) -> Files:
    head, body = _jpeg_parts(jpeg)
    rng = np.random.default_rng(9)
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    png = cv2.imencode(".png", image)[1].tobytes()
    exif = b"".join(b"\xff\xe2" + struct.pack(">H", 65000) + bytes(64998) for _ in range(2))
    return {
        "jpeg_4_bytes": ("face.jpg", jpeg[:4]),
        "jpeg_fill_bytes_only": ("face.jpg", b"\xff\xd8" + b"\xff" * 30),
        "jpeg_garbage_body": ("face.jpg", head + rng.integers(0, 256, body, np.uint8).tobytes() + b"\xff\xd9"),
        "jpeg_zero_body_no_end": ("face.jpg", head + bytes(body)),
        "jpeg_zero_body": ("face.jpg", head + bytes(body) + b"\xff\xd9"),
        "jpeg_huge_header": ("face.jpg", _huge_jpeg(jpeg)),
        "jpeg_segment_past_end": ("face.jpg", jpeg[:2] + b"\xff\xe1\xff\xff" + bytes(100)),
        "bmp_huge_header": ("face.bmp", _bmp_header(20000, 20000)),
        "tiff_huge_header": ("face.tif", _tiff_header(20000, 20000)),
        "gif_named_jpg": ("face.jpg", b"GIF89a" + struct.pack("<HH", 128, 128) + bytes(64)),
        "png_bad_crc": ("face.png", png[:33] + _png_chunk(b"IDAT", b"\x78\x9c" + bytes(40), crc=7) + png[33:]),
        "png_ancillary_crc_ok": ("face.png", png[:33] + _png_chunk(b"tEXt", b"Comment\x00hello", crc=1) + png[33:]),
        "jpeg_big_exif_ok": ("face.jpg", jpeg[:2] + exif + jpeg[2:]),
    }


# ----------------------------------------------------------------------------- writing the cases


def _case(root: Path, name: str, file_name: str, data: bytes, jpeg: bytes, points: np.ndarray) -> Path:
    """``root/name/`` with the face (face.jpg and, for an image case, face.pts) and the file under test."""
    folder = root / name
    folder.mkdir(parents=True)
    path = folder / file_name
    if path.suffix in (".pts", ".json", ".ljson", ".mat"):  # an annotation: the image it names
        (folder / "face.jpg").write_bytes(jpeg)
    elif path.suffix not in (".csv", ".txt"):  # an image: its points (Kaggle's images are inline, WFLW's elsewhere)
        (folder / "face.pts").write_text(_pts(points))
    path.write_bytes(data)
    return path


def write_layouts(root: Path, jpeg: bytes, points: np.ndarray) -> Corpus:
    """Links out of the scanned folder, a very deep tree, hostile file names."""
    corpus: Corpus = {}
    outside = root / "outside"
    outside.mkdir(parents=True)
    (outside / "face.jpg").write_bytes(jpeg)
    (outside / "face.pts").write_text(_pts(points))
    links = {"link_pts_to_passwd": ("face.pts", "/etc/passwd"), "link_pts_outside": ("face.pts", outside / "face.pts"),
             "link_image_outside": ("face.jpg", outside / "face.jpg"), "link_folder_outside": ("more", outside)}
    for name, (file_name, target) in links.items():  # a folder link stands alone: nothing else to read there
        folder = root / name
        folder.mkdir()
        if file_name == "face.pts":
            (folder / "face.jpg").write_bytes(jpeg)
        elif file_name == "face.jpg":
            (folder / "face.pts").write_text(_pts(points))
        os.symlink(target, folder / file_name)
        corpus[name], corpus[f"{name}_dir"] = folder / file_name, folder
    inside = root / "link_inside_ok"  # links to folders inside: skipped (their files are read where they are)
    (inside / "real").mkdir(parents=True)
    (inside / "real" / "face.jpg").write_bytes(jpeg)
    (inside / "real" / "face.pts").write_text(_pts(points))
    os.symlink(inside / "real", inside / "alias")
    os.symlink(inside, inside / "real" / "loop")  # a link back up: a loop for a walk that follows links
    corpus["link_inside_ok"], corpus["link_inside_ok_dir"] = inside / "alias", inside
    deep = root / "deep_tree"
    bottom = deep
    for _ in range(DEEP_LEVELS + 1):  # os.makedirs recurses once per level
        bottom.mkdir()
        bottom = bottom / "d"
    bottom = bottom.parent
    (bottom / "face.jpg").write_bytes(jpeg)
    (bottom / "face.pts").write_text(_pts(points))
    corpus["deep_tree"], corpus["deep_tree_dir"] = deep.joinpath(*["d"] * 33), deep
    for name, file_name in (("name_newline", "fa\nce.pts"), ("name_escape", "fa\x1b[2Jce.pts"),
                            ("name_not_utf8", os.fsdecode(b"fa\xffce.pts"))):
        folder = root / name
        folder.mkdir()
        (folder / file_name).write_text("1 2\nthree 4\n")
        corpus[name], corpus[f"{name}_dir"] = folder / file_name, folder
    return corpus


def write_reader_corpus(root: str | Path) -> Corpus:
    """Write every reader case under ``root`` (created if needed) and return name -> path (``<name>_dir`` too)."""
    root = Path(root)
    jpeg, points = _face()
    families = [pts_files(points), json_files(points), csv_files(points), wflw_files(points), mat_files(points),
                image_files(jpeg)]
    corpus: Corpus = {}
    for files in families:
        for name, (file_name, data) in files.items():
            corpus[name] = _case(root / "readers", name, file_name, data, jpeg, points)
            corpus[f"{name}_dir"] = corpus[name].parent
    corpus.update(write_layouts(root / "layouts", jpeg, points))
    return corpus


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/corpus/readers.py OUT_DIR")
    for key, value in write_reader_corpus(sys.argv[1]).items():
        print(f"{key:28} {value!s}"[:160])
