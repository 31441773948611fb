"""Figures for the lessons, drawn the same way everywhere (matplotlib only).

Every function takes an optional ``ax`` (a new figure is made without one)
and returns the ``Axes`` it drew on, or the ``Figure`` when it draws several
panels. Titles should state the finding ("Recall drops as the threshold
rises"): pass one as ``title=``; the defaults state what was measured.
Colours come from the Okabe-Ito palette, which stays distinguishable for
the common forms of colour blindness.

Importing this module applies the course style (:func:`use_course_style`):
the Okabe-Ito colours paired with a distinct line style and marker per series,
so that lines also differ without colour, and no text smaller than
``MIN_FONT_SIZE`` points. It holds for every figure a lesson draws, the
scikit-learn displays (``PrecisionRecallDisplay``, ``RocCurveDisplay``,
``ConfusionMatrixDisplay``) included; :func:`course_style` gives the same as a
``with`` block.
"""

from __future__ import annotations

import numbers
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch
from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay

from course_utils import metrics as _metrics
from course_utils._validate import as_array, check_positive_int, shown

__all__ = [
    "HIGHLIGHT",
    "LINE_STYLES",
    "MARKERS",
    "MIN_FONT_SIZE",
    "MUTED",
    "OKABE_ITO",
    "PALETTE",
    "bar_comparison",
    "bar_with_spread",
    "confusion_matrix_heatmap",
    "course_rc",
    "course_style",
    "head_diagram",
    "image_grid",
    "precision_recall_vs_threshold",
    "probability_bars",
    "score_curves",
    "training_curves",
    "use_course_style",
]

# Okabe & Ito (2008), "Color Universal Design".
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
# Order for series: the strongest contrasts first, yellow (weak on white) late.
PALETTE: tuple[str, ...] = tuple(
    OKABE_ITO[k]
    for k in (
        "blue",
        "orange",
        "bluish_green",
        "vermillion",
        "sky_blue",
        "reddish_purple",
        "yellow",
        "black",
    )
)
HIGHLIGHT = OKABE_ITO["vermillion"]
MUTED = "#BBBBBB"
# A single-hue sequential map reads the same with or without colour vision.
SEQUENTIAL_CMAP = "Blues"
# No text below this size (points): readable at 100% zoom.
MIN_FONT_SIZE = 10
# One line style per palette colour, so series differ without colour too. "--" is left
# out because scikit-learn draws its chance level "k--" beside the curves.
LINE_STYLES: tuple[Any, ...] = (
    "-",
    "-.",
    ":",
    (0, (6, 2)),
    (0, (3, 1, 1, 1, 1, 1)),
    (0, (1, 3)),
    (0, (8, 2, 2, 2)),
    (0, (4, 1, 4, 1, 1, 1)),
)
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "*")


def course_rc(min_font_size: int = MIN_FONT_SIZE) -> dict[Any, Any]:
    """The course's matplotlib settings: safe colours, distinct line styles, readable text.

    ``min_font_size`` (points) is the smallest text; titles and labels are a little larger.
    Pass more than ``MIN_FONT_SIZE`` for a projector, never less.
    """
    if isinstance(min_font_size, bool) or not isinstance(min_font_size, numbers.Integral):
        raise TypeError(
            f"min_font_size must be a whole number of points, got {shown(min_font_size)}."
        )
    if min_font_size < MIN_FONT_SIZE:
        raise ValueError(
            f"min_font_size must be at least {MIN_FONT_SIZE} points (readable at 100% zoom), "
            f"got {min_font_size}."
        )
    size = int(min_font_size)
    return {
        "axes.prop_cycle": cycler(color=list(PALETTE))
        + cycler(linestyle=list(LINE_STYLES))
        + cycler(marker=list(MARKERS))
        # Markers spaced along the line, not one per point: a 300-point PR curve stays a line.
        + cycler(markevery=[0.1] * len(PALETTE)),
        "lines.linewidth": 1.8,
        "lines.markersize": 5,
        "font.size": size + 1,
        "axes.titlesize": size + 2,
        "axes.labelsize": size + 1,
        "xtick.labelsize": size,
        "ytick.labelsize": size,
        "legend.fontsize": size,
        "legend.title_fontsize": size,
        "figure.titlesize": size + 2,
        "image.cmap": SEQUENTIAL_CMAP,
    }


