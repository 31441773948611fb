"""Metrics for judging a classifier, built on scikit-learn.

This module computes; :mod:`course_utils.judging` holds the course's policy
for reading the numbers (``rubric``, ``course_policy``, ``metric_for_use_case``),
re-exported here.

Everything here is a thin, validated layer over ``sklearn.metrics`` with one
policy for undefined values: a ratio whose denominator is zero is **0.0**
(``zero_division=0.0``), and no function ever emits ``UndefinedMetricWarning``.
So a model that never predicts the positive class has precision 0.0 (it found
nothing) rather than a warning or NaN.

Conventions:

* Binary functions take a ``positive`` label (default ``1``); every other label
  is the negative class. At most two distinct labels may appear.
* Confusion matrices have rows = true class and columns = predicted class, as
  in scikit-learn.
* A score at or above a threshold is predicted positive (``score >= threshold``),
  as in :func:`sklearn.metrics.precision_recall_curve`.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    precision_recall_curve,
    precision_recall_fscore_support,
)

from course_utils._validate import as_array, check_fraction

# The judging policy lives in course_utils.judging; lesson 6 (notebook and checks) reads it
# from here as ``metrics.rubric``, ``metrics.course_policy``, ``metrics.MAX_PR_GAP``, beside the
# numbers it judges.
from course_utils.judging import (  # noqa: F401
    BAD_ACCURACY,
    BAD_PRECISION,
    BAD_RECALL,
    GOOD_ACCURACY,
    GOOD_F1,
    GOOD_PRECISION,
    GOOD_RECALL,
    MAX_PR_GAP,
    RubricVerdict,
    UseCaseAdvice,
    course_policy,
    metric_for_use_case,
    rubric,
)

__all__ = [
    "BAD_ACCURACY",
    "BAD_PRECISION",
    "BAD_RECALL",
    "GOOD_ACCURACY",
    "GOOD_F1",
    "GOOD_PRECISION",
    "GOOD_RECALL",
    "MAX_PR_GAP",
    "AverageScores",
    "BinaryMetrics",
    "ClassReport",
    "ConfusionCounts",
    "RubricVerdict",
    "ThresholdSweep",
    "UseCaseAdvice",
    "binary_metrics",
    "choose_threshold",
    "confusion_counts",
    "course_policy",
    "counts_from_matrix",
    "majority_baseline",
    "metric_for_use_case",
    "metrics_from_counts",
    "per_class_metrics",
    "rubric",
    "threshold_sweep",
]

ZERO_DIVISION = 0.0


# --------------------------------------------------------------------------- validation


def _as_1d(name: str, values: Any) -> np.ndarray:
    arr = as_array(name, values, "a 1-D array-like of labels or scores")
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D (one entry per sample), got shape {arr.shape}. "
            "For model outputs, take argmax(axis=1) for labels or one column for scores."
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty: pass at least one sample.")
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise ValueError(f"{name} contains {int(np.isnan(arr).sum())} NaN value(s); remove them.")
    return arr


def _pair(y_true: Any, y_pred: Any, pred_name: str = "y_pred") -> tuple[np.ndarray, np.ndarray]:
    t, p = _as_1d("y_true", y_true), _as_1d(pred_name, y_pred)
    if len(t) != len(p):
        raise ValueError(
            f"y_true has {len(t)} samples but {pred_name} has {len(p)}: "
            "they must describe the same samples in the same order."
        )
    return t, p


def _labels(*arrays: np.ndarray) -> list:
    # sorted() fails on mixed types, which is itself a useful error.
    try:
        return sorted(set().union(*(a.tolist() for a in arrays)))
    except TypeError as err:
        raise TypeError(f"labels mix incomparable types: {err}. Use one label type.") from None


def _binary_masks(
    y_true: Any, y_pred: Any, positive: Any, func: str
) -> tuple[np.ndarray, np.ndarray]:
    """Validate two binary label arrays; return boolean "is positive" masks."""
    t, p = _pair(y_true, y_pred)
    labels = _labels(t, p)
    if len(labels) > 2:
        shown = labels if len(labels) <= 8 else labels[:8] + ["..."]
        hint = (
            " y_pred looks like scores: threshold them first (scores >= 0.5)."
            if p.dtype.kind == "f" and not np.all(p == np.round(p))
            else " Use per_class_metrics for more classes, or map them to positive/negative."
        )
        raise ValueError(
            f"{func} needs binary labels, but y_true and y_pred contain {len(labels)} "
            f"distinct labels {shown}.{hint}"
        )
    positive_kind = np.asarray([positive]).dtype.kind
    label_kind = np.asarray(labels).dtype.kind
    numeric = set("biuf")
    if positive not in labels and (
        len(labels) == 2 or (positive_kind in numeric) != (label_kind in numeric)
    ):
        raise ValueError(
            f"positive={positive!r} is not one of the labels {labels}. "
            "Pass positive= the label of the class you want to find."
        )
    return t == positive, p == positive


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else ZERO_DIVISION


# --------------------------------------------------------------------------- counts


@dataclass(frozen=True)
class ConfusionCounts:
    """The four cells of a binary confusion matrix."""

    tp: int
    fp: int
    fn: int
    tn: int

    def __post_init__(self) -> None:
        for name in ("tp", "fp", "fn", "tn"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{name} must be a whole number of samples, got {value!r}.")
            if value < 0:
                raise ValueError(f"{name} must be >= 0 (it counts samples), got {value}.")
            object.__setattr__(self, name, int(value))

    @property
    def total(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    def __str__(self) -> str:
        return f"TP={self.tp} FP={self.fp} FN={self.fn} TN={self.tn} (total {self.total})"


def confusion_counts(y_true: Any, y_pred: Any, *, positive: Any = 1) -> ConfusionCounts:
    """Count TP, FP, FN and TN for the class ``positive`` (scikit-learn's confusion_matrix).

    >>> print(confusion_counts([1, 0, 1, 1], [1, 0, 0, 1]))
    TP=2 FP=0 FN=1 TN=1 (total 4)
    """
    t, p = _binary_masks(y_true, y_pred, positive, "confusion_counts")
    tn, fp, fn, tp = confusion_matrix(t, p, labels=[False, True]).ravel()
    return ConfusionCounts(tp=int(tp), fp=int(fp), fn=int(fn), tn=int(tn))


def counts_from_matrix(matrix: Any, *, positive_first: bool = True) -> ConfusionCounts:
    """Read a 2x2 confusion matrix (rows = true class, columns = predicted class).

    ``positive_first=True``: row/column 0 is the positive class, as in the
    lesson's worked example ``[[TP, FN], [FP, TN]]``. ``positive_first=False``:
    scikit-learn's order for labels ``[0, 1]``, ``[[TN, FP], [FN, TP]]``.
    """
    m = as_array("matrix", matrix, "a 2x2 confusion matrix (nested list or array)")
    if m.shape != (2, 2):
        raise ValueError(
            f"matrix must be 2x2 (a binary confusion matrix), got shape {m.shape}. "
            "For more classes use per_class_metrics on the labels."
        )
    if m.dtype.kind == "f" and not np.all(np.isfinite(m) & (m == np.round(m))):
        raise ValueError(f"matrix must hold whole counts, got {m.tolist()}.")
    if m.dtype.kind not in "iuf":
        raise TypeError(f"matrix must hold integer counts, got dtype {m.dtype}: {m.tolist()}.")
    if (m < 0).any():
        raise ValueError(f"matrix holds negative counts: {m.tolist()}. Counts must be >= 0.")
    m = m.astype(np.int64)
    if positive_first:
        (tp, fn), (fp, tn) = m
    else:
        (tn, fp), (fn, tp) = m
    return ConfusionCounts(tp=int(tp), fp=int(fp), fn=int(fn), tn=int(tn))


# --------------------------------------------------------------------------- binary metrics


@dataclass(frozen=True)
class BinaryMetrics:
    """Accuracy, precision, recall and F1 of one positive class, with the counts behind them."""

    accuracy: float
    precision: float
    recall: float
    f1: float
    counts: ConfusionCounts

    def as_dict(self) -> dict[str, float]:
        """The four metrics by name (e.g. for a table or ``rubric(**m.as_dict())``)."""
        return {
            "accuracy": self.accuracy,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }

    def __str__(self) -> str:
        c = self.counts
        return (
            f"accuracy={self.accuracy:.3f}  precision={self.precision:.3f}  "
            f"recall={self.recall:.3f}  f1={self.f1:.3f}  "
            f"[TP={c.tp} FP={c.fp} FN={c.fn} TN={c.tn}]"
        )


def metrics_from_counts(counts: ConfusionCounts) -> BinaryMetrics:
    """Accuracy, precision, recall and F1 from confusion counts (0.0 where undefined)."""
    if not isinstance(counts, ConfusionCounts):
        raise TypeError(
            f"counts must be a ConfusionCounts, got {type(counts).__name__}: {counts!r}. "
            "Build one with ConfusionCounts(tp=, fp=, fn=, tn=) or counts_from_matrix(m)."
        )
    c = counts
    if c.total == 0:
        raise ValueError("counts are all zero: there are no samples to measure.")
    return BinaryMetrics(
        accuracy=_ratio(c.tp + c.tn, c.total),
        precision=_ratio(c.tp, c.tp + c.fp),
        recall=_ratio(c.tp, c.tp + c.fn),
        # Same as 2PR/(P+R) whenever that is defined, and 0.0 when it is not.
        f1=_ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn),
        counts=c,
    )


def binary_metrics(y_true: Any, y_pred: Any, *, positive: Any = 1) -> BinaryMetrics:
    """Accuracy, precision, recall and F1 for the class ``positive`` (scikit-learn).

    >>> print(binary_metrics([1, 0, 1, 1], [1, 0, 0, 1]))
    accuracy=0.750  precision=1.000  recall=0.667  f1=0.800  [TP=2 FP=0 FN=1 TN=1]
    """
    t, p = _binary_masks(y_true, y_pred, positive, "binary_metrics")
    precision, recall, f1, _ = precision_recall_fscore_support(
        t, p, average="binary", pos_label=True, zero_division=ZERO_DIVISION
    )
    tn, fp, fn, tp = confusion_matrix(t, p, labels=[False, True]).ravel()
    return BinaryMetrics(
        accuracy=float(accuracy_score(t, p)),
        precision=float(precision),
        recall=float(recall),
        f1=float(f1),
        counts=ConfusionCounts(tp=int(tp), fp=int(fp), fn=int(fn), tn=int(tn)),
    )


def majority_baseline(y_train: Any, y_test: Any, *, positive: Any = 1) -> BinaryMetrics:
    """Metrics of a model that predicts the most frequent training class for every test sample.

    It needs no features and learns nothing, yet on imbalanced data its accuracy
    is high (the accuracy paradox): beat it before you trust a model.
    Ties go to the smallest label (scikit-learn's DummyClassifier).
    """
    train = _as_1d("y_train", y_train)
    test = _as_1d("y_test", y_test)
    _binary_masks(train, train, positive, "majority_baseline")  # validates y_train
    dummy = DummyClassifier(strategy="most_frequent").fit(np.zeros((len(train), 1)), train)
    predictions = dummy.predict(np.zeros((len(test), 1)))
    return binary_metrics(test, predictions, positive=positive)


# --------------------------------------------------------------------------- per class


@dataclass(frozen=True)
class AverageScores:
    """Precision, recall and F1 averaged over classes."""

    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class ClassReport:
    """Per-class precision, recall, F1 and support, with macro and weighted averages.

    Macro averages weigh every class equally, so a neglected rare class drags
    them down; weighted averages follow the class sizes, like accuracy does.
    """

    class_names: tuple[str, ...]
    precision: tuple[float, ...]
    recall: tuple[float, ...]
    f1: tuple[float, ...]
    support: tuple[int, ...]
    macro: AverageScores
    weighted: AverageScores
    accuracy: float

    def row(self, class_name: str) -> dict[str, float]:
        """One class's precision, recall, f1 and support."""
        if class_name not in self.class_names:
            raise ValueError(f"unknown class {class_name!r}; classes are {list(self.class_names)}.")
        i = self.class_names.index(class_name)
        return {
            "precision": self.precision[i],
            "recall": self.recall[i],
            "f1": self.f1[i],
            "support": self.support[i],
        }

    def __str__(self) -> str:
        width = max(12, *(len(n) for n in self.class_names)) + 2
        head = f"{'class':<{width}}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"
        lines = [head]
        for name, p, r, f, s in zip(
            self.class_names, self.precision, self.recall, self.f1, self.support, strict=True
        ):
            lines.append(f"{name:<{width}}{p:>10.3f}{r:>10.3f}{f:>10.3f}{s:>10d}")
        total = sum(self.support)
        lines.append("")
        for name, avg in (("macro avg", self.macro), ("weighted avg", self.weighted)):
            lines.append(
                f"{name:<{width}}{avg.precision:>10.3f}{avg.recall:>10.3f}"
                f"{avg.f1:>10.3f}{total:>10d}"
            )
        lines.append(f"{'accuracy':<{width}}{'':>20}{self.accuracy:>10.3f}{total:>10d}")
        return "\n".join(lines)


def per_class_metrics(
    y_true: Any, y_pred: Any, *, class_names: Sequence[str] | None = None
) -> ClassReport:
    """Precision, recall and F1 for every class (scikit-learn, 0.0 where undefined).

    Without ``class_names`` the classes are the labels that occur, sorted. With
    ``class_names`` the labels must be integers ``0 .. len(class_names) - 1``;
    classes absent from both arrays still get a row (support 0).
    """
    t, p = _pair(y_true, y_pred)
    present = _labels(t, p)
    if class_names is None:
        labels = present
        names = tuple(str(label) for label in labels)
    else:
        if isinstance(class_names, str):
            raise TypeError(f"class_names must be a list of names, got the string {class_names!r}.")
        names = tuple(str(n) for n in class_names)
        labels = list(range(len(names)))
        stray = [v for v in present if not (isinstance(v, numbers.Real) and v in labels)]
        if stray:
            raise ValueError(
                f"with {len(names)} class_names the labels must be integers 0..{len(names) - 1}, "
                f"but the data contains {stray}. Pass matching class_names or none."
            )
    kw = {"labels": labels, "zero_division": ZERO_DIVISION}
    precision, recall, f1, support = precision_recall_fscore_support(t, p, average=None, **kw)
    averages = {
        avg: AverageScores(
            *map(float, precision_recall_fscore_support(t, p, average=avg, **kw)[:3])
        )
        for avg in ("macro", "weighted")
    }
    return ClassReport(
        class_names=names,
        precision=tuple(float(v) for v in precision),
        recall=tuple(float(v) for v in recall),
        f1=tuple(float(v) for v in f1),
        support=tuple(int(v) for v in support),
        macro=averages["macro"],
        weighted=averages["weighted"],
        accuracy=float(accuracy_score(t, p)),
    )


# --------------------------------------------------------------------------- thresholds


@dataclass(frozen=True, eq=False)  # arrays have no single truth value for ==
class ThresholdSweep:
    """Precision, recall and F1 at each threshold (predict positive when score >= threshold)."""

    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray

    def __len__(self) -> int:
        return len(self.thresholds)

    def __str__(self) -> str:
        # Long sweeps print a dozen evenly spaced rows: enough to see the trade-off.
        rows = np.unique(np.linspace(0, len(self) - 1, min(len(self), 12)).round().astype(int))
        lines = [f"{'threshold':>10}{'precision':>11}{'recall':>9}{'f1':>8}"]
        for i in rows:
            lines.append(
                f"{self.thresholds[i]:>10.3f}{self.precision[i]:>11.3f}"
                f"{self.recall[i]:>9.3f}{self.f1[i]:>8.3f}"
            )
        if len(rows) < len(self):
            lines.append(f"({len(rows)} of {len(self)} thresholds shown)")
        return "\n".join(lines)


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=float)
    a.setflags(write=False)
    return a


def _scores(y_true: Any, scores: Any, positive: Any) -> tuple[np.ndarray, np.ndarray]:
    t, s = _pair(y_true, scores, "scores")
    if s.dtype.kind not in "biuf":
        raise TypeError(f"scores must be numbers (e.g. probabilities), got dtype {s.dtype}.")
    if not np.isfinite(s).all():
        raise ValueError(f"scores contain {int((~np.isfinite(s)).sum())} infinite value(s).")
    mask, _ = _binary_masks(t, t, positive, "threshold_sweep")
    if not mask.any():
        raise ValueError(
            f"y_true contains no positive samples (positive={positive!r}): recall is "
            "undefined at every threshold. Use a test set that includes positives."
        )
    return mask, s.astype(float)


def threshold_sweep(
    y_true: Any, scores: Any, thresholds: Any = None, *, positive: Any = 1
) -> ThresholdSweep:
    """Precision, recall and F1 as the decision threshold moves (scikit-learn).

    ``scores`` are the positive class's scores or probabilities. Without
    ``thresholds`` every distinct score is used, in increasing order. Above the
    highest score nothing is predicted positive: precision, recall and F1 are 0.0.
    """
    mask, s = _scores(y_true, scores, positive)
    precision, recall, grid = precision_recall_curve(mask, s, drop_intermediate=False)
    # precision_recall_curve appends (precision 1, recall 0) for "predict nothing";
    # our zero_division policy makes that precision 0.0.
    precision, recall = precision[:-1], recall[:-1]
    if thresholds is None:
        th = grid
    else:
        th = _as_1d("thresholds", thresholds).astype(float)
        if not np.isfinite(th).all():
            raise ValueError(f"thresholds must be finite numbers, got {th.tolist()}.")
        # Predictions at threshold t equal those at the smallest score >= t.
        idx = np.searchsorted(grid, th, side="left")
        above = idx >= len(grid)
        idx = np.minimum(idx, len(grid) - 1)
        precision = np.where(above, ZERO_DIVISION, precision[idx])
        recall = np.where(above, 0.0, recall[idx])
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    return ThresholdSweep(_readonly(th), _readonly(precision), _readonly(recall), _readonly(f1))


def choose_threshold(
    y_true: Any,
    scores: Any,
    *,
    min_recall: float | None = None,
    min_precision: float | None = None,
    positive: Any = 1,
) -> float:
    """The course's one threshold rule: meet the target while flagging as few cases as needed.

    Predict positive when ``score >= threshold``; the candidates are the distinct
    scores. With ``min_recall``: the **highest** threshold whose recall reaches
    ``min_recall`` (recall only grows as the threshold drops, so any lower one
    flags more cases for no recall the target asks for). With ``min_precision``:
    the threshold with the best recall whose precision reaches ``min_precision``
    (ties go to the higher threshold, which flags fewer). Give exactly one.
    """
    sweep = threshold_sweep(y_true, scores, positive=positive)  # checks y_true, scores first
    if (min_recall is None) == (min_precision is None):
        raise ValueError(
            "give exactly one constraint: min_recall=... or min_precision=..., "
            f"got min_recall={min_recall!r}, min_precision={min_precision!r}."
        )
    if min_recall is not None:
        floor, name = check_fraction("min_recall", min_recall), "recall"
        kept = sweep.recall
    else:
        floor, name = check_fraction("min_precision", min_precision), "precision"
        kept = sweep.precision
    ok = kept >= floor - 1e-12  # forgive float rounding of an exactly met floor
    if not ok.any():
        best = int(np.argmax(kept))
        raise ValueError(
            f"no threshold reaches {name} >= {floor:.3f}; the best achievable is {name} "
            f"{kept[best]:.3f} at threshold {sweep.thresholds[best]:.3f}. "
            f"Lower min_{name} or improve the model."
        )
    candidates = np.flatnonzero(ok)
    if min_recall is not None:
        return float(sweep.thresholds[candidates].max())
    # Best recall; among equals, the highest threshold.
    best = candidates[np.lexsort((sweep.thresholds[candidates], sweep.recall[candidates]))[-1]]
    return float(sweep.thresholds[best])
