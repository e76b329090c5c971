"""Output-path rules, one place for every verb that writes. Each check runs before any work starts and refuses with
one ``OutputError`` naming the path; nothing of the user's is ever deleted, replaced or hidden.

- an artifact folder (``export --out``): a new path, an empty folder, or an existing edgekit artifact (it holds
  ``edgekit.json``), which the export replaces whole;
- a folder edgekit writes into (``train --out``, ``demo --out``): a new path, an empty folder, or one holding only
  the names that verb writes;
- an output file (``--json``, ``--csv``, ``--ced``, ``--plot``, ``--draw``): a new or existing regular file whose
  folder exists or can be made, with a suffix the writer can produce.

Never an output: the current folder or any folder above it, a path under a regular file, a regular file where a
folder is wanted or a folder where a file is. Stale temporary siblings of dead edgekit processes beside an output
are removed here (``edgekit.atomic``).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from edgekit.atomic import STALE_SIBLING, remove_stale_temps
from edgekit.errors import OutputError

MANIFEST = "edgekit.json"  # edgekit.artifact.MANIFEST (not imported: that module pulls in the specs)
MANIFEST_MAX_BYTES = 64 << 20
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".dib", ".webp", ".tif", ".tiff", ".ppm", ".pnm",
                  ".gif", ".avif", ".sr", ".ras")  # 8-bit colour formats OpenCV may write (haveImageWriter decides)
SHOWN_NAMES = 3  # foreign names quoted in a refusal


@dataclass(frozen=True)
class OwnedFolder:
    """What one verb writes into its output folder: top-level names, and for sub-folders the names they hold."""

    what: str  # "a training run", for messages
    files: frozenset[str]  # top-level files the verb writes (or overwrites)
    folders: tuple[tuple[str, str], ...] = ()  # (sub-folder, regular expression of the names the verb writes)

    def foreign(self, folder: Path) -> list[str]:
        """Entries of ``folder`` this verb did not write (relative paths, sorted)."""
        patterns = dict(self.folders)
        found = []
        for entry in sorted(os.listdir(folder)):
            if STALE_SIBLING.fullmatch(entry):
                continue
            path = folder / entry
            if entry in patterns and path.is_dir() and not path.is_symlink():
                found += [f"{entry}/{inner}" for inner in sorted(os.listdir(path))
                          if not re.fullmatch(patterns[entry], inner) and not STALE_SIBLING.fullmatch(inner)]
            elif entry not in self.files or not path.is_file():
                found.append(entry)
        return found

    def owned(self, folder: Path) -> list[Path]:
        """The paths of ``folder`` this verb wrote (files; sub-folder contents before the sub-folder)."""
        paths = [folder / name for name in sorted(self.files) if (folder / name).is_file()]
        for name, pattern in self.folders:
            sub = folder / name
            if sub.is_dir() and not sub.is_symlink():
                paths += [sub / inner for inner in sorted(os.listdir(sub)) if re.fullmatch(pattern, inner)] + [sub]
        return paths


# edgekit/train/loop.py, runlog.py and checkpoint.py write these; TensorBoard its event files under tb/
TRAINING_RUN = OwnedFolder("a training run", frozenset({"best.pt", "last.pt", "best.safetensors", "log.csv",
                                                         "recipe.yaml"}),
                           (("tb", r"events\.out\.tfevents\..+"),))


def _refuse(path: str | Path, problem: str) -> OutputError:
    return OutputError(problem, path)


def _nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists (``lexists``: a broken link counts)."""
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(path.anchor or ".")


def check_parents(path: Path, flag: str) -> None:
    """Every existing ancestor of ``path`` must be a folder (a path under a regular file cannot be made), and the
    nearest existing one writable."""
    nearest = _nearest_existing(path.parent)
    if not nearest.is_dir():
        raise _refuse(path, f"{flag} cannot be created: {nearest} is a file, not a folder")
    if not os.access(nearest, os.W_OK | os.X_OK):
        raise _refuse(path, f"{flag} cannot be written in {nearest} (permission denied)")


def check_not_cwd(path: Path, flag: str) -> None:
    """Refuse the current folder and every folder above it (symbolic links resolved)."""
    try:
        here, there = Path.cwd().resolve(), path.resolve()
    except OSError:  # the current folder was deleted: nothing of it left to protect
        return
    if there == here or there in here.parents:
        what = "the current folder" if there == here else "a folder above the current one"
        raise _refuse(path, f"{flag} is {what}: choose a new folder for the output")


def check_folder_path(path: str | Path, flag: str) -> Path:
    """The checks every output folder shares; returns it as a Path."""
    path = Path(path)
    if not str(path).strip():
        raise _refuse(path, f"{flag} is an empty path")
    check_not_cwd(path, flag)
    check_parents(path, flag)
    if os.path.lexists(path) and not path.is_dir():
        kind = "a broken symbolic link" if not path.exists() else "a file, not a folder"
        raise _refuse(path, f"{flag} is {kind}; edgekit never replaces it: choose a new folder")
    return path


