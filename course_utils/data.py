"""The course's data, all offline and deterministic.

* Generated images (:mod:`course_utils.shapes`): the 24-class *source* task
  the backbone was pretrained on, and the 5-class *target* task ("flower
  species" told apart by their petals) the lessons adapt it to.
* Real data bundled with scikit-learn: breast cancer (screening) and digits.
* Teaching tools: an imbalanced binary variant (accuracy paradox, fraud and
  screening framings), a leaky split and :func:`find_leakage`.
* :func:`image_folder` for a user's own images (a lazy :class:`PhotoFolder`),
  and :func:`split_folder` to split them stratified after removing exact
  duplicates.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from course_utils import shapes
from course_utils._validate import as_array, check_fraction, check_positive_int, shown

__all__ = [
    "MEAN",
    "STD",
    "FolderSplit",
    "ImageSet",
    "PhotoFolder",
    "PreprocessedImages",
    "Splits",
    "TabularSplit",
    "breast_cancer",
    "digits",
    "file_digest",
    "find_leakage",
    "image_folder",
    "load_rgb",
    "source_data",
    "split_folder",
    "target_splits",
    "to_tensor",
    "UnreadableImageError",
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


def _check_path(name: str, value: object) -> None:
    if not isinstance(value, str | os.PathLike):
        raise TypeError(f"{name} must be a file path (str or Path), got {shown(value)}.")


def load_rgb(path: str | Path) -> Any:
    """Open an image file as an upright RGB PIL image, whatever its mode or EXIF orientation.

    Phones store photos sideways with an EXIF tag that says how to turn them:
    ``ImageOps.exif_transpose`` applies it. Greyscale, palette and CMYK images
    are converted to RGB; transparent ones (RGBA, LA, palette with a
    transparent colour) are laid on white first, as a viewer shows them.
    """
    from PIL import Image, ImageOps

    _check_path("path", path)
    with Image.open(path) as opened:
        im = ImageOps.exif_transpose(opened) or opened
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            rgba = im.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return Image.alpha_composite(white, rgba).convert("RGB")
        return im.convert("RGB")


class UnreadableImageError(OSError):
    """An image file that PIL cannot open or decode; the message names the file."""


def _readable(path: str, decode: bool) -> str | None:
    """None if ``path`` is a readable image, else the reason it is not."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            if decode:
                im.load()
    except (OSError, SyntaxError, ValueError) as exc:  # PIL raises these for bad files
        return f"{type(exc).__name__}: {exc}"
    return None


