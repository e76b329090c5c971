"""``python -m edgekit.fetch``: MediaPipe's .tflite files out of one wheel into the models folder at install time,
never a download at run time; and the distribution name (``edgekit`` on the package index is another project)."""
from __future__ import annotations

import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from edgekit import fetch
from edgekit.errors import EdgekitError

ROOT = Path(__file__).resolve().parents[1]


def _wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_every_file_read_out_of_one_wheel(tmp_path, capsys):
    members = {member: f"TFL3 {name}".encode() for name, member in fetch.MEDIAPIPE_MEMBERS.items()}
    wheel = _wheel(tmp_path / "mediapipe-0.10.21-py3-none-any.whl", members)
    assert fetch.main(["--wheel", str(wheel), "--cache", str(tmp_path / "models")]) == 0
    assert "3 MediaPipe model files" in capsys.readouterr().out
    for name in fetch.MEDIAPIPE_MEMBERS:
        path = fetch.mediapipe_file(name, tmp_path / "models")
        assert path.read_bytes() == f"TFL3 {name}".encode()
    wheel.unlink()  # fetched files are used as they are: the wheel is not needed again
    assert fetch.fetch_all(tmp_path / "models")[1].name == "mediapipe-0.10.21-face_detection_short_range.tflite"


def test_a_missing_file_says_how_to_fetch_it(tmp_path, monkeypatch):
    monkeypatch.delenv(fetch.WHEEL_ENV, raising=False)
    with pytest.raises(EdgekitError, match=r"not installed: run `python -m edgekit.fetch` once") as info:
        fetch.mediapipe_file("face_detection_full_range", tmp_path / "empty")
    assert "\n" not in str(info.value) and not (tmp_path / "empty").exists()  # nothing downloaded, nothing made


def test_a_wheel_without_the_files_is_one_error_line(tmp_path, capsys):
    wheel = _wheel(tmp_path / "other.whl", {"mediapipe/__init__.py": b""})
    assert fetch.main(["--wheel", str(wheel), "--cache", str(tmp_path / "models")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("edgekit: error: ") and "face_landmark.tflite" in err and "\n" not in err


def test_models_folder_is_apart_from_the_calibration_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGEKIT_CACHE", str(tmp_path / "calib"))  # what the test suite's private_cache sets
    monkeypatch.delenv(fetch.MODELS_ENV, raising=False)
    assert fetch.models_dir() == Path.home() / ".cache" / "edgekit" / "models"
    monkeypatch.setenv(fetch.MODELS_ENV, str(tmp_path / "m"))
    assert fetch.cached_path("face_landmark").parent == tmp_path / "m"


def test_distribution_name_is_free_and_the_readme_installs_it():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "edgekit-face"  # `pip download edgekit` finds another project's 0.1.1
    readme = (ROOT / "README.md").read_text()
    assert "pip install edgekit-face" in readme and "pip install edgekit " not in readme
    cpu_index = "--index-url https://download.pytorch.org/whl/cpu"
    assert cpu_index in readme and cpu_index in (ROOT / "Makefile").read_text()


def test_installed_under_that_name_with_import_name_edgekit():
    from importlib import metadata

    try:
        dist = metadata.distribution("edgekit-face")
    except metadata.PackageNotFoundError:
        pytest.skip(f"edgekit-face is not installed in {sys.prefix} (an install from before the rename)")
    import edgekit

    assert dist.version == edgekit.__version__ and dist.entry_points.select(group="console_scripts", name="edgekit")