def is_artifact(folder: Path) -> bool:
    """True when ``folder`` holds an edgekit manifest: a regular ``edgekit.json`` holding a JSON object."""
    manifest = folder / MANIFEST
    if manifest.is_symlink() or not manifest.is_file():
        return False
    try:
        if manifest.stat().st_size > MANIFEST_MAX_BYTES:
            return False
        return isinstance(json.loads(manifest.read_bytes()), dict)
    except (OSError, ValueError, RecursionError):
        return False


def check_artifact_out(out: str | Path, flag: str = "--out") -> Path:
    """An artifact folder to write (replaced atomically): new, empty, or an existing edgekit artifact."""
    path = check_folder_path(out, flag)
    if path.is_symlink():
        raise _refuse(path, f"{flag} is a symbolic link; replacing it would drop the link: name the folder itself")
    remove_stale_temps(path.parent)
    if path.is_dir() and not is_artifact(path) and _entries(path):
        raise _refuse(path, f"{flag} is a folder holding other files ({_names(_entries(path))}) and no {MANIFEST}: "
                            "edgekit replaces only an artifact; choose a new or empty folder")
    return path


def check_owned_out(out: str | Path, owner: OwnedFolder, flag: str = "--out") -> Path:
    """A folder a verb writes into: new, empty, or holding only what ``owner`` writes."""
    path = check_folder_path(out, flag)
    if path.is_dir():
        remove_stale_temps(path)
        foreign = owner.foreign(path)
        if foreign:
            raise _refuse(path, f"{flag} holds files that are not {owner.what}'s ({_names(foreign)}): edgekit "
                                "never overwrites them; choose a new or empty folder")
    return path


def check_run_out(out: str | Path, resume: bool, overwrite: bool) -> Path:
    """``train --out``: new or empty; an existing run only with ``--resume`` (continue) or ``--overwrite``
    (start over: its own files go, nothing else). A folder holding other files is refused in every case but
    ``--resume``, which writes only a run's own files."""
    path = check_folder_path(out, "--out")
    if not path.is_dir():
        return path
    remove_stale_temps(path)
    foreign = TRAINING_RUN.foreign(path)
    if resume:
        return path
    if foreign:
        raise _refuse(path, f"--out holds files that are not a training run's ({_names(foreign)}): edgekit never "
                            "overwrites them; choose a new or empty folder")
    if TRAINING_RUN.owned(path) and not overwrite:
        raise _refuse(path, f"--out holds a previous run ({_names([p.name for p in TRAINING_RUN.owned(path)])}): "
                            "pass --resume to continue it or --overwrite to start over")
    return path


def clear_run(out: Path) -> list[Path]:
    """Remove a previous run's own files (``train --overwrite``, after ``check_run_out``); returns them."""
    removed = TRAINING_RUN.owned(out) if out.is_dir() else []
    for path in removed:
        if path.is_dir():
            path.rmdir()  # only ever empty here: its own files went first, a foreign one made check_run_out refuse
        else:
            path.unlink(missing_ok=True)
    return removed


def check_output_file(path: str | Path, flag: str, suffixes: tuple[str, ...] | None = None,
                      image: bool = False, inputs: tuple[str | Path, ...] = ()) -> Path:
    """An output file: not a folder, not under a regular file, not a device, not one of the run's ``inputs``;
    its folder writable; its suffix one of ``suffixes`` (case-insensitive), or with ``image`` one OpenCV can
    write. Returns it as a Path."""
    text = str(path)
    if not text.strip():
        raise _refuse(text, f"{flag} is an empty path")
    if text.endswith((os.sep, "/")):
        raise _refuse(text, f"{flag} names a folder (ends with '/'); give a file name")
    path = Path(text)
    check_parents(path, flag)
    if path.is_dir():
        raise _refuse(path, f"{flag} is a folder; give a file name")
    if os.path.lexists(path) and not path.is_file():
        kind = "a broken symbolic link" if not path.exists() else "not a regular file"
        raise _refuse(path, f"{flag} is {kind}; edgekit writes only regular files")
    if path.is_file() and any(_same_file(path, source) for source in inputs):
        raise _refuse(path, f"{flag} is also an input of this run; edgekit never writes over its input")
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise _refuse(path, f"{flag} writes {' / '.join(suffixes)} files: name it so (got "
                            f"'{path.suffix or 'no suffix'}')")
    if image and not image_writable(path):
        raise _refuse(path, f"{flag}: OpenCV cannot write '{path.suffix or 'no suffix'}' images (use "
                            f"{', '.join(IMAGE_SUFFIXES[:4])}, ...)")
    remove_stale_temps(path.resolve().parent)
    return path


def image_writable(path: Path) -> bool:
    """True when OpenCV writes 8-bit colour images with this suffix (only known suffixes are asked: OpenCV prints
    a warning for some others)."""
    import cv2

    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return False
    try:
        return bool(cv2.haveImageWriter(f"x{path.suffix.lower()}"))
    except cv2.error:
        return False


def _same_file(path: Path, other: str | Path) -> bool:
    try:
        return os.path.samefile(path, other)
    except (OSError, ValueError):  # the input does not exist (a model name), or an odd path
        return False


def _entries(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if not STALE_SIBLING.fullmatch(name))


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN_NAMES])
    return shown + (f" and {len(names) - SHOWN_NAMES} more" if len(names) > SHOWN_NAMES else "")
