"""Training / validation datasets over annotated Samples.

Images are decoded once and kept in memory (uint8). Each item is cropped around the box from its ground-truth
landmarks (``PreprocessSpec.landmark_box_scale``); training items are augmented with an rng seeded from
(seed, epoch, index), so an item is the same in every run and after a resume, whatever the worker layout."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from edgekit.data import Sample, get_scheme, load_image
from edgekit.data.augment import JointAugment
from edgekit.runtime.preprocess import apply_affine, box_from_landmarks, crop_matrix, normalize, warp
from edgekit.specs import ModelSpec
from edgekit.recipe import Recipe
from edgekit.data.selection import label_points, landmarks_for, load_samples, pose_label


class FaceDataset(Dataset):
    """Items: {"image": (C, H, W) or (H, W, C) float32 per the spec's layout, "landmarks": (N, 2) crop px
    (NaN = unknown), "pose": (3,) yaw/pitch/roll degrees (NaN = unknown)}."""

    def __init__(self, samples: Sequence[Sample], spec: ModelSpec, augment: JointAugment | None = None,
                 seed: int = 0, labelled: Sequence[bool] | None = None):  # fmt: skip
        """``labelled[i]`` False: sample i is boxed from its annotation but gives NaN landmarks and pose (a
        distilled student learns it from its teacher alone); None: all labelled."""
        self.spec = spec
        self.augment = augment
        self.seed = seed
        self.epoch = 0
        self.num_points = label_points(spec)
        self.images = [load_image(sample) for sample in samples]  # uint8 BGR, decoded once
        self.landmarks = [landmarks_for(sample, self.num_points, spec) for sample in samples]
        self.boxes = [box_from_landmarks(sample.landmarks, spec.preprocess) for sample in samples]
        sizes = [(image.shape[1], image.shape[0]) for image in self.images]  # (w, h) for solvePnP
        self.poses = [pose_label(sample, size) for sample, size in zip(samples, sizes)]
        for index, keep in enumerate(labelled if labelled is not None else ()):
            if not keep:
                self.landmarks[index] = np.full_like(self.landmarks[index], np.nan)
                self.poses[index] = np.full_like(self.poses[index], np.nan)

    def __len__(self) -> int:
        return len(self.images)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        image, box, points, pose = self.images[index], self.boxes[index], self.landmarks[index], self.poses[index]
        if self.augment is None:
            matrix = crop_matrix(box, self.spec.preprocess)
            crop, points = warp(image, matrix, self.spec.preprocess), apply_affine(points, matrix)
        else:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            params = self.augment.sample(rng)
            crop, points, pose = self.augment(image, box, self.spec.preprocess, points, pose, params)
        return {
            "image": torch.from_numpy(normalize(crop, self.spec.preprocess)),
            "landmarks": torch.from_numpy(np.asarray(points, dtype=np.float32)),
            "pose": torch.from_numpy(np.asarray(pose, dtype=np.float32)),
        }


def build_datasets(recipe: Recipe, spec: ModelSpec) -> tuple[FaceDataset, FaceDataset]:
    """(augmented train set, plain val set) for ``spec`` from the recipe's data section."""
    flip_perm = get_scheme(spec.scheme).flip_perm
    augment = JointAugment(recipe.augment, flip_perm)
    train, labelled = [], []
    for config in (recipe.data.train, *recipe.data.extra_train):
        samples = load_samples(config, spec, recipe.data.max_pose_deg)
        train += samples
        labelled += [config.labels] * len(samples)
    val = load_samples(recipe.data.val, spec, recipe.data.max_pose_deg)
    return FaceDataset(train, spec, augment, recipe.seed, labelled), FaceDataset(val, spec, None, recipe.seed)
