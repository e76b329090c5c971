"""``edgekit demo --out``: a previous demo's folder is reused, any other folder with files is refused up front."""
from __future__ import annotations

import pytest

from edgekit.demo.run import DemoConfig, check_demo_out
from edgekit.errors import OutputError


def previous_demo(out):
    """The layout a finished demo leaves (demo/run.py, faces.py, report.py)."""
    for folder in ("calibration", "overlays", "artifacts/pfld_0.25x-cpu-x86-int8"):
        (out / folder).mkdir(parents=True)
    (out / "calibration" / "face_000.jpg").write_bytes(b"jpeg")
    (out / "overlays" / "pfld_0.25x-cpu-x86-int8-model.png").write_bytes(b"png")
    (out / "artifacts" / "pfld_0.25x-cpu-x86-int8" / "edgekit.json").write_text("{}")
    for name in ("calibration.yaml", "profile.json", "profile.csv", "latency.png", "report.md"):
        (out / name).write_text(name)
    return out


def test_a_previous_demo_folder_is_reused(tmp_path):
    check_demo_out(previous_demo(tmp_path / "demo-out"), DemoConfig())
    check_demo_out(tmp_path / "new", DemoConfig())


@pytest.mark.parametrize("extra, named", [
    ("notes.txt", "notes.txt"),  # a user's file beside the demo's
    ("calibration/my-face.jpg", "calibration/my-face.jpg"),  # the calibration folder is made anew: never theirs
    ("artifacts/fsanet-cpu-x86-int8/model.onnx", "fsanet-cpu-x86-int8"),  # a folder the demo would replace
])
def test_a_user_file_in_the_demo_folder_is_refused(extra, named, tmp_path):
    out = previous_demo(tmp_path / "demo-out")
    (out / extra).parent.mkdir(parents=True, exist_ok=True)
    (out / extra).write_text("mine")
    with pytest.raises(OutputError, match=named):
        check_demo_out(out, DemoConfig())
    assert (out / extra).read_text() == "mine"
