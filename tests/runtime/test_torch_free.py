"""The runtime, evaluation and every spec load with torch blocked: a device without torch runs edgekit files."""
from __future__ import annotations

import json
import subprocess
import sys

from edgekit.paths import PROJECT_DIR

BLOCKED = """
import json, sys
sys.modules["torch"] = None  # any "import torch" from here on raises ImportError
import numpy as np
from safetensors import safe_open

import edgekit.eval.evaluate, edgekit.runtime, edgekit.runtime.predictor, edgekit.runtime.source
from edgekit.heads import HeadSpec, HeatmapParams
from edgekit.paths import WEIGHTS_DIR
from edgekit.runtime.decode import decode
from edgekit.specs import ModelSpec

maps = np.zeros((1, 2, 8, 8), np.float32)
maps[0, 0, 2, 3] = maps[0, 1, 5, 1] = 1.0  # peaks at (col 3, row 2) and (col 1, row 5)
points = decode([maps], HeadSpec("heatmap_argmax", ("heatmaps",), HeatmapParams(2, stride=4)))
with safe_open(str(WEIGHTS_DIR / "pipnet_mbv2.safetensors"), framework="np") as f:
    spec = ModelSpec.from_dict(json.loads(f.metadata()["edgekit.spec"]))  # a flat head of edgekit 0.1
print(json.dumps({"points": points.tolist(), "kind": spec.head.kind, "torch": "torch" in sys.modules
                  and sys.modules["torch"] is not None}))
"""


def test_runtime_imports_and_decodes_with_torch_blocked():
    done = subprocess.run([sys.executable, "-c", BLOCKED], capture_output=True, text=True, cwd=PROJECT_DIR,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # cell (j, i) -> crop px j * 4 + 1.5: (3, 2) -> (13.5, 9.5), (1, 5) -> (5.5, 21.5)
    assert result == {"points": [[[13.5, 9.5], [5.5, 21.5]]], "kind": "pip", "torch": False}