def use_course_style(min_font_size: int = MIN_FONT_SIZE) -> None:
    """Apply :func:`course_rc` to every later figure (done once when this module is imported)."""
    mpl.rcParams.update(course_rc(min_font_size))


def course_style(min_font_size: int = MIN_FONT_SIZE) -> Any:
    """The course style for one ``with`` block only: ``with plots.course_style(): ...``."""
    return mpl.rc_context(course_rc(min_font_size))


# --------------------------------------------------------------------------- helpers


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    elif not isinstance(ax, Axes):
        raise TypeError(
            f"ax must be a matplotlib Axes or None, got {type(ax).__name__}: {shown(ax)}. "
            "Pass one from plt.subplots(), or leave it out."
        )
    return ax


def _to_numpy(values: Any, name: str = "values") -> np.ndarray:
    return as_array(name, values)


def _names(class_names: Any, n: int | None = None) -> list[str]:
    if isinstance(class_names, str) or not isinstance(class_names, Sequence):
        raise TypeError(f"class_names must be a list of names, got {class_names!r}.")
    names = [str(c) for c in class_names]
    if n is not None and len(names) != n:
        raise ValueError(
            f"got {len(names)} class_names {names} for {n} classes; give one per class."
        )
    return names


# --------------------------------------------------------------------------- diagrams


