"""Image headers: format and size of every accepted format without decoding, and broken headers as DataError."""
from __future__ import annotations

import struct

import cv2
import numpy as np
import pytest

from edgekit.data.headers import jpeg_scan_start, read_header
from edgekit.errors import DataError


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(3).integers(0, 256, (30, 50, 3), dtype=np.uint8)  # 50 wide, 30 high


def _header(path, data: bytes):
    path.write_bytes(data)
    with open(path, "rb") as f:
        return read_header(f, path)


@pytest.mark.parametrize("suffix, fmt", [(".jpg", "jpeg"), (".png", "png"), (".bmp", "bmp"), (".ppm", "pnm"),
                                         (".pgm", "pnm"), (".tiff", "tiff"), (".webp", "webp")])
def test_sizes_match_the_encoded_image(tmp_path, image, suffix, fmt):
    pixels = image[:, :, 0] if suffix == ".pgm" else image
    header = _header(tmp_path / f"a{suffix}", cv2.imencode(suffix, pixels)[1].tobytes())
    assert (header.format, header.width, header.height) == (fmt, 50, 30)


def test_lossless_webp_and_a_top_down_bmp(tmp_path, image):
    lossless = cv2.imencode(".webp", image, [cv2.IMWRITE_WEBP_QUALITY, 101])[1].tobytes()
    assert lossless[12:16] == b"VP8L" and _header(tmp_path / "l.webp", lossless).width == 50
    bmp = bytearray(cv2.imencode(".bmp", image)[1].tobytes())
    bmp[22:26] = struct.pack("<i", -30)  # negative height: rows stored top-down
    assert _header(tmp_path / "t.bmp", bytes(bmp)).height == 30


def test_jpeg_metadata_past_the_first_read(tmp_path, image):
    jpeg = cv2.imencode(".jpg", image)[1].tobytes()
    icc = b"".join(b"\xff\xe2" + struct.pack(">H", 65000) + bytes(64998) for _ in range(3))  # 195 KB before SOF
    assert _header(tmp_path / "big.jpg", jpeg[:2] + icc + jpeg[2:]).width == 50


@pytest.mark.parametrize("data, message", [
    (b"\xff\xd8\xff\xe0", "truncated or corrupt JPEG"),  # cut after 4 bytes
    (b"\xff\xd8" + b"\xff" * 40, "truncated or corrupt JPEG"),  # fill bytes up to the end
    (b"\xff\xd8\xff\xe1\xff\xff" + bytes(10), "truncated or corrupt JPEG"),  # a segment longer than the file
    (b"\x89PNG\r\n\x1a\n\x00\x00", "truncated or corrupt PNG"),
    (b"P6\n# only a comment\n", "truncated or corrupt PNM"),
    (b"II*\x00\xff\xff\xff\x00", "truncated or corrupt TIFF"),  # IFD offset past the end
    (b"GIF89a" + bytes(20), "not an image edgekit reads"),
    (b"hello", "not an image edgekit reads"),
])
def test_broken_or_foreign_headers(tmp_path, data, message):
    with pytest.raises(DataError, match=message) as info:
        _header(tmp_path / "x.jpg", data)
    assert info.value.path == str(tmp_path / "x.jpg")


def test_jpeg_scan_start_finds_the_first_scan(image):
    jpeg = cv2.imencode(".jpg", image)[1].tobytes()
    width, height, sos = jpeg_scan_start(jpeg)
    assert (width, height) == (50, 30) and jpeg[sos: sos + 2] == b"\xff\xda"
    assert jpeg_scan_start(jpeg[:sos]) is None  # no scan yet: cut before the image data
