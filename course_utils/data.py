"""The course's data: generated shapes, bundled scikit-learn sets, splits and leakage checks."""

from __future__ import annotations

import numpy as np
import torch

# Fixed normalisation for the shapes domain (uint8 -> roughly zero-mean, unit-variance).
MEAN = 0.5
STD = 0.25


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 images (N, 3, H, W) -> normalised float32 tensor."""
    return (torch.from_numpy(np.ascontiguousarray(images)).float() / 255.0 - MEAN) / STD