class PhotoFolder(Dataset):
    """A lazy ``root/<class>/<file>`` image data set built on torchvision's ``ImageFolder``.

    Construction lists the files and reads each file's header (no pixels), so
    thousands of large photos cost megabytes; ``__getitem__`` opens one file,
    turns it upright and into RGB (:func:`load_rgb`), then applies
    ``transform``. ``classes``, ``class_to_idx``, ``samples`` and ``targets``
    are torchvision's; ``labels`` is ``targets`` as an int64 array.
    ``skipped`` lists ``(path, reason)`` for every file left out.
    """

    def __init__(
        self,
        root: str | Path,
        transform: Any = None,
        *,
        on_error: str = "skip",
        verify: str = "header",
    ):
        from torchvision.datasets import ImageFolder
        from torchvision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension

        if on_error not in ("skip", "raise"):
            raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
        if verify not in ("header", "decode"):
            raise ValueError(
                f"verify must be 'header' (fast: opens each file) or 'decode' (reads every "
                f"pixel: also finds truncated files), got {verify!r}"
            )
        skipped: list[tuple[str, str]] = []

        def valid(path: str) -> bool:
            if Path(path).name.startswith("."):
                return False  # hidden files (.DS_Store, our own stamp) are not photos
            if not has_file_allowed_extension(path, IMG_EXTENSIONS):
                reason = "not an image file (its extension is not one PIL reads)"
            else:
                reason = _readable(path, verify == "decode")  # type: ignore[assignment]
            if reason is None:
                return True
            if on_error == "raise":
                raise UnreadableImageError(
                    f"cannot read {path!r}: {reason}. Remove or replace the file, "
                    "or pass on_error='skip' to leave it out with a warning."
                )
            skipped.append((path, reason))
            return False

        try:
            self._folder = ImageFolder(str(root), loader=load_rgb, is_valid_file=valid)
        except FileNotFoundError as exc:
            raise ValueError(f"{str(root)!r} holds no class folders with images: {exc}") from exc
        self.root, self.transform, self.skipped = Path(root), transform, skipped
        self.classes: tuple[str, ...] = tuple(self._folder.classes)
        self.class_to_idx = self._folder.class_to_idx
        self.samples: list[tuple[str, int]] = self._folder.samples
        self.targets: list[int] = self._folder.targets
        self.labels = np.asarray(self.targets, dtype=np.int64)
        self.sample_shape: tuple[int, ...] | None = None
        if skipped:
            names = "\n".join(f"  {p}: {why}" for p, why in skipped)
            warnings.warn(
                f"image_folder skipped {len(skipped)} file(s) it cannot read as images:\n{names}",
                stacklevel=3,
            )

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[Any, int]:
        path, label = self.samples[i]
        try:
            image = load_rgb(path)
        except (OSError, SyntaxError, ValueError) as exc:
            raise UnreadableImageError(
                f"cannot decode {path!r}: {exc}. Build the data set with verify='decode' "
                "to find such files up front and leave them out."
            ) from exc
        return (self.transform(image) if self.transform is not None else image), label

    def __repr__(self) -> str:
        counts = np.bincount(self.labels, minlength=len(self.classes)).tolist()
        shape = f" of {'x'.join(map(str, self.sample_shape))}" if self.sample_shape else ""
        return (
            f"PhotoFolder({len(self)} images{shape}, classes={list(self.classes)}, "
            f"per class={counts})"
        )

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every image through ``transform``, stacked (reads every file: small folders only)."""
        xs = [self[i][0] for i in range(len(self))]
        return torch.stack(xs), torch.from_numpy(self.labels)


def image_folder(
    root: str | Path,
    size: int | None = None,
    *,
    transform: object = None,
    on_error: str = "skip",
    verify: str = "header",
) -> ImageSet | PhotoFolder:
    """A user's own images laid out as ``root/<class>/<image>`` (torchvision's ImageFolder).

    With ``transform`` (e.g. ``ResNet18_Weights.DEFAULT.transforms()``, the
    weights enum itself, or any callable that turns a PIL image into a
    (3, H, W) float tensor): a lazy :class:`PhotoFolder` that reads each file
    when it is indexed, so it suits folders of any size. Files PIL cannot read
    are left out with one warning naming each (``on_error="raise"`` stops at
    the first instead); ``verify="decode"`` also finds truncated files, at
    the cost of reading every pixel once.

    Without ``transform``: an :class:`ImageSet` in memory, resized to ``size``
    pixels (32 by default) with the course's normalisation, for the course
    backbone on a small folder (every file is decoded, so ``verify`` does
    not apply).
    """
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
        folder = PhotoFolder(root, transform, on_error=on_error, verify=verify)
        if len(folder):
            # One image through the transform now, so a wrong transform fails here, not mid-epoch.
            out, _ = folder[0]
            if not isinstance(out, torch.Tensor) or out.ndim != 3 or not out.is_floating_point():
                raise TypeError(
                    f"transform must turn an image into a (3, H, W) float tensor, "
                    f"got {type(out).__name__} for {Path(folder.samples[0][0]).name!r}: end it "
                    "with ToImage() and ToDtype(torch.float32, scale=True)"
                )
            folder.sample_shape = tuple(out.shape)
        return folder
    size = 32 if size is None else size
    _check_count("size", size)
    from PIL import Image

    # Every pixel is read here anyway, so truncated files are found (and named) up front.
    folder = PhotoFolder(root, on_error=on_error, verify="decode")
    images = np.stack(
        [
            np.asarray(folder[i][0].resize((size, size), Image.Resampling.BILINEAR)).transpose(
                2, 0, 1
            )
            for i in range(len(folder))
        ]
    )
    return ImageSet(images, folder.labels, folder.classes)


@dataclass(frozen=True)
class FolderSplit:
    """Indices into a :class:`PhotoFolder` for each split, and the duplicates left out.

    ``duplicates`` lists groups of paths with byte-identical content: the
    first of each group is kept (in one split only), the others are dropped.
    """

    train: list[int]
    val: list[int]
    test: list[int]
    duplicates: list[list[str]]


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes: equal digests mean byte-identical files."""
    _check_path("path", path)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def split_folder(
    folder: PhotoFolder,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> FolderSplit:
    """A stratified train/validation/test split of ``folder``, exact duplicates removed first.

    Files are grouped by content hash before anything is split, so a photo
    saved twice (even in two class folders) cannot land in two splits: only
    its first copy is kept. Near duplicates (re-encoded, resized) have other
    bytes and are *not* found here. Each class is shuffled with ``seed`` and
    cut in the given fractions (at least one image per split and class).
    """
    if not isinstance(folder, PhotoFolder):
        raise TypeError(
            f"folder must be a PhotoFolder (data.image_folder(...)), got {shown(folder)}."
        )
    check_fraction("val_fraction", val_fraction)
    check_fraction("test_fraction", test_fraction)
    if val_fraction + test_fraction >= 1:
        raise ValueError(
            f"val_fraction + test_fraction must be below 1 to leave a training set, got "
            f"{val_fraction} + {test_fraction}"
        )
    _check_seed(seed)
    groups: dict[str, list[int]] = {}
    for i, (path, _) in enumerate(folder.samples):
        groups.setdefault(file_digest(path), []).append(i)
    keep = sorted(idx[0] for idx in groups.values())
    duplicates = [[folder.samples[i][0] for i in idx] for idx in groups.values() if len(idx) > 1]
    rng = np.random.default_rng(seed)
    out: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    labels = folder.labels
    for c in range(len(folder.classes)):
        members = [i for i in keep if labels[i] == c]
        members = [members[j] for j in rng.permutation(len(members))]
        n = len(members)
        if n < 3:
            raise ValueError(
                f"class {folder.classes[c]!r} has {n} distinct image(s): a split needs at "
                "least 3 (one per split); add images or drop the class"
            )
        n_val = max(1, round(n * val_fraction))
        n_test = max(1, round(n * test_fraction))
        out["val"] += members[:n_val]
        out["test"] += members[n_val : n_val + n_test]
        out["train"] += members[n_val + n_test :]
    return FolderSplit(sorted(out["train"]), sorted(out["val"]), sorted(out["test"]), duplicates)


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
