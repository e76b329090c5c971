"""Where edgekit finds its own files: shipped weights, targets, recipes, calibration sets, shared data."""
from __future__ import annotations

import os
from pathlib import Path

from edgekit.errors import SpecError

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent  # the checkout, for editable installs
WEIGHTS_DIR = PACKAGE_DIR / "weights"


def shared_data_dir() -> Path:
    """``$EDGEKIT_SHARED_DATA`` or ``../shared/data`` beside the checkout (may not exist)."""
    env = os.environ.get("EDGEKIT_SHARED_DATA")
    return Path(env) if env else PROJECT_DIR.parent / "shared" / "data"


def _find(kind: str, name_or_path: str, suffixes: tuple[str, ...] = (".yaml", ".yml")) -> Path:
    path = Path(name_or_path)
    if path.suffix in suffixes or os.sep in name_or_path:
        if not path.is_file():
            raise SpecError(f"{kind[:-1]} file not found", path)
        return path
    for folder in (Path.cwd() / kind, PROJECT_DIR / kind):
        for suffix in suffixes:
            candidate = folder / f"{name_or_path}{suffix}"
            if candidate.is_file():
                return candidate
    from edgekit.suggest import did_you_mean

    known = ", ".join(list_names(kind)) or "none"
    hint = did_you_mean(name_or_path, list_names(kind))
    raise SpecError(f"no {kind[:-1]} named '{name_or_path}'{hint} (known: {known})")


def list_names(kind: str) -> list[str]:
    names: set[str] = set()
    for folder in (Path.cwd() / kind, PROJECT_DIR / kind):
        if folder.is_dir():
            names.update(p.stem for p in folder.glob("*.yaml"))
    return sorted(names)


def find_target(name_or_path: str) -> Path:
    return _find("targets", name_or_path)


def find_recipe(name_or_path: str) -> Path:
    return _find("recipes", name_or_path)
