"""Image format and size from the first bytes of a file, without decoding: so a decode is only ever tried on a
format edgekit accepts, and never on an image too large to hold (a 20000x20000 header costs 24 bytes).

Formats: JPEG, PNG, BMP, PNM (P1-P6), TIFF (classic) and WebP: the IMAGE_SUFFIXES formats. Anything else,
or a header that cannot be parsed, is None / a DataError from ``read_header``.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from edgekit.errors import DataError

HEADER_BYTES = 64 * 1024  # read first to find an image's size
MAX_JPEG_HEADER_BYTES = 16 << 20  # a JPEG's metadata segments (EXIF, ICC, XMP) before its SOF: at most this
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_JPEG_NO_LENGTH = {0x01, *range(0xD0, 0xD8)}  # TEM and RSTn: markers without a length field
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FORMATS = "JPEG, PNG, BMP, PNM, TIFF or WebP"


@dataclass(frozen=True)
class Header:
    format: str  # "jpeg", "png", "bmp", "pnm", "tiff", "webp"
    width: int
    height: int


def jpeg_scan_start(data: bytes) -> tuple[int, int, int] | None:
    """(width, height, offset of the first SOS marker) from a JPEG's marker chain; None if the chain is broken
    before an SOF and an SOS are found (a file cut short, or not a JPEG)."""
    pos, size = 2, None
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        while pos + 1 < len(data) and data[pos + 1] == 0xFF:  # fill bytes before a marker
            pos += 1
        if pos + 4 > len(data):
            return None
        marker = data[pos + 1]
        if marker in _JPEG_NO_LENGTH:
            pos += 2
            continue
        if marker == 0xDA:
            return (*size, pos) if size else None
        length = struct.unpack(">H", data[pos + 2: pos + 4])[0]
        if marker in _JPEG_SOF:
            if pos + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[pos + 5: pos + 9])
            size = (width, height)
        if length < 2:
            return None
        pos += 2 + length
    return None


def _jpeg(data: bytes) -> tuple[int, int] | None:
    found = jpeg_scan_start(data)
    return found[:2] if found else None


def _png(data: bytes) -> tuple[int, int] | None:
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def _bmp(data: bytes) -> tuple[int, int] | None:
    if len(data) < 26:
        return None
    if struct.unpack("<I", data[14:18])[0] == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sizes
        return struct.unpack("<HH", data[18:22])
    width, height = struct.unpack("<ii", data[18:26])
    return abs(width), abs(height)  # a negative height is a top-down bitmap


def _pnm(data: bytes) -> tuple[int, int] | None:
    """P1-P6: magic, then width and height as ASCII integers between whitespace and # comments."""
    tokens, pos = [], 2
    while len(tokens) < 2 and pos < len(data):
        if data[pos:pos + 1].isspace():
            pos += 1
        elif data[pos:pos + 1] == b"#":
            end = data.find(b"\n", pos)
            pos = len(data) if end < 0 else end + 1
        else:
            end = pos
            while end < len(data) and not data[end:end + 1].isspace() and data[end:end + 1] != b"#":
                end += 1
            tokens.append(data[pos:end])
            pos = end
    if len(tokens) < 2 or not all(t.isdigit() and len(t) <= 9 for t in tokens):
        return None
    return int(tokens[0]), int(tokens[1])


def _tiff(data: bytes) -> tuple[int, int] | None:
    """ImageWidth (256) and ImageLength (257) of the first IFD of a classic (not Big) TIFF."""
    order = "<" if data[:2] == b"II" else ">"
    offset = struct.unpack(order + "I", data[4:8])[0]
    if offset + 2 > len(data):
        return None
    count = struct.unpack(order + "H", data[offset: offset + 2])[0]
    sizes = {}
    for k in range(count):
        entry = data[offset + 2 + 12 * k: offset + 14 + 12 * k]
        if len(entry) < 12:
            return None
        tag, kind = struct.unpack(order + "HH", entry[:4])
        if tag in (256, 257):
            short = kind == 3  # SHORT (2 bytes) or LONG (4 bytes), left-aligned in the 4-byte value field
            sizes[tag] = struct.unpack(order + ("H" if short else "I"), entry[8:10] if short else entry[8:12])[0]
    return (sizes[256], sizes[257]) if len(sizes) == 2 else None


def _webp(data: bytes) -> tuple[int, int] | None:
    """Lossy (VP8), lossless (VP8L) and extended (VP8X) WebP: sizes from the first chunk."""
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def sniff(data: bytes) -> str | None:
    """The format of a file from its first bytes, or None for a format edgekit does not decode."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == PNG_MAGIC:
        return "png"
    if data[:2] == b"BM":
        return "bmp"
    if data[:1] == b"P" and data[1:2] in b"123456" and len(data) > 2 and data[2:3].isspace():
        return "pnm"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _size(fmt: str, data: bytes) -> tuple[int, int] | None:
    try:
        return _SIZES[fmt](data)
    except struct.error:  # a field cut off by the end of the data
        return None


_SIZES = {"jpeg": _jpeg, "png": _png, "bmp": _bmp, "pnm": _pnm, "tiff": _tiff, "webp": _webp}


def read_header(f: BinaryIO, path: Path) -> Header:
    """Format and size of an open image file; DataError for an unknown format or an unreadable header."""
    data = f.read(HEADER_BYTES)
    fmt = sniff(data)
    if fmt is None:
        raise DataError(f"not an image edgekit reads ({FORMATS})", path)
    size = _size(fmt, data)
    if size is None and fmt == "jpeg" and len(data) == HEADER_BYTES:  # metadata segments (EXIF, ICC) before SOF
        size = _size(fmt, data + f.read(MAX_JPEG_HEADER_BYTES))
    if size is None:
        raise DataError(f"truncated or corrupt {fmt.upper()} (its header is cut short or broken)", path)
    return Header(fmt, *size)
