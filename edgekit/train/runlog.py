"""Per-epoch run log: ``log.csv`` rewritten atomically each epoch, mirrored to TensorBoard when installed."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from edgekit.atomic import atomic_write_text
from edgekit.errors import DataError


class RunLog:
    """Rows of {epoch, loss parts, val metric, lr, images_per_s, seconds}. On resume, rows of epochs after
    ``keep_epochs`` (from the interrupted run) are dropped so the log matches the checkpoint."""

    def __init__(self, out: Path, keep_epochs: int = 0):
        self.path = Path(out) / "log.csv"
        self.rows = [row for row in _read(self.path) if row["epoch"] <= keep_epochs]
        self.board = _tensorboard(Path(out) / "tb")

    def add(self, **row: float) -> None:
        self.rows.append(row)
        atomic_write_text(self.path, _to_csv(self.rows))
        print("  ".join(_short(key, value) for key, value in row.items()), flush=True)
        if self.board is not None:
            for key, value in row.items():
                if key != "epoch":
                    self.board.add_scalar(key, float(value), int(row["epoch"]))

    def close(self) -> None:
        if self.board is not None:
            self.board.close()


MAX_LOG_BYTES = 16 << 20  # a log of 100,000 epochs is ~10 MB


def _read(path: Path) -> list[dict]:
    """The rows of an earlier run's log.csv; DataError naming it when it is not one (a foreign or damaged file
    in the run folder is refused before anything is written)."""
    if not path.exists():
        return []
    try:
        if not path.is_file() or path.stat().st_size > MAX_LOG_BYTES:
            raise DataError("not a run log (a folder, or over 16 MB)", path)
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        for row in rows:
            if None in row or None in row.values():  # a row longer or shorter than the header
                raise ValueError("ragged row")
            row["epoch"] = int(row["epoch"])
    except (OSError, UnicodeDecodeError, csv.Error, KeyError, TypeError, ValueError):
        raise DataError("not a run log edgekit wrote (needs an integer 'epoch' column)", path) from None
    return rows


def _to_csv(rows: list[dict]) -> str:
    columns = list(dict.fromkeys(key for row in rows for key in row))  # union, first-seen order
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _short(key: str, value: float) -> str:
    if key == "epoch":
        return f"epoch {int(value)}"
    return f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}"


def _tensorboard(folder: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard not installed: the CSV is the log
        return None
    return SummaryWriter(str(folder))
