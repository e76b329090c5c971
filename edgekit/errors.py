"""User-facing errors: every problem a user can cause ends as one line, never a traceback."""
from __future__ import annotations

from pathlib import Path

MAX_MESSAGE = 300  # characters of a message shown; a value quoted from a hostile file must not make a huge line
MAX_PATH = 4096  # PATH_MAX: a real path is shown whole (the line must name it)


def printable(text: str, limit: int | None = None) -> str:
    """``text`` on one line: every non-printable character (newline, escape, NUL, a surrogate from a file name
    that is not UTF-8) written as its Python escape (``\\n``, ``\\x1b``, ``\\udcff``); cut to ``limit``
    characters with an ellipsis (the input is cut first: a 250 MB message costs nothing)."""
    if limit is not None:
        text = text[: limit + 1]
    text = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)
    return text if limit is None or len(text) <= limit else text[: limit - 3] + "..."


class EdgekitError(Exception):
    """A problem with the user's input. The CLI prints ``edgekit: error: <path>: <message>`` and exits 2."""

    def __init__(self, message: str, path: str | Path | None = None):
        super().__init__(message)
        self.message = message
        self.path = None if path is None else str(path)

    def __str__(self) -> str:
        text = printable(" ".join(self.message[: MAX_MESSAGE * 2].split()), MAX_MESSAGE)  # one short line
        return f"{printable(self.path, MAX_PATH)}: {text}" if self.path else text

    def at(self, path: str | Path) -> "EdgekitError":
        """The same error, attributed to ``path`` unless it already names a file."""
        if self.path is None:
            self.path = str(path)
        return self


class SpecError(EdgekitError):
    """A spec, recipe or target that does not match its dataclass (unknown key, wrong type)."""


class DataError(EdgekitError):
    """An image or annotation that cannot be read or is inconsistent."""


class ModelFileError(EdgekitError):
    """A checkpoint, ONNX, TFLite or engine file that is corrupt, of another model, or untrusted."""


class OutputError(EdgekitError):
    """An output path that must not or cannot be written (a user's folder, a full disk, a read-only place)."""
