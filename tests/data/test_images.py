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
    for path, message in ((empty, "empty"), (cut, "cannot decode"), (text, "cannot decode"),
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
