"""The course's data, all offline and deterministic.

* Generated images (:mod:`course_utils.shapes`): the 24-class *source* task
  the backbone was pretrained on, and the 5-class *target* task ("flower
  species" told apart by their petals) the lessons adapt it to.
* Real data bundled with scikit-learn: breast cancer (screening) and digits.
* Teaching tools: an imbalanced binary variant (accuracy paradox, fraud and
  screening framings), a leaky split and :func:`find_leakage`.
* :func:`image_folder` for a user's own images.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from course_utils import shapes
from course_utils._validate import as_array, check_fraction, check_positive_int, check_str, shown

__all__ = [
    "MEAN",
    "STD",
    "ImageSet",
    "PreprocessedImages",
    "Splits",
    "TabularSplit",
    "breast_cancer",
    "digits",
    "find_leakage",
    "image_folder",
    "imbalanced_binary",
    "leaky_split",
    "source_data",
    "target_splits",
    "to_tensor",
]

# Fixed normalisation for the shapes domain (uint8 -> roughly zero-mean, unit-variance).
MEAN = 0.5
STD = 0.25


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 images (N, 3, H, W) -> normalised float32 tensor."""
    images = as_array("images", images, "uint8 images of shape (N, 3, H, W)")
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(
            f"expected uint8 images of shape (N, 3, H, W), got {images.dtype} {images.shape}"
        )
    return (torch.from_numpy(np.ascontiguousarray(images)).float() / 255.0 - MEAN) / STD


class ImageSet(Dataset):
    """Images (uint8, N x 3 x H x W), integer labels and class names.

    Indexing gives ``(normalised float tensor, int label)`` like a torchvision
    data set; :meth:`tensors` gives the whole set at once, which is what a
    CPU course needs for speed.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, classes: tuple[str, ...]):
        images, labels = np.asarray(images), np.asarray(labels, dtype=np.int64)
        if images.ndim != 4 or images.dtype != np.uint8:
            raise ValueError(
                f"images must be uint8 (N, 3, H, W), got {images.dtype} {images.shape}"
            )
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels: lengths must match")
        if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
            raise ValueError(
                f"labels must lie in [0, {len(classes) - 1}] for {len(classes)} classes, "
                f"got range [{labels.min()}, {labels.max()}]"
            )
        self.images, self.labels, self.classes = images, labels, tuple(classes)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return to_tensor(self.images[i : i + 1])[0], int(self.labels[i])

    def __repr__(self) -> str:
        counts = np.bincount(self.labels, minlength=len(self.classes)).tolist()
        return f"ImageSet({len(self)} images, classes={list(self.classes)}, per class={counts})"

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All images as one normalised float tensor, and the labels as int64."""
        return to_tensor(self.images), torch.from_numpy(self.labels)

    def subset(self, indices: np.ndarray | list[int]) -> ImageSet:
        idx = np.asarray(indices, dtype=np.int64)
        return ImageSet(self.images[idx], self.labels[idx], self.classes)


@dataclass(frozen=True)
class Splits:
    train: ImageSet
    val: ImageSet
    test: ImageSet


def _check_count(name: str, value: int, minimum: int = 1) -> None:
    check_positive_int(name, value, minimum)


def _check_seed(seed: int) -> int:
    return check_positive_int("seed", seed, minimum=0)


def _check_image_set(name: str, value: object) -> ImageSet:
    if not isinstance(value, ImageSet):
        raise TypeError(
            f"{name} must be an ImageSet (e.g. target_splits().train), got {shown(value)}."
        )
    return value


def target_splits(
    *, train_per_class: int = 100, val_per_class: int = 40, test_per_class: int = 100, seed: int = 0
) -> Splits:
    """The lessons' task: 5 flower classes, stratified train/val/test, never seen in pretraining.

    Each split is rendered from its own seed, so no image appears in two splits.
    """
    for name, n in (
        ("train_per_class", train_per_class),
        ("val_per_class", val_per_class),
        ("test_per_class", test_per_class),
    ):
        _check_count(name, n)
    classes = shapes.TARGET_CLASSES
    made = [
        shapes.generate(classes, n, seed * 10 + k)
        for k, n in enumerate((train_per_class, val_per_class, test_per_class))
    ]
    return Splits(*(ImageSet(x, y, classes) for x, y in made))


