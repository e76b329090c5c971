"""Image loading: every pixel format ends as BGR uint8; bad files raise DataError naming the file."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgekit.data.images import find_image, image_size, load_image
from edgekit.data.sample import Sample
from edgekit.errors import DataError


def _write(path, image, params=()):
    ok, data = cv2.imencode(path.suffix, image, list(params))
    assert ok
    path.write_bytes(data.tobytes())
    return path


@pytest.fixture()
def bgr():
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)


def test_png_variants_become_bgr_uint8(tmp_path, bgr):
    np.testing.assert_array_equal(load_image(_write(tmp_path / "c.png", bgr)), bgr)
    gray = bgr[:, :, 0]
    np.testing.assert_array_equal(load_image(_write(tmp_path / "g.png", gray)), np.dstack([gray] * 3))
    rgba = np.dstack([bgr, np.full(gray.shape, 7, np.uint8)])
    np.testing.assert_array_equal(load_image(_write(tmp_path / "a.png", rgba)), bgr)
    deep = bgr.astype(np.uint16) * 257  # 16-bit: v * 257 maps back to v exactly
    loaded = load_image(_write(tmp_path / "d.png", deep))
    assert loaded.dtype == np.uint8 and loaded.shape == (30, 40, 3)
    np.testing.assert_array_equal(loaded, bgr)


def test_palette_png(tmp_path):
    pil = pytest.importorskip("PIL.Image")
    indices = np.array([[0, 1], [1, 0]], dtype=np.uint8)
    image = pil.fromarray(indices, mode="P")
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)  # 0 = red, 1 = blue (RGB)
    image.save(tmp_path / "p.png")
    loaded = load_image(tmp_path / "p.png")
    assert loaded.shape == (2, 2, 3)
    assert tuple(loaded[0, 0]) == (0, 0, 255) and tuple(loaded[0, 1]) == (255, 0, 0)  # BGR red, BGR blue


def test_header_size_matches_decode(tmp_path, bgr):
    for name in ("a.jpg", "a.png", "a.bmp"):
        path = _write(tmp_path / name, bgr)
        assert image_size(path) == (40, 30)


def test_inline_pixels_win(tmp_path):
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    sample = Sample(tmp_path / "x.csv#2", None, None, None, None, "kaggle_csv", tmp_path / "x.csv", gray)
    np.testing.assert_array_equal(load_image(sample)[:, :, 2], gray)


def test_bad_files_raise_dataerror_naming_the_file(tmp_path, bgr):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    jpeg = _write(tmp_path / "full.jpg", bgr).read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(jpeg[: len(jpeg) // 2])
    text = tmp_path / "text.png"
    text.write_text("not an image")
    for path, message in ((empty, "empty"), (cut, "truncated or corrupt JPEG"), (text, "not an image edgekit reads"),
                          (tmp_path / "none.jpg", "not found")):
        with pytest.raises(DataError, match=message) as info:
            load_image(path)
        assert str(info.value).startswith(str(path))
        with pytest.raises(DataError):
            image_size(path)


def test_huge_images_are_refused_before_decoding(tmp_path, bgr):
    path = _write(tmp_path / "big.jpg", bgr)
    with pytest.raises(DataError, match="40x30, more than 0.001 megapixels"):
        load_image(path, max_pixels=1000)
    assert load_image(path, max_pixels=1200).shape == (30, 40, 3)


def test_find_image_same_stem_and_300vw_layout(tmp_path, bgr):
    (tmp_path / "annot").mkdir()
    (tmp_path / "imgs").mkdir()
    _write(tmp_path / "imgs" / "000006.jpg", bgr)
    _write(tmp_path / "face.png", bgr)
    assert find_image(tmp_path / "annot" / "000006.pts") == tmp_path / "imgs" / "000006.jpg"
    assert find_image(tmp_path / "face.pts") == tmp_path / "face.png"
    assert find_image(tmp_path / "other.pts") is None


def _jpeg_head_and_body(bgr) -> tuple[bytes, int]:
    jpeg = cv2.imencode(".jpg", bgr)[1].tobytes()
    sos = jpeg.index(b"\xff\xda")
    start = sos + 2 + int.from_bytes(jpeg[sos + 2: sos + 4], "big")
    return jpeg[:start], len(jpeg) - start - 2


def test_strict_decode_refuses_what_libjpeg_only_warns_about(tmp_path, bgr, capfd):
    """libjpeg decodes a garbage body into an image and prints "Corrupt JPEG data" on stderr; without an end
    marker it fills the rows silently. Both are refused, and nothing reaches the file descriptor 2."""
    head, body = _jpeg_head_and_body(bgr)
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(head + np.random.default_rng(2).integers(0, 256, body, np.uint8).tobytes() + b"\xff\xd9")
    no_end = tmp_path / "no_end.jpg"
    no_end.write_bytes(head + bytes(body))
    for path, message in ((garbage, "corrupt image data \\(the decoder says: Corrupt JPEG data"),
                          (no_end, "no end-of-image marker")):
        with pytest.raises(DataError, match=message):
            load_image(path)
    assert image_size(garbage) == (40, 30)  # the cheap scan check cannot see it: data check --decode does
    assert capfd.readouterr().err == ""


def test_decoder_warnings_on_valid_images_are_silent(tmp_path, bgr, capfd):
    png = cv2.imencode(".png", bgr)[1].tobytes()
    text = b"tEXtComment\x00hello"
    chunk = len(text[4:]).to_bytes(4, "big") + text + b"\x00\x00\x00\x01"  # a wrong CRC: libpng warns, reads on
    path = tmp_path / "warned.png"
    path.write_bytes(png[:33] + chunk + png[33:])
    np.testing.assert_array_equal(load_image(path), bgr)
    assert capfd.readouterr().err == ""


def test_huge_headers_of_every_format_are_refused_before_decoding(tmp_path):
    bmp = b"BM" + bytes(12) + (40).to_bytes(4, "little") + (20000).to_bytes(4, "little") * 2 + bytes(30)
    pgm = b"P5\n20000 20000\n255\n" + bytes(16)
    for name, data in (("big.bmp", bmp), ("big.pgm", pgm)):
        (tmp_path / name).write_bytes(data)
        for read in (load_image, image_size):
            with pytest.raises(DataError, match="20000x20000, more than 64 megapixels"):
                read(tmp_path / name)


def test_unreadable_and_oversized_files(tmp_path, bgr):
    huge = tmp_path / "huge.jpg"
    with open(huge, "wb") as f:
        f.write(cv2.imencode(".jpg", bgr)[1].tobytes())
        f.truncate((1 << 30) + 1)  # sparse: no disk used
    with pytest.raises(DataError, match="more than 1024 MB"):
        load_image(huge)
