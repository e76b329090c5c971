"""The CLI on IR files (through ``backend.formats``): eval, predict and profile run a .xml; a bad .xml is one
stderr line naming it, exit 2, nothing written to fd 2 by OpenVINO's other frontends."""
from __future__ import annotations

import json
import shutil

from edgekit.backend.openvino.loader import weights_path


def _main(capfd, *args) -> tuple[int, str, list[str]]:
    from edgekit.cli import main

    code = main([str(a) for a in args])
    out, err = capfd.readouterr()  # fd level: native libraries' stderr too
    return code, out, err.strip().splitlines()


def test_eval_and_predict_run_an_ir(capfd, pfld_ir, synthetic_faces):
    code, out, _ = _main(capfd, "eval", pfld_ir, "--data", synthetic_faces, "--json")
    assert code == 0 and json.loads(out)["count"] == 16
    image = sorted(synthetic_faces.glob("*.jpg"))[0]
    code, out, _ = _main(capfd, "predict", pfld_ir, image, "--box", "0,0,127,127", "--json")
    face = json.loads(out.splitlines()[0])  # one JSON object a face
    assert code == 0 and face["file"] == str(pfld_ir) and len(face["landmarks"]) == 68


def test_profile_counts_the_ir_macs(capfd, pfld_ir, pfld_onnx):
    from edgekit.profile.flops import onnx_macs

    code, out, _ = _main(capfd, "profile", pfld_ir, "--runs", "5", "--warmup", "1", "--json", "--no-progress")
    row = json.loads(out)["results"][0]
    assert code == 0 and row["backend"] == "openvino" and row["p50_ms"] > 0
    assert row["mmacs"] == onnx_macs(pfld_onnx) / 1e6


def test_bad_ir_is_one_error_line(capfd, pfld_ir, synthetic_faces, tmp_path):
    garbage = tmp_path / "garbage.xml"
    garbage.write_text("<net>not closed")
    lonely = tmp_path / "lonely.xml"
    shutil.copyfile(pfld_ir, lonely)  # its .bin is missing
    image = sorted(synthetic_faces.glob("*.jpg"))[0]
    for path in (garbage, lonely):
        for args in (("predict", path, image), ("eval", path, "--data", synthetic_faces)):
            code, _, err = _main(capfd, *args)
            assert code == 2 and len(err) == 1, err
            assert err[0].startswith("edgekit: error: ") and str(path) in err[0], err
    assert not weights_path(lonely).exists()
