"""Image files: cheap header checks for folder scans, and full decoding to BGR uint8 for everything else."""
from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

from edgekit.data.sample import Sample
from edgekit.errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".pbm", ".tif", ".tiff", ".webp")
MAX_PIXELS = 64_000_000  # refuse larger images: a decode would take seconds and gigabytes

_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"IEND\xaeB`\x82"


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def find_image(annotation_path: Path) -> Path | None:
    """The image beside an annotation: same stem with any image suffix, or 300VW's ``annot/N.pts`` -> ``imgs/N.jpg``."""
    folders = [annotation_path.parent]
    if annotation_path.parent.name == "annot":
        folders.append(annotation_path.parent.parent / "imgs")
    stem = annotation_path.stem
    for folder in folders:
        for suffix in IMAGE_SUFFIXES:
            for candidate in (folder / f"{stem}{suffix}", folder / f"{stem}{suffix.upper()}"):
                if candidate.is_file():
                    return candidate
    return None


def _jpeg_size(f) -> tuple[int, int] | None:
    """(width, height) from the first SOF segment; None if the marker chain is broken."""
    f.seek(2)
    while True:
        marker = f.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return None
        while marker[1] == 0xFF:  # fill bytes
            marker = marker[1:] + f.read(1)
        length_bytes = f.read(2)
        if len(length_bytes) < 2:
            return None
        length = struct.unpack(">H", length_bytes)[0]
        if marker[1] in _JPEG_SOF:
            data = f.read(5)
            if len(data) < 5:
                return None
            height, width = struct.unpack(">HH", data[1:5])
            return width, height
        f.seek(length - 2, 1)


def _has_end_marker(f, size: int, suffix: bytes) -> bool:
    """True if ``suffix`` appears in the last 64 bytes (JPEG EOI, PNG IEND): a cheap truncation test."""
    f.seek(max(0, size - 64))
    return suffix in f.read()


def _check_file(path: Path) -> int:
    """The file's size in bytes; DataError if it is missing or empty."""
    if not path.is_file():
        raise DataError("image file not found", path)
    size = path.stat().st_size
    if size == 0:
        raise DataError("image file is empty (0 bytes)", path)
    return size


def _header_size(path: Path, size: int) -> tuple[int, int] | None:
    """(width, height) of a complete-looking JPEG or PNG from its header; None for anything else."""
    with open(path, "rb") as f:
        head = f.read(24)
        if head[:2] == b"\xff\xd8":
            dims = _jpeg_size(f)
            if dims is not None and _has_end_marker(f, size, b"\xff\xd9"):
                return dims
        elif head[:8] == _PNG_MAGIC and head[12:16] == b"IHDR":
            if _has_end_marker(f, size, _PNG_END):
                return struct.unpack(">II", head[16:24])
    return None


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) of an image file from its header (JPEG, PNG); other formats are decoded.

    Raises DataError for missing, empty, truncated (no JPEG end marker / PNG IEND), undecodable or too
    large (MAX_PIXELS) files.
    """
    path = Path(path)
    dims = _header_size(path, _check_file(path))
    if dims is not None:
        _refuse_huge(path, *dims, MAX_PIXELS)  # what load_image would refuse: a scan reports it up front
        return dims
    # other formats, or a suspicious JPEG/PNG (trailing bytes after the end marker are legal): decode to decide
    image = load_image(path)
    return image.shape[1], image.shape[0]


def _refuse_huge(path: Path, width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise DataError(f"image is {width}x{height}, more than {max_pixels / 1e6:g} megapixels", path)


def _to_bgr_uint8(image: np.ndarray) -> np.ndarray:
    """Any decoded image (gray, gray+alpha, BGR, BGRA; 8/16-bit or float) -> BGR uint8 (H, W, 3)."""
    if image.dtype == np.uint16:
        image = ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    elif image.dtype.kind == "f":
        scale = 255.0 if np.nanmax(image) <= 1.0 else 1.0
        image = np.clip(np.nan_to_num(image) * scale + 0.5, 0, 255).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 2:  # gray + alpha
        image = image[:, :, 0]
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(image)


def load_image(source: str | Path | Sample, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """BGR uint8 (H, W, 3) from a file or a Sample (inline ``pixels`` win over the file)."""
    if isinstance(source, Sample):
        if source.pixels is not None:
            return _to_bgr_uint8(source.pixels)
        source = source.image_path
    path = Path(source)
    dims = _header_size(path, _check_file(path))
    if dims is not None:
        _refuse_huge(path, *dims, max_pixels)  # before decoding it
    data = np.fromfile(path, dtype=np.uint8)
    if data[:8].tobytes() == _PNG_MAGIC and b"IEND" not in data.tobytes():  # libpng would print to stderr
        raise DataError("truncated PNG (no IEND chunk)", path)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise DataError("cannot decode image (corrupt, truncated or unsupported format)", path)
    _refuse_huge(path, image.shape[1], image.shape[0], max_pixels)
    return _to_bgr_uint8(image)
