"""Atomic outputs: write to a temporary sibling, then rename, so an interrupted run never leaves half a file.

Every temporary name carries the creating process id: ``.NAME.edgekit-<pid>-XXXXXXXX.tmp`` beside an output,
``edgekit-<kind>-<pid>-XXXXXXXX`` in the system temp folder. A process killed mid-write (SIGKILL, power loss)
leaves such a name behind; the next edgekit run removes the ones whose process is gone
(``remove_stale_temps``, ``remove_stale_work_dirs``) and never touches a name that does not match exactly.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

# ".NAME.edgekit-<pid>-<tempfile's 8 random characters, or 'old'>.tmp": a temp sibling or a replaced folder
STALE_SIBLING = re.compile(r"\..+\.edgekit-([0-9]{1,7})-(?:[a-z0-9_]{8}|old)\.tmp")
# "edgekit-<kind>-<pid>-<8 random characters>": scratch folders in the system temp folder
STALE_WORK_DIR = re.compile(r"edgekit-[a-z]+-([0-9]{1,7})-[a-z0-9_]{8}")
MAX_PID = 4194304  # Linux pid_max's ceiling (2**22)
NAME_KEPT = 180  # characters of NAME in a temporary name: NAME + the tag must stay under 255 bytes


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _tag() -> str:
    return f"edgekit-{os.getpid()}-"


def _sibling_prefix(path: Path) -> str:
    return f".{path.name[:NAME_KEPT]}.{_tag()}"


def _resolved_file(path: str | Path) -> Path:
    """``path``, or the file a symbolic link points to: the link itself is the user's and stays a link."""
    path = Path(path)
    return path.resolve() if path.is_symlink() else path


@contextlib.contextmanager
def _naming(path: Path) -> Iterator[None]:
    """An OSError inside names ``path``: a write error carries no file name, a temporary file's is not the user's."""
    try:
        yield
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` whole or not at all. An OSError (full disk, read-only folder) names ``path``
    and leaves no temporary file."""
    path = _resolved_file(path)
    with _naming(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_sibling_prefix(path), suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the result is an ordinary file
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


@contextlib.contextmanager
def atomic_dir(final: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``final``; on success it replaces ``final`` whole.

    On any exception the temporary folder is removed and an existing ``final`` is left untouched. Whether
    ``final`` may be replaced is the caller's decision (``edgekit.outputs``); a file is never replaced by a folder.
    """
    final = Path(final)
    if final.is_symlink() or (final.exists() and not final.is_dir()):
        raise OSError(errno.ENOTDIR, "exists and is not a folder", str(final))
    with _naming(final):
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=_sibling_prefix(final), suffix=".tmp", dir=final.parent))
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; the result is an ordinary folder
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    with _naming(final):
        _replace_dir(tmp, final)


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a path with ``final``'s name inside a temporary sibling folder, for writers that open a file by name
    and pick its format from the suffix (cv2.VideoWriter) or write as they go (JSON lines); on success it
    replaces ``final``. On any exception nothing is left and an existing ``final`` is untouched."""
    final = _resolved_file(final)
    with _naming(final):
        final.parent.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=_sibling_prefix(final), suffix=".tmp", dir=final.parent))
    try:
        yield folder / final.name
        with _naming(final):
            os.chmod(folder / final.name, 0o666 & ~_umask())
            os.replace(folder / final.name, final)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _replace_dir(tmp: Path, final: Path) -> None:
    """``tmp`` becomes ``final``; an old ``final`` is moved aside first and then removed."""
    old = None
    if final.exists():
        old = final.with_name(f"{_sibling_prefix(final)}old.tmp")
        os.replace(final, old)
    try:
        os.replace(tmp, final)
    except OSError:
        if old is not None:
            os.replace(old, final)  # put the previous artifact back
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)  # a leftover is a stale sibling, removed by a later run


@contextlib.contextmanager
def work_dir(kind: str) -> Iterator[Path]:
    """A scratch folder ``edgekit-<kind>-<pid>-XXXXXXXX`` in the system temp folder, removed on exit."""
    with tempfile.TemporaryDirectory(prefix=f"edgekit-{kind}-{os.getpid()}-") as folder:
        yield Path(folder)


def process_alive(pid: int) -> bool:
    """True when process ``pid`` exists (also when it is another user's: signal 0 is then refused)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale(entry: os.DirEntry, pattern: re.Pattern) -> bool:
    """An entry named by ``pattern`` whose process is gone, owned by this user, not a symbolic link to follow."""
    match = pattern.fullmatch(entry.name)
    if match is None or not 0 < int(match.group(1)) <= MAX_PID or int(match.group(1)) == os.getpid():
        return False
    try:
        owner = entry.stat(follow_symlinks=False).st_uid
    except OSError:
        return False
    return owner == os.getuid() and not process_alive(int(match.group(1)))


def _remove(entry: os.DirEntry) -> None:
    if entry.is_dir(follow_symlinks=False):
        shutil.rmtree(entry.path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.unlink(entry.path)


def _remove_matching(folder: str | Path, pattern: re.Pattern) -> list[Path]:
    try:
        entries = [entry for entry in os.scandir(folder) if _stale(entry, pattern)]
    except OSError:  # absent or unreadable: nothing of ours to clean there
        return []
    for entry in entries:
        _remove(entry)
    return [Path(entry.path) for entry in entries]


def remove_stale_temps(folder: str | Path) -> list[Path]:
    """Remove the temporary siblings (``.NAME.edgekit-<pid>-XXXXXXXX.tmp``, files or folders) that dead edgekit
    processes left in ``folder``; returns them."""
    return _remove_matching(folder, STALE_SIBLING)


def remove_stale_work_dirs(root: str | Path | None = None) -> list[Path]:
    """Remove the scratch folders (``edgekit-<kind>-<pid>-XXXXXXXX``) of dead edgekit processes from the system
    temp folder (or ``root``); returns them."""
    return _remove_matching(root or tempfile.gettempdir(), STALE_WORK_DIR)
