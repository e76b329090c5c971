"""Image files: cheap header checks for folder scans, and full decoding to BGR uint8 for everything else.

Only JPEG, PNG, BMP, PNM, TIFF and WebP are decoded, and only after their header says they fit MAX_PIXELS. The
decode is strict and silent: what libjpeg calls corrupt is refused, and nothing the C decoders print reaches
the user's stderr (c_library_stderr)."""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
from pathlib import Path

import cv2
import numpy as np

from edgekit.data.headers import Header, jpeg_scan_start, read_header
from edgekit.data.sample import Sample
from edgekit.errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".pbm", ".tif", ".tiff", ".webp")
MAX_PIXELS = 64_000_000  # refuse larger images: a decode would take seconds and gigabytes
MAX_IMAGE_BYTES = 1 << 30  # a 64 MP 16-bit RGBA TIFF is 512 MB; a larger file is not one image

_END_MARKERS = {"jpeg": b"\xff\xd9", "png": b"IEND\xaeB`\x82"}  # found in a file's last 64 bytes: not truncated
# what libjpeg / libpng print when the picture they return is not the file's (garbage, or cut short)
_CORRUPT = re.compile(r"Corrupt JPEG data[^\n]*|Premature end of JPEG file|Inconsistent progression[^\n]*|"
                      r"Invalid SOS parameters[^\n]*|libpng error[^\n]*")
_STDERR_LOCK = threading.Lock()  # one decode at a time owns fd 2 (c_library_stderr)


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


def _check_file(path: Path) -> int:
    """The file's size in bytes; DataError if it is missing, empty or larger than MAX_IMAGE_BYTES."""
    if not path.is_file():
        raise DataError("image file not found", path)
    size = path.stat().st_size
    if size == 0:
        raise DataError("image file is empty (0 bytes)", path)
    if size > MAX_IMAGE_BYTES:
        raise DataError(f"image file is {size >> 20} MB, more than {MAX_IMAGE_BYTES >> 20} MB", path)
    return size


def _header(path: Path, max_pixels: int) -> tuple[Header, bool]:
    """(format and size from the header, whether the file ends with its format's end marker); DataError for a
    missing, empty, huge, unknown or unreadable file, or one of more than ``max_pixels``."""
    size = _check_file(path)
    try:
        with open(path, "rb") as f:
            header = read_header(f, path)
            f.seek(max(0, size - 64))
            tail = f.read()
    except OSError as exc:
        raise DataError(f"cannot read image ({exc.strerror})", path) from None
    if header.width * header.height > max_pixels:
        raise DataError(f"image is {header.width}x{header.height}, more than {max_pixels / 1e6:g} megapixels", path)
    marker = _END_MARKERS.get(header.format)
    return header, marker is not None and marker in tail


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) of an image file from its header when it looks complete (a JPEG or PNG with its end
    marker at the end); otherwise it is decoded. Raises DataError for missing, empty, truncated, undecodable
    or too large (MAX_PIXELS) files."""
    path = Path(path)
    header, complete = _header(path, MAX_PIXELS)
    if complete:
        return header.width, header.height
    # other formats, or a suspicious JPEG/PNG (trailing bytes after the end marker are legal): decode to decide
    image = load_image(path)
    return image.shape[1], image.shape[0]


def _to_bgr_uint8(image: np.ndarray) -> np.ndarray:
    """Any decoded image (gray, gray+alpha, BGR, BGRA; 8/16-bit or float) -> BGR uint8 (H, W, 3)."""
    if image.dtype == np.uint16:
        image = ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    elif image.dtype.kind == "f":
        image = np.nan_to_num(image.astype(np.float32), nan=0.0, posinf=255.0, neginf=0.0)
        scale = 255.0 if image.max() <= 1.0 else 1.0
        image = np.clip(image * scale + 0.5, 0, 255).astype(np.uint8)
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


def _refuse_incomplete(data: np.ndarray, fmt: str, path: Path) -> None:
    """A JPEG needs its end-of-image marker after the first scan (without one, libjpeg fills the missing rows
    silently), a PNG its IEND chunk (libpng would print to stderr)."""
    raw = data.tobytes()
    if fmt == "jpeg":
        found = jpeg_scan_start(raw)
        if found is None or raw.rfind(b"\xff\xd9") < found[2]:
            raise DataError("truncated or corrupt JPEG (no end-of-image marker after the image data)", path)
    elif fmt == "png" and b"IEND" not in raw:
        raise DataError("truncated PNG (no IEND chunk)", path)


@contextlib.contextmanager
def c_library_stderr():
    """Point file descriptor 2 at a temporary file while C code runs (libjpeg, libpng, libtiff and OpenCV print
    their warnings there, below Python), yielding a list that receives what they printed. fd 2 is shared by
    the whole process: decodes hold a lock, and another thread printing at that moment goes to the file too."""
    captured: list[str] = []
    with _STDERR_LOCK, tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        try:
            saved = os.dup(2)
        except OSError:  # no fd 2 at all (a daemon): nothing to protect
            yield captured
            return
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured.append(sink.read().decode("utf-8", "replace"))


def _strict_decode(data: np.ndarray, path: Path) -> np.ndarray:
    """cv2.imdecode, silent, refusing what the codec itself calls corrupt (libjpeg decodes a garbage body into
    an image and only prints "Corrupt JPEG data"); other codec warnings are dropped."""
    with c_library_stderr() as printed:
        try:
            image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        except cv2.error:  # OpenCV's own checks (sizes, stream ends) raise instead of returning None
            image = None
    if image is None:
        raise DataError("cannot decode image (corrupt, truncated or unsupported format)", path)
    complaint = _CORRUPT.search("".join(printed))
    if complaint:
        raise DataError(f"corrupt image data (the decoder says: {complaint.group(0)})", path)
    return image


def load_image(source: str | Path | Sample, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """BGR uint8 (H, W, 3) from a file or a Sample (inline ``pixels`` win over the file). The format and size
    are checked from the header before anything is decoded; the decode is strict (_strict_decode)."""
    if isinstance(source, Sample):
        if source.pixels is not None:
            return _to_bgr_uint8(source.pixels)
        source = source.image_path
    path = Path(source)
    header, _ = _header(path, max_pixels)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise DataError(f"cannot read image ({exc.strerror})", path) from None
    _refuse_incomplete(data, header.format, path)
    image = _strict_decode(data, path)
    if image.shape[0] * image.shape[1] > max_pixels:  # the header lied
        raise DataError(f"image is {image.shape[1]}x{image.shape[0]}, more than {max_pixels / 1e6:g} megapixels",
                        path)
    return _to_bgr_uint8(image)
