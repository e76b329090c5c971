"""One annotated face image, whatever format it came from."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True, eq=False)
class Sample:
    image_path: Path  # the image file (for inline pixels: the annotation file, for messages)
    landmarks: np.ndarray | None  # (N, 2) float32 image pixels, 0-based; NaN where a point is missing
    pose: np.ndarray | None  # (3,) float32 yaw, pitch, roll in degrees (AFLW2000 convention)
    scheme: str | None  # edgekit.data.schemes name, e.g. "ibug68"
    box: tuple[float, float, float, float] | None  # x0, y0, x1, y1 when the annotation carries a face box
    fmt: str  # annotation format: "pts", "aflw2000_mat", "coco_json", "wflw_txt", "cofw_mat", ...
    annotation_path: Path | None
    pixels: np.ndarray | None = None  # inline image (Kaggle CSV, COFW .mat): uint8 (H, W) or (H, W, 3)

    @property
    def num_points(self) -> int:
        return 0 if self.landmarks is None else len(self.landmarks)
