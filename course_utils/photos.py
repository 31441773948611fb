"""A folder of "photos" as people really have them, generated offline (lesson 8).

:func:`make_photo_folder` writes JPEG and PNG files in ``root/<class>/<file>``
layout: five classes of natural-looking textures that the course backbone
(pretrained on one foreground shape on a plain background, 32 px) has no
shortcut to, at varied sizes and aspect ratios, with the odd files a real
folder holds (greyscale, RGBA, palette and CMYK images, EXIF-rotated JPEGs,
a truncated JPEG, a text file, exact and near duplicates).

Every class draws its colours from the same random palette, so colour tells
the classes nothing: only texture does. The classes, in words:

* ``bricks``: a wall of rectangular bricks in offset rows, separated by thin
  mortar lines, seen slightly tilted;
* ``bark``: long, wavy vertical streaks and furrows, like tree bark;
* ``clouds``: soft, blurry blobs at several scales with no edges at all;
* ``gravel``: many small round stones of different sizes, packed together;
* ``ripples``: concentric rings spreading from one or two points, like rain
  on a pond.

The folder is rebuilt only when its version stamp is missing or differs, so
a second call costs milliseconds.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from course_utils._validate import check_positive_int, shown

__all__ = [
    "PHOTO_CLASSES",
    "PHOTO_DESCRIPTIONS",
    "OddFiles",
    "Source",
    "export_to_folder",
    "make_photo_folder",
    "open_source",
]

PHOTO_DESCRIPTIONS: dict[str, str] = {
    "bark": "long, wavy vertical streaks and furrows, like tree bark",
    "bricks": "rectangular bricks in offset rows separated by thin mortar lines",
    "clouds": "soft, blurry blobs at several scales with no edges at all",
    "gravel": "many small round stones of different sizes, packed together",
    "ripples": "concentric rings spreading from one or two points, like rain on a pond",
}
PHOTO_CLASSES: tuple[str, ...] = tuple(PHOTO_DESCRIPTIONS)
_VERSION = 1


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """Value noise: a coarse random grid bilinearly upsampled to (h, w), in [0, 1]."""
    gh, gw = h // cell + 2, w // cell + 2
    grid = rng.random((gh, gw))
    ys, xs = np.arange(h) / cell, np.arange(w) / cell
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    fy, fx = fy * fy * (3 - 2 * fy), fx * fx * (3 - 2 * fx)
    a, b = grid[y0][:, x0], grid[y0][:, x0 + 1]
    c, d = grid[y0 + 1][:, x0], grid[y0 + 1][:, x0 + 1]
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy


def _fractal(rng: np.random.Generator, h: int, w: int, base: int) -> np.ndarray:
    out, amp, total, cell = np.zeros((h, w)), 1.0, 0.0, base
    while cell >= 2:
        out += amp * _smooth_noise(rng, h, w, cell)
        total += amp
        amp, cell = amp * 0.55, cell // 2
    return out / total


def _pattern(name: str, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A grey-level texture in [0, 1] of shape (h, w) for class ``name``."""
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    scale = min(h, w)
    if name == "bricks":
        angle = rng.uniform(-0.25, 0.25)
        u = xx * np.cos(angle) + yy * np.sin(angle)
        v = -xx * np.sin(angle) + yy * np.cos(angle)
        bh = scale * rng.uniform(0.08, 0.16)
        bw = bh * rng.uniform(1.8, 2.6)
        row = np.floor(v / bh)
        uu = u + (row % 2) * bw / 2
        mortar = (np.mod(v, bh) < bh * 0.15) | (np.mod(uu, bw) < bh * 0.15)
        shade = rng.random(int(row.max() - row.min()) + 2)[(row - row.min()).astype(int)]
        tex = 0.55 + 0.3 * shade + 0.15 * _smooth_noise(rng, h, w, 4)
        return np.where(mortar, 0.15, tex)
    if name == "bark":
        warp = _smooth_noise(rng, h, w, max(4, scale // 4)) * scale * 0.15
        freq = rng.uniform(10, 22) / scale
        streak = np.sin(2 * np.pi * freq * (xx + warp) + 3 * _smooth_noise(rng, h, w, scale // 3))
        fine = _smooth_noise(rng, h, w, 3)
        return np.clip(0.5 + 0.35 * streak + 0.2 * (fine - 0.5), 0, 1)
    if name == "clouds":
        return _fractal(rng, h, w, max(8, scale // 2))
    if name == "gravel":
        out = np.full((h, w), 0.2) + 0.1 * _smooth_noise(rng, h, w, 3)
        n = int(h * w / (scale * 0.07) ** 2)
        for cy, cx, r, tone in zip(
            rng.uniform(0, h, n),
            rng.uniform(0, w, n),
            rng.uniform(0.025, 0.06, n) * scale,
            rng.uniform(0.45, 1.0, n),
            strict=True,
        ):
            y0, y1 = int(max(cy - r, 0)), int(min(cy + r + 1, h))
            x0, x1 = int(max(cx - r, 0)), int(min(cx + r + 1, w))
            d = ((yy[y0:y1, x0:x1] - cy) ** 2 + (xx[y0:y1, x0:x1] - cx) ** 2) / r**2
            out[y0:y1, x0:x1] = np.where(d < 1, tone * (1 - 0.4 * d), out[y0:y1, x0:x1])
        return out
    if name == "ripples":
        out = np.zeros((h, w))
        for _ in range(rng.integers(1, 3)):
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
            r = np.hypot(yy - cy, xx - cx)
            wavelength = scale * rng.uniform(0.05, 0.1)
            out += np.sin(2 * np.pi * r / wavelength) * np.exp(-r / (scale * 0.8))
        return np.clip(0.5 + 0.45 * out + 0.1 * (_smooth_noise(rng, h, w, 6) - 0.5), 0, 1)
    raise ValueError(f"unknown photo class {name!r}; expected one of {PHOTO_CLASSES}")


def _photo(name: str, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """An RGB uint8 image: the class's texture coloured with a random two-colour palette."""
    grey = _pattern(name, rng, h, w)
    dark, light = rng.uniform(0, 0.45, 3), rng.uniform(0.55, 1, 3)
    light_dir = _smooth_noise(rng, h, w, max(8, min(h, w) // 2))  # uneven lighting
    rgb = dark + grey[..., None] * (light - dark)
    rgb = rgb * (0.75 + 0.5 * light_dir[..., None]) + rng.normal(0, 0.03, (h, w, 3))
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


class OddFiles(dict[str, list[str]]):
    """What :func:`make_photo_folder` planted, by kind: file paths relative to the root."""


def _save(img: object, path: Path, fmt: str, **kw: object) -> None:
    img.save(path, fmt, **kw)  # type: ignore[attr-defined]


def make_photo_folder(
    root: str | Path, per_class: int = 60, seed: int = 0, *, max_side: int = 256
) -> OddFiles:
    """Write (or reuse) a folder of photo-like images in ``root/<class>/<file>`` layout.

    ``per_class`` images per class (plus the planted odd files), each between
    ``max_side // 2`` and ``max_side`` pixels on its longer side with an aspect
    ratio (long side / short side) between 1 and 16:9, portrait or landscape. Returns the planted odd files by
    kind (``greyscale``, ``rgba``, ``palette``, ``cmyk``, ``exif_rotated``,
    ``corrupt``, ``not_image``, ``exact_duplicates``, ``near_duplicates``).
    The same arguments give byte-identical files; a folder whose stamp
    matches them is reused as it is.
    """
    from PIL import Image

    if not isinstance(root, str | Path):
        raise TypeError(f"root must be a folder path (str or Path), got {shown(root)}.")
    check_positive_int("per_class", per_class, 4)
    check_positive_int("seed", seed, 0)
    check_positive_int("max_side", max_side, 32)
    root = Path(root)
    stamp = root / ".photos.json"
    key = {"version": _VERSION, "per_class": per_class, "seed": seed, "max_side": max_side}
    if stamp.exists():
        saved = json.loads(stamp.read_text())
        if saved.get("key") == key:
            return OddFiles(saved["odd"])
    if root.exists() and any(root.iterdir()) and not stamp.exists():
        raise FileExistsError(
            f"{str(root)!r} exists and was not made by make_photo_folder: "
            "give an empty or new folder"
        )
    # Built beside the target and renamed into place, so two kernels that build the same
    # folder at once (a test run and a grading run) never see half a folder.
    final, root = root, root.parent / f".{root.name}.building-{os.getpid()}"
    shutil.rmtree(root, ignore_errors=True)
    rng = np.random.default_rng(seed)
    odd = OddFiles({k: [] for k in ("greyscale", "rgba", "palette", "cmyk", "exif_rotated")})
    kinds = ["greyscale", "rgba", "palette", "cmyk", "exif_rotated"]
    written: list[tuple[str, Path]] = []
    for name in PHOTO_CLASSES:
        (root / name).mkdir(parents=True)
        for k in range(per_class):
            long_side = int(rng.integers(max_side // 2, max_side + 1))
            aspect = float(rng.uniform(1.0, 16 / 9))  # long side / short side
            h, w = long_side, max(16, int(long_side / aspect))
            if rng.random() < 0.5:
                h, w = w, h
            arr = _photo(name, rng, h, w)
            img = Image.fromarray(arr)
            # One odd file of each kind per class, at fixed positions so every class has them.
            kind = kinds[k] if k < len(kinds) else None
            base = root / name / f"{name}_{k:03d}"
            if kind == "greyscale":
                path = base.with_suffix(".jpg")
                _save(img.convert("L"), path, "JPEG", quality=85)
            elif kind == "rgba":
                rgba = img.convert("RGBA")
                rgba.putalpha(Image.fromarray((arr[..., 0] // 2 + 128).astype(np.uint8)))
                path = base.with_suffix(".png")
                _save(rgba, path, "PNG")
            elif kind == "palette":
                path = base.with_suffix(".png")
                _save(img.convert("P", palette=Image.Palette.ADAPTIVE, colors=64), path, "PNG")
            elif kind == "cmyk":
                path = base.with_suffix(".jpg")
                _save(img.convert("CMYK"), path, "JPEG", quality=85)
            elif kind == "exif_rotated":
                # Stored sideways, as a phone does, with the EXIF tag that says "rotate me back".
                path = base.with_suffix(".jpg")
                exif = Image.Exif()
                exif[0x0112] = 6  # orientation: the viewer must rotate 90 degrees clockwise
                _save(img.transpose(Image.Transpose.ROTATE_90), path, "JPEG", exif=exif)
            elif rng.random() < 0.7:
                path = base.with_suffix(".jpg")
                _save(img, path, "JPEG", quality=int(rng.integers(70, 95)))
            else:
                path = base.with_suffix(".png")
                _save(img, path, "PNG")
            if kind:
                odd[kind].append(str(path.relative_to(root)))
            written.append((name, path))
    # A truncated download, and a note someone left in the folder.
    good = Image.fromarray(_photo(PHOTO_CLASSES[0], rng, 120, 160))
    buf = io.BytesIO()
    good.save(buf, "JPEG", quality=90)
    corrupt = root / PHOTO_CLASSES[0] / f"{PHOTO_CLASSES[0]}_truncated.jpg"
    corrupt.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    note = root / PHOTO_CLASSES[1] / "notes.txt"
    note.write_text("photos from the garden, sorted by hand\n")
    odd["corrupt"] = [str(corrupt.relative_to(root))]
    odd["not_image"] = [str(note.relative_to(root))]
    # Duplicates: two byte-identical copies (one in its own class, one filed under another
    # class by mistake), and near duplicates (re-encoded, slightly resized) in their own class,
    # which a content hash cannot see and a random split scatters across splits.
    plain = [(n, p) for n, p in written if p.suffix == ".jpg" and p.stem[-3:].isdigit()]
    picks = rng.choice(len(plain), size=5, replace=False)
    exact, near = [], []
    for j, (pick, target_class) in enumerate(
        zip(picks[:2], (plain[picks[0]][0], PHOTO_CLASSES[2]), strict=True)
    ):
        src = plain[pick][1]
        dst = root / target_class / f"copy_{j}_{src.name}"
        dst.write_bytes(src.read_bytes())
        exact.append([str(src.relative_to(root)), str(dst.relative_to(root))])
    for j, pick in enumerate(picks[2:]):
        name, src = plain[pick]
        with Image.open(src) as opened:
            rgb = opened.convert("RGB")
            resized = rgb.resize((rgb.width - 3, rgb.height - 2))
        dst = root / name / f"edited_{j}_{src.stem}.jpg"
        resized.save(dst, "JPEG", quality=60)
        near.append([str(src.relative_to(root)), str(dst.relative_to(root))])
    odd["exact_duplicates"] = [p for pair in exact for p in pair]
    odd["near_duplicates"] = [p for pair in near for p in pair]
    (root / stamp.name).write_text(json.dumps({"key": key, "odd": odd}, indent=1))
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        shutil.rmtree(final, ignore_errors=True)  # an outdated folder this function made
    try:
        root.rename(final)
    except OSError:  # another process renamed its identical copy into place first
        shutil.rmtree(root, ignore_errors=True)
    return odd


def export_to_folder(dataset: Any, root: str | Path, classes: list[str] | None = None) -> Path:
    """Write a torchvision data set of ``(PIL image, label)`` as ``root/<class>/<index>.jpg``, once.

    For data sets that are not stored as a folder of class folders
    (OxfordIIITPet, Flowers102, FakeData): afterwards the lesson reads them
    like any photo folder. A stamp file makes a second call free.
    """
    root = Path(root)
    stamp = root / ".exported.json"
    names = list(classes if classes is not None else dataset.classes)
    if stamp.exists() and json.loads(stamp.read_text()) == {"n": len(dataset), "classes": names}:
        return root
    for name in names:
        (root / name.replace("/", "_")).mkdir(parents=True, exist_ok=True)
    for i in range(len(dataset)):
        image, label = dataset[i]
        image.convert("RGB").save(
            root / names[label].replace("/", "_") / f"{i:05d}.jpg", quality=92
        )
    stamp.write_text(json.dumps({"n": len(dataset), "classes": names}))
    return root


@dataclass(frozen=True)
class Source:
    """Where the lesson's photos come from: the folder, its weights' preprocessing, a backbone."""

    name: str
    folder: Path
    preprocess: Any
    make_backbone: Callable[[], Any]
    weights: str


def open_source(
    name: str, root: str | Path, *, download: bool = False, per_class: int = 40
) -> Source:
    """The lesson's data and backbone: ``"course"`` (offline) or ``"oxford_pets"`` (online).

    ``"course"``: :func:`make_photo_folder` with the course backbone and its
    transforms (nothing downloads). ``"oxford_pets"``: torchvision's
    OxfordIIITPet (37 breeds of cats and dogs) exported as a photo folder,
    and ResNet-18 with ImageNet weights and their ``transforms()``; with
    ``download=True`` torchvision fetches the images (about 800 MB) and the
    weights (about 45 MB) once.
    """
    import torchvision

    from course_utils import backbones

    root = Path(root)
    if name == "course":
        folder = root / "garden"
        make_photo_folder(folder, per_class=per_class, seed=0, max_side=160)
        return Source(
            name,
            folder,
            backbones.course_transforms(32),
            lambda: backbones.load_backbone("resnet18", weights="course"),
            "course",
        )
    if name == "oxford_pets":
        from torchvision.models import ResNet18_Weights

        pets = torchvision.datasets.OxfordIIITPet(
            str(root / "pets"), split="trainval", download=download
        )
        weights = ResNet18_Weights.DEFAULT
        return Source(
            name,
            export_to_folder(pets, root / "pets-folder"),
            weights.transforms(),
            lambda: torchvision.models.resnet18(weights=weights),
            "imagenet",
        )
    raise ValueError(f"source must be 'course' or 'oxford_pets', got {name!r}")