def source_data(per_class: int, seed: int = 0) -> ImageSet:
    """The 24-shape pretraining task (what the course backbone learned)."""
    _check_count("per_class", per_class)
    x, y = shapes.generate(shapes.SOURCE_CLASSES, per_class, seed, family="source")
    return ImageSet(x, y, shapes.SOURCE_CLASSES)


def imbalanced_binary(
    positive: str = "daisy", positive_fraction: float = 0.1, n: int = 1000, seed: int = 0
) -> ImageSet:
    """A rare-positive task: ``positive`` flowers (label 1) among all the other flowers (label 0)."""
    check_str("positive", positive, "daisy")
    check_fraction("positive_fraction", positive_fraction)
    if positive not in shapes.TARGET_CLASSES:
        raise ValueError(f"positive must be one of {shapes.TARGET_CLASSES}, got {positive!r}")
    if not 0 < positive_fraction < 1:
        raise ValueError(
            f"positive_fraction must be strictly between 0 and 1, got {positive_fraction!r}"
        )
    _check_count("n", n, 2)
    n_pos = max(1, round(n * positive_fraction))
    others = [c for c in shapes.TARGET_CLASSES if c != positive]
    per_other = -(-(n - n_pos) // len(others))
    xp, _ = shapes.generate((positive,), n_pos, seed * 10 + 7)
    xn, _ = shapes.generate(others, per_other, seed * 10 + 8)
    xn = xn[: n - n_pos]
    x = np.concatenate([xp, xn])
    y = np.concatenate([np.ones(n_pos, np.int64), np.zeros(len(xn), np.int64)])
    order = np.random.default_rng(seed).permutation(len(y))
    return ImageSet(x[order], y[order], (f"not {positive}", positive))


def leaky_split(train: ImageSet, test: ImageSet, fraction: float = 0.5, seed: int = 0) -> ImageSet:
    """A training set that (wrongly) contains ``fraction`` of the test images: data leakage."""
    _check_image_set("train", train)
    _check_image_set("test", test)
    check_fraction("fraction", fraction)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    if train.classes != test.classes:
        raise ValueError(
            f"train and test have different classes: {train.classes} vs {test.classes}"
        )
    rng = np.random.default_rng(seed)
    leaked = rng.choice(len(test), size=max(1, round(len(test) * fraction)), replace=False)
    return ImageSet(
        np.concatenate([train.images, test.images[leaked]]),
        np.concatenate([train.labels, test.labels[leaked]]),
        train.classes,
    )


def _digests(name: str, data: ImageSet | np.ndarray) -> list[str]:
    arr = (
        data.images if isinstance(data, ImageSet) else as_array(name, data, "an ImageSet or array")
    )
    if arr.ndim == 0:
        raise ValueError(f"{name} must hold one sample per row, got the scalar {shown(data)}.")
    return [hashlib.sha1(np.ascontiguousarray(row).tobytes()).hexdigest() for row in arr]


def find_leakage(
    train: ImageSet | np.ndarray, test: ImageSet | np.ndarray
) -> list[tuple[int, int]]:
    """Pairs ``(train_index, test_index)`` of samples with identical content (exact duplicates).

    Works on :class:`ImageSet` or any array whose first axis indexes samples
    (images, or feature rows such as scikit-learn's data sets).
    """
    seen: dict[str, list[int]] = {}
    for i, d in enumerate(_digests("train", train)):
        seen.setdefault(d, []).append(i)
    return [(i, j) for j, d in enumerate(_digests("test", test)) for i in seen.get(d, [])]


class PreprocessedImages(Dataset):
    """Images already turned into model inputs by a transform (e.g. a weights' ``transforms()``).

    Like :class:`ImageSet` for training and evaluation (``tensors()``,
    ``labels``, ``classes``), but the images are float tensors preprocessed
    for particular pretrained weights, not the course's uint8 images.
    """

    def __init__(
        self, inputs: torch.Tensor, labels: np.ndarray, classes: tuple[str, ...], transform: object
    ):
        if len(inputs) != len(labels):
            raise ValueError(f"{len(inputs)} inputs but {len(labels)} labels: lengths must match")
        self.inputs, self.labels = inputs, np.asarray(labels, dtype=np.int64)
        self.classes, self.transform = tuple(classes), transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.inputs[i], int(self.labels[i])

    def __repr__(self) -> str:
        counts = np.bincount(self.labels, minlength=len(self.classes)).tolist()
        shape = "x".join(str(n) for n in self.inputs.shape[1:])
        return (
            f"PreprocessedImages({len(self)} images of {shape}, classes={list(self.classes)}, "
            f"per class={counts})"
        )

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All inputs as one float tensor, and the labels as int64."""
        return self.inputs, torch.from_numpy(self.labels)


def image_folder(
    root: str | Path, size: int | None = None, *, transform: object = None
) -> ImageSet | PreprocessedImages:
    """A user's own images laid out as ``root/<class>/<image>`` (torchvision's ImageFolder).

    Without ``transform``: an :class:`ImageSet` resized to ``size`` pixels
    (32 by default) with the course's normalisation, for the course backbone.
    For torchvision's pretrained weights, pass their preprocessing instead:
    ``transform=ResNet18_Weights.DEFAULT.transforms()`` (resize, 224 px
    centre crop, ImageNet mean and std), the weights enum itself, or any
    callable that turns a PIL image into a (3, H, W) float tensor. Then the
    result is a :class:`PreprocessedImages`, and ``size`` must not be given.
    """
    from PIL import Image
    from torchvision.datasets import ImageFolder

    if not isinstance(root, str | os.PathLike):
        raise TypeError(f"root must be a folder path (str or Path), got {shown(root)}.")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"image folder {str(root)!r} does not exist: expected root/<class>/<image>"
        )
    if transform is not None:
        if size is not None:
            raise ValueError(
                f"give size or transform, not both (got size={size!r}): the "
                "transform decides the input size of its weights"
            )
        to_transform = getattr(transform, "transforms", None)
        if not callable(transform) and callable(to_transform):
            transform = to_transform()  # a torchvision weights enum
        if not callable(transform):
            raise TypeError(
                f"transform must be callable, e.g. ResNet18_Weights.DEFAULT."
                f"transforms(), got {type(transform).__name__}: {transform!r:.80}"
            )
    size = 32 if size is None else size
    _check_count("size", size)
    try:
        folder = ImageFolder(str(root))
    except FileNotFoundError as exc:
        raise ValueError(f"{str(root)!r} holds no class folders with images: {exc}") from exc
    labels, classes = np.array(folder.targets), tuple(folder.classes)
    if transform is not None:
        inputs = []
        for path, _ in folder.samples:
            out = transform(Image.open(path).convert("RGB"))
            if not isinstance(out, torch.Tensor) or out.ndim != 3 or not out.is_floating_point():
                raise TypeError(
                    f"transform must turn an image into a (3, H, W) float tensor, "
                    f"got {type(out).__name__} for {Path(path).name!r}: end it with "
                    "ToImage() and ToDtype(torch.float32, scale=True)"
                )
            inputs.append(out)
        return PreprocessedImages(torch.stack(inputs), labels, classes, transform)
    images = np.stack(
        [
            np.asarray(
                Image.open(path).convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
            ).transpose(2, 0, 1)
            for path, _ in folder.samples
        ]
    )
    return ImageSet(images, labels, classes)


@dataclass(frozen=True)
class TabularSplit:
    """A real, bundled data set split into train and test (features are float arrays)."""

    x_train: np.ndarray
    x_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    feature_names: tuple[str, ...]
    classes: tuple[str, ...]


def breast_cancer(seed: int = 0, test_size: float = 0.3) -> TabularSplit:
    """Wisconsin breast cancer (569 real cases), relabelled so that malignant = 1 (the positive class).

    scikit-learn codes malignant as 0; screening asks "is it cancer?", so the
    course flips the labels to make recall mean "cancers found".
    """
    _check_seed(seed)
    check_fraction("test_size", test_size)
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    bunch = load_breast_cancer()
    y = (bunch.target == 0).astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(
        bunch.data, y, test_size=test_size, stratify=y, random_state=seed
    )
    return TabularSplit(xtr, xte, ytr, yte, tuple(bunch.feature_names), ("benign", "malignant"))


def digits(seed: int = 0, test_size: float = 0.3) -> TabularSplit:
    """scikit-learn's 1,797 real 8x8 handwritten digits, stratified split."""
    _check_seed(seed)
    check_fraction("test_size", test_size)
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    xtr, xte, ytr, yte = train_test_split(
        bunch.data, bunch.target, test_size=test_size, stratify=bunch.target, random_state=seed
    )
    return TabularSplit(
        xtr, xte, ytr, yte, tuple(bunch.feature_names), tuple(str(d) for d in range(10))
    )
