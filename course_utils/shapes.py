"""Procedural "cluttered shapes" images: the course's offline image domain.

Every image is 32x32 RGB: a gradient background with noise, a few distractor
strokes and dots (the clutter), and one foreground shape at a random position,
size, rotation, aspect and colour. The class is the shape alone, so a network
has to learn *form* (corners, lobes, holes, symmetry) and ignore colour and
clutter: features that transfer between shape families.

Two disjoint label sets use this renderer:

* ``SOURCE_CLASSES`` (24 shapes: polygons, stars, gears, letters, ...) for
  pretraining the course backbone;
* ``TARGET_CLASSES`` (5 "flower species", told apart by their petals) for the
  lessons, which the backbone never saw.

Rendering is vectorised numpy and deterministic for a given seed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from course_utils._validate import check_positive_int, shown

__all__ = [
    "IMAGE_SIZE",
    "SOURCE_CLASSES",
    "SOURCE_SHAPES",
    "TARGET_CLASSES",
    "TARGET_SHAPES",
    "generate",
    "render",
]

IMAGE_SIZE = 32

Margin = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""A shape: (x, y) in shape units -> signed margin, > 0 inside, roughly unit scale."""


def _polar(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.hypot(x, y), np.arctan2(y, x)


def _polygon(n: int) -> Margin:
    def margin(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        rho, th = _polar(x, y)
        sector = 2 * np.pi / n
        r = np.cos(np.pi / n) / np.cos(np.mod(th, sector) - np.pi / n)
        return r - rho

    return margin


def _star(k: int, inner: float = 0.45) -> Margin:
    def margin(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        rho, th = _polar(x, y)
        tri = np.abs(np.mod(th * k / (2 * np.pi), 1.0) - 0.5) * 2  # 1 at tips, 0 between
        return inner + (1 - inner) * tri - rho

    return margin


def _gear(k: int) -> Margin:
    def margin(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        rho, th = _polar(x, y)
        return np.where(np.sin(k * th) > 0, 1.0, 0.72) - rho

    return margin


def _flower(k: int, depth: float = 0.5) -> Margin:
    def margin(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        rho, th = _polar(x, y)
        return (1 - depth) + depth * np.abs(np.cos(k * th / 2)) - rho

    return margin


def _box(x: np.ndarray, y: np.ndarray, cx: float, cy: float, hw: float, hh: float) -> np.ndarray:
    return np.minimum(hw - np.abs(x - cx), hh - np.abs(y - cy))


def _union(*parts: Margin) -> Margin:
    def margin(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.max(np.stack([p(x, y) for p in parts]), axis=0)

    return margin


def _boxes(*specs: tuple[float, float, float, float]) -> Margin:
    return _union(*[(lambda x, y, s=s: _box(x, y, *s)) for s in specs])


def _circle(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return 1 - np.hypot(x, y)


def _ring(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    rho = np.hypot(x, y)
    return np.minimum(1 - rho, rho - 0.55)


def _crescent(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.minimum(1 - np.hypot(x, y), np.hypot(x - 0.45, y) - 0.8)


def _semicircle(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.minimum(1 - np.hypot(x, y), y + 0.1)


def _ellipse(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return 1 - np.hypot(x, y / 0.45)


def _heart(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    lobes = np.maximum(0.5 - np.hypot(x - 0.42, y - 0.3), 0.5 - np.hypot(x + 0.42, y - 0.3))
    point = np.minimum(0.3 - y, ((y + 0.95) - 1.3 * np.abs(x)) * 0.6)
    return np.maximum(lobes, point)


def _hourglass(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.minimum(np.abs(y) - np.abs(x) * 0.9, 0.9 - np.abs(y))


def _arrow(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    shaft = _box(x, y, -0.35, 0.0, 0.55, 0.18)
    head = np.minimum(x - 0.1, 0.9 - x - np.abs(y) * 1.0)
    head = np.minimum(head, 0.75 - np.abs(y))
    return np.maximum(shaft, head)


SOURCE_SHAPES: dict[str, Margin] = {
    "triangle": _polygon(3),
    "square": _polygon(4),
    "pentagon": _polygon(5),
    "hexagon": _polygon(6),
    "octagon": _polygon(8),
    "star4": _star(4),
    "star5": _star(5),
    "star6": _star(6),
    "star8": _star(8),
    "gear6": _gear(6),
    "gear10": _gear(10),
    "circle": _circle,
    "ring": _ring,
    "crescent": _crescent,
    "semicircle": _semicircle,
    "ellipse": _ellipse,
    "heart": _heart,
    "hourglass": _hourglass,
    "arrow": _arrow,
    "plus": _boxes((0, 0, 0.9, 0.25), (0, 0, 0.25, 0.9)),
    "letter_L": _boxes((-0.55, 0, 0.25, 0.9), (0, -0.65, 0.8, 0.25)),
    "letter_T": _boxes((0, 0.65, 0.9, 0.25), (0, -0.1, 0.25, 0.8)),
    "letter_H": _boxes((-0.6, 0, 0.25, 0.9), (0.6, 0, 0.25, 0.9), (0, 0, 0.6, 0.2)),
    "bar": _boxes((0, 0, 0.95, 0.3)),
}

TARGET_SHAPES: dict[str, Margin] = {
    "trillium": _flower(3),
    "clover": _flower(4),
    "primrose": _flower(5),
    "lily": _flower(6),
    "daisy": _flower(9, depth=0.4),
}

SOURCE_CLASSES: tuple[str, ...] = tuple(SOURCE_SHAPES)
TARGET_CLASSES: tuple[str, ...] = tuple(TARGET_SHAPES)


def _palette_colors(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.uniform(0.0, 1.0, size=(n, 3))


def render(
    shapes: Sequence[Margin],
    labels: np.ndarray,
    rng: np.random.Generator,
    *,
    size: int = IMAGE_SIZE,
    clutter: int = 5,
) -> np.ndarray:
    """Render one image per label; returns uint8 array of shape (N, 3, size, size)."""
    _check_names_or_shapes("shapes", shapes, callable, "shape functions (SOURCE_SHAPES values)")
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    grid = (np.arange(size) + 0.5) / size * 2 - 1
    v, u = np.meshgrid(-grid, grid, indexing="ij")  # v points up, u right

    # Background: a two-colour linear gradient plus pixel noise.
    c0, c1 = _palette_colors(rng, n), _palette_colors(rng, n)
    ang = rng.uniform(0, 2 * np.pi, n)
    t = (np.cos(ang)[:, None, None] * u + np.sin(ang)[:, None, None] * v + 1) / 2
    img = c0[:, :, None, None] * (1 - t[:, None]) + c1[:, :, None, None] * t[:, None]

    pix = size / 2  # pixels per unit
    # Clutter: thin strokes and small dots, smaller than the object of interest.
    for _ in range(clutter):
        col = _palette_colors(rng, n)[:, :, None, None]
        if rng.random() < 0.5:
            p0 = rng.uniform(-1, 1, (n, 2))
            d = rng.normal(size=(n, 2))
            d /= np.linalg.norm(d, axis=1, keepdims=True)
            length = rng.uniform(0.3, 0.9, n)
            du, dv = u[None] - p0[:, 0, None, None], v[None] - p0[:, 1, None, None]
            along = du * d[:, 0, None, None] + dv * d[:, 1, None, None]
            across = np.abs(du * d[:, 1, None, None] - dv * d[:, 0, None, None])
            m = np.minimum(0.06 - across, np.minimum(along, length[:, None, None] - along))
        else:
            p0 = rng.uniform(-1, 1, (n, 2))
            r = rng.uniform(0.06, 0.16, n)
            m = r[:, None, None] - np.hypot(
                u[None] - p0[:, 0, None, None], v[None] - p0[:, 1, None, None]
            )
        alpha = np.clip(m * pix + 0.5, 0, 1)[:, None]
        img = img * (1 - alpha) + col * alpha

    # The object: random scale, aspect, rotation, position; colour far from the background.
    scale = rng.uniform(0.5, 0.78, n)
    aspect = rng.uniform(0.85, 1.15, n)
    rot = rng.uniform(0, 2 * np.pi, n)
    lim = 0.95 - scale
    cx, cy = rng.uniform(-lim, lim), rng.uniform(-lim, lim)
    bg_mean = img.mean(axis=(2, 3))
    col = _palette_colors(rng, n)
    too_close = np.abs(col.mean(1) - bg_mean.mean(1)) < 0.25
    col[too_close] = 1.0 - bg_mean[too_close]
    xs = (u[None] - cx[:, None, None]) / (scale * aspect)[:, None, None]
    ys = (v[None] - cy[:, None, None]) / (scale / aspect)[:, None, None]
    cr, sr = np.cos(rot)[:, None, None], np.sin(rot)[:, None, None]
    xr, yr = cr * xs + sr * ys, -sr * xs + cr * ys
    margin = np.empty((n, size, size))
    for k in np.unique(labels):
        sel = labels == k
        margin[sel] = shapes[k](xr[sel], yr[sel])
    alpha = np.clip(margin * (scale * pix)[:, None, None] + 0.5, 0, 1)[:, None]
    img = img * (1 - alpha) + col[:, :, None, None] * alpha

    img = img + rng.normal(0, 0.04, img.shape)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def _check_names_or_shapes(
    name: str, items: object, ok: Callable[[object], bool], what: str
) -> None:
    if isinstance(items, str) or not isinstance(items, Sequence) or not all(map(ok, items)):
        raise TypeError(f"{name} must be a list of {what}, got {shown(items)}.")


def generate(
    classes: Sequence[str],
    per_class: int,
    seed: int,
    *,
    family: str = "target",
    clutter: int = 5,
    chunk: int = 2048,
) -> tuple[np.ndarray, np.ndarray]:
    """Balanced, shuffled images and labels for ``classes`` of ``family`` ("source"/"target")."""
    _check_names_or_shapes(
        "classes", classes, lambda c: isinstance(c, str), "class names such as TARGET_CLASSES"
    )
    per_class = check_positive_int("per_class", per_class)
    table = {"source": SOURCE_SHAPES, "target": TARGET_SHAPES}.get(family)
    if table is None:
        raise ValueError(f"family must be 'source' or 'target', got {family!r}")
    unknown = [c for c in classes if c not in table]
    if unknown:
        raise ValueError(f"unknown {family} classes {unknown}; choose from {sorted(table)}")
    rng = np.random.default_rng(seed)
    shapes = [table[c] for c in classes]
    labels = np.repeat(np.arange(len(classes)), per_class)
    rng.shuffle(labels)
    parts = [
        render(shapes, labels[i : i + chunk], rng, clutter=clutter)
        for i in range(0, len(labels), chunk)
    ]
    return np.concatenate(parts), labels
