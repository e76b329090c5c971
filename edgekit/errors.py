"""User-facing errors: every problem a user can cause ends as one line, never a traceback."""
from __future__ import annotations

from pathlib import Path


class EdgekitError(Exception):
    """A problem with the user's input. The CLI prints ``edgekit: error: <path>: <message>`` and exits 2."""

    def __init__(self, message: str, path: str | Path | None = None):
        super().__init__(message)
        self.message = message
        self.path = None if path is None else str(path)

    def __str__(self) -> str:
        text = " ".join(self.message.split())  # always one line
        return f"{self.path}: {text}" if self.path else text

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
