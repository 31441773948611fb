"""Pretrained backbones, offline.

``load_backbone("resnet18", weights="course")`` is torchvision's ResNet-18
with weights the course pretrained on its 24 source shapes (``course
pretrain`` rebuilds them). The file ships with the package and is checked
against the SHA-256 in its manifest at every load.

``weights="imagenet"`` uses torchvision's ImageNet weights only when they are
already in the local torch cache: this function never downloads.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn

from course_utils._validate import check_str

__all__ = [
    "COURSE_WEIGHTS",
    "WEIGHTS_DIR",
    "WeightsError",
    "course_transforms",
    "course_weights_path",
    "load_backbone",
    "read_manifest",
    "verify_course_weights",
]

WEIGHTS_DIR = Path(__file__).parent / "weights"
COURSE_WEIGHTS = {"resnet18": "resnet18_shapes24.pt"}


class WeightsError(RuntimeError):
    """The course weights are missing, corrupt or do not fit the architecture."""


def course_weights_path(name: str = "resnet18") -> Path:
    """Where the course weights for architecture ``name`` live (they may be missing)."""
    check_str("name", name, "resnet18")
    if name not in COURSE_WEIGHTS:
        raise ValueError(f"no course weights for {name!r}; available: {sorted(COURSE_WEIGHTS)}")
    return WEIGHTS_DIR / COURSE_WEIGHTS[name]


def read_manifest(name: str = "resnet18") -> dict[str, Any]:
    """The JSON written beside the weights by ``course pretrain`` (classes, sha256, history)."""
    path = course_weights_path(name).with_suffix(".json")
    if not path.exists():
        raise WeightsError(
            f"manifest {path} is missing: run `course pretrain` to rebuild the weights"
        )
    return json.loads(path.read_text())


def verify_course_weights(name: str = "resnet18") -> Path:
    """Return the weights path after checking it exists and matches its manifest's SHA-256."""
    path = course_weights_path(name)
    if not path.exists():
        raise WeightsError(
            f"course weights {path} are missing. Reinstall the course from a full clone "
            "(the file ships with it), or rebuild them with `course pretrain`."
        )
    expected = read_manifest(name)["sha256"]
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != expected:
        raise WeightsError(
            f"course weights {path} are corrupt: SHA-256 {actual[:12]}... but the manifest "
            f"expects {expected[:12]}.... Restore the file (git checkout -- {path.name}) "
            "or rebuild it with `course pretrain`."
        )
    return path


def _imagenet_from_cache(name: str) -> nn.Module:
    weights_enum = torchvision.models.get_model_weights(name).DEFAULT
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights_enum.url).name
    if not cached.exists():
        raise WeightsError(
            f"ImageNet weights for {name} are not in the local torch cache ({cached}). "
            "The course never downloads: copy the file there on a machine with internet, "
            "or use weights='course' (shipped) or weights=None (random init)."
        )
    model = torchvision.models.get_model(name, weights=None)
    model.load_state_dict(torch.load(cached, map_location="cpu", weights_only=True))
    return model


def course_transforms(crop_size: int = 32, resize_size: int | None = None) -> Any:
    """The course weights' own preprocessing, as torchvision weights give it (``weights.transforms()``).

    The same class torchvision returns (``ImageClassification``: resize,
    centre crop, scale to [0, 1], normalise), with the course's statistics
    (mean 0.5 and std 0.25 on every channel, as ``data.to_tensor``) and
    ``crop_size`` 32, the size the course backbone was pretrained at. Read
    ``.crop_size``, ``.resize_size``, ``.mean`` and ``.std`` from it, as from
    ImageNet weights' transforms.
    """
    from torchvision.transforms._presets import ImageClassification

    from course_utils._validate import check_positive_int
    from course_utils.data import MEAN, STD

    check_positive_int("crop_size", crop_size)
    if resize_size is not None:
        check_positive_int("resize_size", resize_size)
    resize = resize_size if resize_size is not None else round(crop_size * 8 / 7)
    return ImageClassification(
        crop_size=crop_size, resize_size=resize, mean=(MEAN,) * 3, std=(STD,) * 3
    )


def load_backbone(name: str = "resnet18", weights: str | None = "course") -> nn.Module:
    """A torchvision classifier with ``weights`` "course" (shipped), "imagenet" (cache only) or None.

    The course backbone keeps its pretraining head (``fc``: 512 -> 24 shapes),
    so lessons can look at it before they replace it; its class names are in
    ``model.class_names``.
    """
    check_str("name", name, "resnet18")
    if weights is None:
        num = len(read_manifest(name)["classes"]) if name in COURSE_WEIGHTS else 1000
        return torchvision.models.get_model(name, weights=None, num_classes=num)
    if weights == "imagenet":
        return _imagenet_from_cache(name)
    if weights != "course":
        raise ValueError(f"weights must be 'course', 'imagenet' or None, got {weights!r}")
    path = verify_course_weights(name)
    manifest = read_manifest(name)
    model = torchvision.models.get_model(name, weights=None, num_classes=len(manifest["classes"]))
    state = torch.load(path, map_location="cpu", weights_only=True)
    try:
        model.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
        )
    except RuntimeError as exc:
        raise WeightsError(f"{path} does not fit torchvision's {name}: {exc}") from exc
    model.class_names = tuple(manifest["classes"])
    return model.eval()
