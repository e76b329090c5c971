"""Every ```python block of README.md runs, in order, in one namespace, in a temporary folder holding what the
README's examples name: ``photo.jpg`` (Grace Hopper's photo, shipped with matplotlib), ``clip.mp4`` (a two-face
video made from it, conftest's FaceVideo) and ``faces/`` (generated annotated faces)."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def python_blocks() -> list[str]:
    return PYTHON_BLOCK.findall(README.read_text(encoding="utf-8"))


def test_the_readme_shows_the_python_api():
    code = "\n".join(python_blocks())
    for call in ("edgekit.load(", ".predict(", ".stream(", "edgekit.export(", "edgekit.evaluate(", "edgekit.profile("):
        assert call in code


@pytest.fixture()
def example_folder(tmp_path, face_video, private_cache, monkeypatch):
    from edgekit.data.synthetic import write_synthetic_folder
    from edgekit.profile.worker import sample_image_path

    shutil.copyfile(sample_image_path(), tmp_path / "photo.jpg")
    face_video.write(tmp_path / "clip.mp4", [face_video.frame(i) for i in range(6)])
    write_synthetic_folder(tmp_path / "faces", 64, np.random.default_rng(0), size=128)  # 32 calibrate, 32 gate
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_every_python_example_runs(example_folder, capsys):
    namespace: dict = {}
    for number, block in enumerate(python_blocks(), 1):
        exec(compile(block, f"README.md python block {number}", "exec"), namespace)
    out = capsys.readouterr().out
    assert "(68, 2)" in out  # the landmarks of the photo
    assert (example_folder / "pfld-x86" / "edgekit.json").is_file()
    assert namespace["result"].count == 64 and namespace["artifact"].selected.is_file()