def head_diagram(
    layers: Sequence[tuple[str, str]],
    head_index: int = -1,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """A network as boxes from input (left) to output (right), with the head highlighted.

    ``layers`` are ``(name, description)`` pairs, e.g. ``("fc", "Linear 512 -> 5")``.
    """
    if isinstance(layers, str) or not isinstance(layers, Sequence):
        raise TypeError(
            f"layers must be a non-empty list of (name, description), got {shown(layers)}."
        )
    if not layers:
        raise ValueError(f"layers must be a non-empty list of (name, description), got {layers!r}.")
    for item in layers:
        if not (isinstance(item, tuple | list) and len(item) == 2):
            raise ValueError(f"each layer must be a (name, description) pair, got {item!r}.")
    n = len(layers)
    if isinstance(head_index, bool) or not isinstance(head_index, numbers.Integral):
        raise TypeError(f"head_index must be an integer, got {head_index!r}.")
    if not -n <= head_index < n:
        raise ValueError(f"head_index {head_index} is out of range for {n} layers.")
    head = head_index % n

    ax = _axes(ax, (max(6.0, 1.7 * n), 2.6))
    width, gap = 1.3, 0.45
    # Wrap descriptions to the box: its width in points over a character's (about 0.6 em).
    span = n * (width + gap) - gap + 0.4
    box_points = ax.figure.get_figwidth() * ax.get_position().width * 72 * width / span
    fontsize = MIN_FONT_SIZE + 1 if n <= 6 else MIN_FONT_SIZE
    for i, (name, description) in enumerate(layers):
        x = i * (width + gap)
        is_head = i == head
        ax.add_patch(
            FancyBboxPatch(
                (x, 0),
                width,
                1,
                boxstyle="round,pad=0.02,rounding_size=0.08",
                facecolor=HIGHLIGHT if is_head else OKABE_ITO["sky_blue"],
                edgecolor="black",
                linewidth=2 if is_head else 1,
            )
        )
        colour = "white" if is_head else "black"
        ax.text(
            x + width / 2,
            0.62,
            str(name),
            ha="center",
            va="center",
            color=colour,
            fontsize=fontsize,
            fontweight="bold",
        )
        ax.text(
            x + width / 2,
            0.3,
            textwrap.fill(
                str(description), max(6, int(box_points / (0.6 * max(MIN_FONT_SIZE, fontsize - 1))))
            ),
            ha="center",
            va="center",
            color=colour,
            fontsize=max(MIN_FONT_SIZE, fontsize - 1),
            wrap=True,
        )
        if i < n - 1:
            ax.annotate(
                "",
                xy=(x + width + gap, 0.5),
                xytext=(x + width, 0.5),
                arrowprops={"arrowstyle": "->", "color": "black"},
            )
    ax.text(
        head * (width + gap) + width / 2,
        1.12,
        "head",
        ha="center",
        va="bottom",
        color=HIGHLIGHT,
        fontweight="bold",
    )
    if head > 0:
        # A bracket over everything before the head: that part is the backbone.
        end = (head - 1) * (width + gap) + width
        ax.plot(
            [0, 0, end, end],
            [1.08, 1.15, 1.15, 1.08],
            color="black",
            linewidth=1,
            linestyle="-",
            marker="",
        )
        ax.text(end / 2, 1.2, "backbone", ha="center", va="bottom")
    ax.set_xlim(-0.2, n * (width + gap) - gap + 0.2)
    ax.set_ylim(-0.35, 1.5)
    ax.text(0, -0.2, "input", ha="left", va="center", fontsize=MIN_FONT_SIZE)
    ax.text(
        n * (width + gap) - gap, -0.2, "output", ha="right", va="center", fontsize=MIN_FONT_SIZE
    )
    ax.set_axis_off()
    ax.set_title(title or f"The head ({layers[head][0]!s}) turns features into class scores")
    return ax


# --------------------------------------------------------------------------- predictions


def probability_bars(
    probs: Any, class_names: Sequence[str], ax: Axes | None = None, title: str | None = None
) -> Axes:
    """Bar chart of one sample's class probabilities; the predicted class is highlighted."""
    p = _to_numpy(probs, "probs").astype(float)
    if p.ndim == 2 and p.shape[0] == 1:  # a batch of one, as a model returns it
        p = p[0]
    if p.ndim != 1:
        raise ValueError(f"probs must be 1-D (one sample), got shape {p.shape}. Pick one row.")
    names = _names(class_names, len(p))
    if not np.isfinite(p).all() or (p < 0).any() or abs(p.sum() - 1) > 1e-3:
        raise ValueError(
            f"probs must be probabilities (>= 0, summing to 1), got {np.round(p, 3).tolist()} "
            f"(sum {p.sum():.3f}). If these are logits, apply softmax first."
        )
    ax = _axes(ax, (max(4.0, 0.9 * len(p)), 3.0))
    best = int(np.argmax(p))
    colours = [HIGHLIGHT if i == best else PALETTE[0] for i in range(len(p))]
    bars = ax.bar(names, p, color=colours, edgecolor="black", linewidth=0.5)
    ax.bar_label(bars, labels=[f"{v:.2f}" for v in p], padding=2, fontsize=MIN_FONT_SIZE)
    ax.set_ylim(0, 1.1)
    ax.set_xlabel("class")
    ax.set_ylabel("probability")
    ax.set_title(title or f"Predicted: {names[best]} ({p[best]:.0%})")
    return ax


def confusion_matrix_heatmap(
    y_true: Any,
    y_pred: Any,
    class_names: Sequence[str] | None = None,
    normalize: str | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Confusion matrix (rows: true class, columns: predicted) via ConfusionMatrixDisplay.

    ``normalize``: ``None`` (counts), ``"true"`` (rows sum to 1: recall on the
    diagonal), ``"pred"`` (columns sum to 1: precision on the diagonal) or ``"all"``.
    With ``class_names`` the labels are ``0 .. len(class_names) - 1``.
    """
    # Reuse metrics' validation (types, lengths, emptiness, labels vs class_names).
    report = _metrics.per_class_metrics(y_true, y_pred, class_names=class_names)
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"normalize must be None, 'true', 'pred' or 'all', got {normalize!r}.")
    labels = list(range(len(class_names))) if class_names is not None else None
    k = len(report.class_names)
    ax = _axes(ax, (max(3.5, 0.8 * k + 1.5), max(3.0, 0.8 * k + 1.0)))
    ConfusionMatrixDisplay.from_predictions(
        _to_numpy(y_true),
        _to_numpy(y_pred),
        labels=labels,
        display_labels=list(report.class_names) if class_names is not None else None,
        normalize=normalize,
        values_format=".2f" if normalize else "d",
        cmap=SEQUENTIAL_CMAP,
        colorbar=False,
        xticks_rotation=45 if k > 4 else "horizontal",
        ax=ax,
    )
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or f"Confusion matrix (accuracy {report.accuracy:.0%})")
    return ax


# --------------------------------------------------------------------------- training


_METRIC_LABELS = {"loss": "loss", "acc": "accuracy"}


def training_curves(
    history: Any,
    metrics: Sequence[str] = ("loss", "acc"),
    ax: Axes | Sequence[Axes] | None = None,
    title: str | None = None,
) -> Axes | Figure:
    """Train and validation curves per epoch, one panel per metric.

    ``history`` is a list of dicts with keys ``train_<metric>`` / ``val_<metric>``
    (and optionally ``epoch``), or any object with such a list in ``.rows``
    (a ``training.History``). Returns the Axes for one metric, the Figure for several.
    """
    rows = getattr(history, "rows", history)
    if isinstance(rows, Mapping | str) or not isinstance(rows, Sequence):
        raise TypeError(
            "history must be a non-empty list of per-epoch dicts or have .rows, "
            f"got {type(history).__name__}: {shown(history)}."
        )
    if not rows:
        raise ValueError(
            "history must be a non-empty list of per-epoch dicts or have .rows, got no epochs: "
            "train for at least one epoch first."
        )
    if not all(isinstance(r, Mapping) for r in rows):
        raise TypeError("every row of history must be a dict such as {'train_loss': 0.5}.")
    if isinstance(metrics, str):
        metrics = (metrics,)
    if isinstance(ax, Axes):
        axes = [ax]
    elif ax is None:
        fig, made = plt.subplots(
            1, len(metrics), figsize=(4.5 * len(metrics), 3.2), layout="constrained", squeeze=False
        )
        axes = list(made[0])
    else:
        axes = list(ax)
    if len(axes) != len(metrics):
        raise ValueError(
            f"got {len(axes)} Axes for {len(metrics)} metrics {list(metrics)}: pass one Axes "
            "per metric, or metrics=('loss',) with a single Axes."
        )
    keys = sorted({k for r in rows for k in r})
    epochs_all = [r.get("epoch", i + 1) for i, r in enumerate(rows)]
    for metric, axis in zip(metrics, axes, strict=True):
        series = [(s, f"{s}_{metric}") for s in ("train", "val")]
        series = [(s, k) for s, k in series if any(k in r for r in rows)]
        if not series:
            raise ValueError(
                f"no train_{metric} or val_{metric} in history; available keys: {keys}."
            )
        name = _METRIC_LABELS.get(metric, metric)
        last = []
        for (split, key), colour, style in zip(series, PALETTE, ("-", "--"), strict=False):
            pts = [(e, r[key]) for e, r in zip(epochs_all, rows, strict=True) if key in r]
            x, y = zip(*pts, strict=True)
            label = "train" if split == "train" else "validation"
            axis.plot(
                x, y, style, marker="o", markersize=4, markevery=None, color=colour, label=label
            )
            last.append(f"{label} {y[-1]:.3f}")
        axis.set_xlabel("epoch")
        axis.set_ylabel(name)
        axis.legend()
        if title is None or len(axes) > 1:
            axis.set_title(f"Final {name}: " + ", ".join(last))
        else:
            axis.set_title(title)
    if len(axes) == 1:
        return axes[0]
    owner = axes[0].figure
    if title is not None:
        owner.suptitle(title)
    # Axes on a SubFigure: return the Figure that holds it, as documented.
    return owner if isinstance(owner, Figure) else owner.figure


# --------------------------------------------------------------------------- thresholds


def precision_recall_vs_threshold(
    y_true: Any,
    scores: Any,
    ax: Axes | None = None,
    mark_threshold: float | None = None,
    title: str | None = None,
    *,
    positive: Any = 1,
) -> Axes:
    """Precision, recall and F1 against the decision threshold (score >= threshold is positive)."""
    sweep = _metrics.threshold_sweep(y_true, scores, positive=positive)
    ax = _axes(ax, (5.5, 3.5))
    for values, label, colour, style, marker in (
        (sweep.precision, "precision", PALETTE[0], "-", MARKERS[0]),
        (sweep.recall, "recall", PALETTE[1], "--", MARKERS[1]),
        (sweep.f1, "F1", PALETTE[2], ":", MARKERS[2]),
    ):
        ax.plot(
            sweep.thresholds,
            values,
            linestyle=style,
            marker=marker,
            markevery=0.1,
            color=colour,
            label=label,
            drawstyle="steps-post",
        )
    if mark_threshold is not None:
        if isinstance(mark_threshold, bool) or not isinstance(mark_threshold, numbers.Real):
            raise TypeError(f"mark_threshold must be a number, got {mark_threshold!r}.")
        at = _metrics.threshold_sweep(y_true, scores, [mark_threshold], positive=positive)
        ax.axvline(mark_threshold, color="black", linewidth=1, linestyle="-", marker="")
        ax.annotate(
            f"threshold {mark_threshold:.2f}\nprecision {at.precision[0]:.2f}\n"
            f"recall {at.recall[0]:.2f}",
            xy=(mark_threshold, 0.05),
            xytext=(4, 0),
            textcoords="offset points",
            fontsize=MIN_FONT_SIZE,
        )
    ax.set_ylim(-0.02, 1.05)
    ax.set_xlabel("threshold (predict positive when score >= threshold)")
    ax.set_ylabel("metric value")
    ax.legend(loc="lower left")
    ax.set_title(title or "Raising the threshold trades recall for precision")
    return ax


CHANCE_STYLES: tuple[Any, ...] = ("--", (0, (1, 1)), (0, (5, 1, 1, 1)), (0, (2, 4)))


def score_curves(
    tasks: Mapping[str, tuple[Any, Any]],
    axes: Sequence[Axes] | None = None,
    titles: tuple[str, str] | None = None,
) -> Figure:
    """Precision-recall (left) and ROC (right) curves by scikit-learn's displays, in course style.

    ``tasks`` maps a name to ``(y_true, scores)`` with 1 as the positive class. Each
    curve gets its own colour, line style and marker; each precision-recall chance
    level (the prevalence) is drawn in its curve's colour with its own dash pattern,
    and the ROC chance level (the diagonal, the same for all) once.
    """
    if not isinstance(tasks, Mapping) or not tasks:
        raise TypeError(
            f"tasks must be a non-empty dict of name -> (y_true, scores), got {shown(tasks)}."
        )
    if len(tasks) > len(CHANCE_STYLES):
        raise ValueError(
            f"got {len(tasks)} tasks; at most {len(CHANCE_STYLES)} stay readable in one axes."
        )
    if axes is None:
        fig, made = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
        left, right = made
    else:
        left, right = axes
    for i, (name, pair) in enumerate(tasks.items()):
        if not (isinstance(pair, tuple | list) and len(pair) == 2):
            raise ValueError(f"tasks[{name!r}] must be a (y_true, scores) pair, got {shown(pair)}.")
        truth, scores = _to_numpy(pair[0], "y_true"), _to_numpy(pair[1], "scores")
        curve = {
            "color": PALETTE[i],
            "linestyle": LINE_STYLES[i],
            "marker": MARKERS[i],
            "markevery": 0.1,
        }
        chance = {
            "color": PALETTE[i],
            "linestyle": CHANCE_STYLES[i],
            "marker": "",
            "linewidth": 1.2,
        }
        PrecisionRecallDisplay.from_predictions(
            truth,
            scores,
            name=name,
            ax=left,
            curve_kwargs=curve,
            plot_chance_level=True,
            chance_level_kw=chance,
        )
        RocCurveDisplay.from_predictions(
            truth,
            scores,
            name=name,
            ax=right,
            curve_kwargs=curve,
            plot_chance_level=i == 0,
            chance_level_kw={"color": "black", "linestyle": "--", "marker": "", "linewidth": 1.2},
        )
    left.set_title(titles[0] if titles else "Precision-recall curves")
    right.set_title(titles[1] if titles else "ROC curves")
    owner = left.figure
    return owner if isinstance(owner, Figure) else owner.figure


# --------------------------------------------------------------------------- comparisons


def bar_comparison(
    values: Mapping[str, float],
    ax: Axes | None = None,
    title: str | None = None,
    ylabel: str | None = None,
) -> Axes:
    """One bar per named value (e.g. accuracy of three training set-ups), labelled."""
    if not isinstance(values, Mapping):
        raise TypeError(f"values must be a non-empty dict of name -> number, got {shown(values)}.")
    if not values:
        raise ValueError("values must be a non-empty dict of name -> number, got {}.")
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"values[{name!r}] must be a number, got {shown(v)}.")
        if not np.isfinite(v):
            raise ValueError(f"values[{name!r}] must be a finite number, got {v!r}.")
    names = [str(k) for k in values]
    heights = [float(v) for v in values.values()]
    ax = _axes(ax, (max(4.0, 1.3 * len(names)), 3.2))
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(names))]
    bars = ax.bar(names, heights, color=colours, edgecolor="black", linewidth=0.5)
    ax.bar_label(bars, labels=[f"{h:.3f}" for h in heights], padding=2, fontsize=MIN_FONT_SIZE)
    if all(0 <= h <= 1 for h in heights):
        ax.set_ylim(0, 1.1)
    ax.set_ylabel(ylabel or "value")
    best = int(np.argmax(heights))
    ax.set_title(title or f"Highest: {names[best]} ({heights[best]:.3f})")
    return ax


# --------------------------------------------------------------------------- images


def image_grid(
    images: Any,
    labels: Any,
    class_names: Sequence[str],
    n: int = 16,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """The first ``n`` uint8 images (N x C x H x W) tiled in one Axes, each with its class name."""
    x = _to_numpy(images, "images")
    if x.dtype != np.uint8:
        raise TypeError(
            f"images must be uint8 (0-255), got {x.dtype}. Pass the raw ImageSet.images, "
            "not normalised tensors."
        )
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"images must be N x C x H x W with C = 1 or 3, got shape {x.shape}.")
    y = _to_numpy(labels, "labels")
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"labels must be 1-D with one per image ({len(x)}), got shape {y.shape}.")
    names = _names(class_names)
    if y.dtype.kind not in "iu" or (len(y) and (y.min() < 0 or y.max() >= len(names))):
        raise ValueError(
            f"labels must be integers 0..{len(names) - 1} (indices into class_names), "
            f"got {np.unique(y).tolist()[:10]}."
        )
    n = check_positive_int("n", n)
    count = min(int(n), len(x))
    if count == 0:
        raise ValueError("images is empty: nothing to show.")
    cols = int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / cols))
    _, c, h, w = x.shape
    pad, strip = 2, max(8, h // 3)  # strip: room under each tile for its label
    cell_h, cell_w = h + strip + pad, w + pad
    canvas = np.full((rows * cell_h, cols * cell_w, 3), 255, dtype=np.uint8)
    ax = _axes(ax, (1.3 * cols, 1.45 * rows))
    for i in range(count):
        r, q = divmod(i, cols)
        tile = np.repeat(x[i], 3, axis=0) if c == 1 else x[i]
        canvas[r * cell_h : r * cell_h + h, q * cell_w : q * cell_w + w] = tile.transpose(1, 2, 0)
    ax.imshow(canvas, interpolation="nearest")
    for i in range(count):
        r, q = divmod(i, cols)
        ax.text(
            q * cell_w + w / 2,
            r * cell_h + h + strip / 2,
            names[int(y[i])],
            ha="center",
            va="center",
            fontsize=MIN_FONT_SIZE,
        )
    ax.set_axis_off()
    ax.set_title(title or f"{count} of {len(x)} images with their labels")
    return ax


# --------------------------------------------------------------------------- seeds and spread


def bar_with_spread(
    runs: Mapping[str, Sequence[float]],
    ax: Axes | None = None,
    title: str | None = None,
    ylabel: str | None = None,
) -> Axes:
    """One bar per set-up at the mean of its runs (seeds), a min-max error bar, and each run a dot.

    The spread is drawn so that a reader does not take a difference smaller than it for an
    effect of the set-up.
    """
    if not isinstance(runs, Mapping) or not runs:
        raise TypeError(
            f"runs must be a non-empty dict of name -> list of numbers, got {shown(runs)}."
        )
    values = {}
    for name, seq in runs.items():
        arr = np.asarray(list(seq), dtype=float) if not isinstance(seq, str) else np.array([])
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(
                f"runs[{name!r}] must be a non-empty list of numbers, got {shown(seq)}."
            )
        values[name] = arr
    means = {name: float(arr.mean()) for name, arr in values.items()}
    ax = bar_comparison(means, ax=ax, title=title, ylabel=ylabel)
    for i, arr in enumerate(values.values()):
        mean = arr.mean()
        ax.errorbar(
            i,
            mean,
            yerr=[[mean - arr.min()], [arr.max() - mean]],
            fmt="none",
            color="black",
            capsize=5,
            linewidth=1.2,
        )
        ax.plot(
            np.full(arr.size, i + 0.22),
            arr,
            "o",
            color="black",
            markersize=3.5,
            markerfacecolor="white",
            label="one seed" if i == 0 else None,
        )
    ax.legend(loc="lower right", title="bar: mean; line: min-max")
    return ax


use_course_style()
