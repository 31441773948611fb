"""Checkers for lesson 6: metrics and their interpretation.

Every expected value is computed here with :mod:`course_utils.metrics`
(scikit-learn underneath) from the inputs the test cell passes, so a hidden
test can use other counts, other scores and other class balances, and an
answer that only memorised the lesson's numbers fails.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from course_utils import metrics
from course_utils.checks._feedback import call_student, check_choice, correct, fail

# The curriculum's worked example, positive class first: TP, FN, FP, TN = 40, 10, 5, 45.
WORKED_EXAMPLE = metrics.ConfusionCounts(tp=40, fp=5, fn=10, tn=45)
METRIC_NAMES = ("accuracy", "precision", "recall", "f1")
# Students may round to three decimals, as the lesson prints them.
TOLERANCE = 1e-3


def _explain_zero_division(exc: Exception) -> tuple[str, str, str] | None:
    if not isinstance(exc, ZeroDivisionError):
        return None
    return (
        "the function to return 0.0 for a ratio whose denominator is zero",
        "check the denominator before dividing; the course's policy for an undefined "
        "ratio is 0.0 (a model that flags nothing has found nothing).",
        "division by zero on an undefined ratio",
    )


def _call(function: Callable, *args: Any, what: str, **kwargs: Any) -> Any:
    """Run the student's function; an exception becomes feedback instead of a bare traceback."""
    return call_student(function, *args, what=what, explain=_explain_zero_division, **kwargs)


def _require_function(function: Any, signature: str) -> None:
    if not callable(function):
        fail(
            f"a function {signature}",
            f"a {type(function).__name__}: {function!r:.60}",
            f"define it with def {signature}: ...",
            "not a function",
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= TOLERANCE


# --- exercise 1: the four metrics from the counts -------------------------------------------


def _diagnose_metric(name: str, got: float, c: metrics.ConfusionCounts) -> tuple[str, str, str]:
    """(what the answer shows, misconception, hint) for one wrong metric."""
    right = metrics.metrics_from_counts(c)
    p, r = right.precision, right.recall
    expected = getattr(right, name)
    if got > 1 and _close(got / 100, expected):
        return (
            f"{name} = {got:g}, a percentage",
            "percent instead of a fraction",
            "return fractions between 0 and 1 (0.85, not 85).",
        )
    if name == "precision" and not _close(p, r) and _close(got, r):
        return (
            f"precision = {got:.3f}, which is the recall TP / (TP + FN)",
            "precision and recall swapped",
            "precision asks: of the samples the model FLAGGED, how many are real? "
            "Its denominator is every predicted positive.",
        )
    if name == "recall" and not _close(p, r) and _close(got, p):
        return (
            f"recall = {got:.3f}, which is the precision TP / (TP + FP)",
            "precision and recall swapped",
            "recall asks: of the REAL positives, how many did the model find? "
            "Its denominator is every actual positive.",
        )
    if name == "accuracy" and _close(got, c.tp / c.total) and not _close(got, expected):
        return (
            f"accuracy = {got:.3f} = TP / total",
            "true negatives not counted as correct",
            "a correct 'no' is as correct as a correct 'yes': count both on the diagonal.",
        )
    if name == "f1" and _close(got, (p + r) / 2) and not _close(got, expected):
        return (
            f"f1 = {got:.3f}, the arithmetic mean (P + R) / 2",
            "F1 taken as the plain average",
            "F1 is the harmonic mean 2PR / (P + R): it stays low when either side is low.",
        )
    if name in ("precision", "f1") and c.tp + c.fp == 0 and not _close(got, 0.0):
        return (
            f"{name} = {got:g} when the model predicts no positive at all",
            "undefined ratio not set to 0.0",
            "with no positive predictions TP + FP = 0; the course's policy is 0.0: "
            "a model that flags nothing has found nothing.",
        )
    if c.tp + c.fn == 0 and name in ("recall", "f1") and not _close(got, 0.0):
        return (
            f"{name} = {got:g} when there is no real positive at all",
            "undefined ratio not set to 0.0",
            "with no actual positives TP + FN = 0; the course's policy is 0.0.",
        )
    return (
        f"{name} = {got:.3f}",
        "wrong formula",
        "write the formula out with TP, FP, FN and TN and compare it with the lesson's.",
    )


def check_compute_metrics(
    compute_metrics: Callable[..., Mapping[str, float]],
    cases: Iterable[metrics.ConfusionCounts | tuple[int, int, int, int]] | None = None,
) -> None:
    """``compute_metrics(tp=, fp=, fn=, tn=)`` must return the four metrics as a dict.

    ``cases`` are :class:`~course_utils.metrics.ConfusionCounts` or ``(tp, fp, fn, tn)``
    tuples; the default is the lesson's worked example. The function is called
    with keywords, so argument order cannot hide a mistake.
    """
    _require_function(compute_metrics, "compute_metrics(tp, fp, fn, tn)")
    for case in cases if cases is not None else [WORKED_EXAMPLE]:
        c = case if isinstance(case, metrics.ConfusionCounts) else metrics.ConfusionCounts(*case)
        got = _call(
            compute_metrics, what=f"compute_metrics for {c}", tp=c.tp, fp=c.fp, fn=c.fn, tn=c.tn
        )
        if not isinstance(got, Mapping):
            fail(
                f"a dict with keys {list(METRIC_NAMES)}",
                f"a {type(got).__name__}: {got!r:.80}",
                "return {'accuracy': ..., 'precision': ..., 'recall': ..., 'f1': ...}.",
                "wrong return type",
            )
        missing = [k for k in METRIC_NAMES if k not in got]
        if missing:
            fail(
                f"a dict with keys {list(METRIC_NAMES)}",
                f"keys {sorted(map(str, got))}: {missing} missing",
                "spell the keys exactly as listed, in lower case.",
                "missing metric",
            )
        right = metrics.metrics_from_counts(c)
        for name in METRIC_NAMES:
            value = got[name]
            if not _is_number(value) or not math.isfinite(float(value)):
                fail(
                    f"{name} as a finite number for {c}",
                    f"{name} = {value!r}",
                    "an undefined ratio (zero denominator) is 0.0 in this course, never NaN "
                    "or None.",
                    "undefined ratio not set to 0.0",
                )
            if not _close(float(value), getattr(right, name)):
                observed, name_of_error, hint = _diagnose_metric(name, float(value), c)
                fail(f"the right {name} for {c}", observed, hint, name_of_error)
    correct(
        "accuracy counts both diagonals, precision divides by the predicted positives, recall "
        "by the real positives, and F1 is their harmonic mean."
    )


# --- exercises 2 and 3: which metric matters ------------------------------------------------


def check_spam_metric(answer: Any) -> None:
    """A spam filter: which metric must be high? (precision)"""
    check_choice(
        answer,
        "B",
        {
            "A": "accuracy is dominated by whichever class is common and says nothing "
            "about which kind of error the filter makes.",
            "C": "recall counts the spam that was caught; a filter can reach recall 1.0 by "
            "binning every email, good ones included.",
            "D": "a balanced F1 treats a lost good email and a missed spam as equally bad, "
            "but here they are not.",
        },
        question="a spam filter that moves emails to the spam folder",
        confirmation="a false positive buries a good email, so when the filter says spam it "
        "must be right: high precision.",
    )


def check_screening_metric(answer: Any) -> None:
    """Cancer screening: which metric must be high? (recall)"""
    check_choice(
        answer,
        "C",
        {
            "A": "accuracy can be high while cancers are missed, because most people "
            "screened are healthy.",
            "B": "precision keeps false alarms rare, but a false alarm only costs a follow-up "
            "test; a missed cancer costs far more.",
            "D": "F1 weighs false alarms and missed cancers alike, and in screening they are "
            "not alike.",
        },
        question="a cancer screening that sends flagged patients for a follow-up test",
        confirmation="a missed cancer (false negative) is the costly error, so screening wants "
        "high recall.",
    )


# --- exercise 4: a threshold that meets a recall target -------------------------------------


def _sweep_at(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> tuple[float, float]:
    at = metrics.threshold_sweep(y_true, scores, [threshold])
    return float(at.precision[0]), float(at.recall[0])


def check_threshold_for_recall(
    threshold_for_recall: Callable[[Any, Any, float], float],
    y_true: Any,
    scores: Any,
    min_recall: float,
) -> None:
    """``threshold_for_recall(y_true, scores, min_recall)`` must reach ``min_recall``, flagging
    no more samples than needed.

    Accepted: any threshold whose recall meets the target and that flags at most one sample
    more than the highest such threshold (so ``>`` versus ``>=`` is forgiven), or that keeps
    the best precision that meets the target (what ``metrics.choose_threshold`` returns).
    """
    _require_function(threshold_for_recall, "threshold_for_recall(y_true, scores, min_recall)")
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=float)
    got = _call(
        threshold_for_recall,
        y_true,
        scores,
        min_recall,
        what=f"threshold_for_recall(..., min_recall={min_recall})",
    )
    if hasattr(got, "item") and getattr(got, "size", 2) == 1:
        got = got.item()  # a 0-d numpy array or a one-element tensor is fine
    if not _is_number(got) or not math.isfinite(float(got)):
        fail(
            "one number: the threshold (predict positive when score >= threshold)",
            f"a {type(got).__name__}: {got!r:.80}",
            "return a single float, not the metrics or the whole sweep.",
            "not a threshold",
        )
    t = float(got)
    # Forgive float32 rounding of a threshold read off float64 scores (or the reverse).
    t_eval = t - 1e-6 * max(1.0, abs(t))
    precision, recall = _sweep_at(y, s, t_eval)
    sweep = metrics.threshold_sweep(y, s)
    feasible = sweep.thresholds[sweep.recall >= min_recall - 1e-12]
    highest = float(feasible.max())
    if recall < min_recall - 1e-12:
        if math.isclose(t, 0.5):
            name, hint = "default threshold kept", "0.5 is only a default; lower it until "
        elif t > 1 >= s.max():
            name, hint = "percent instead of a fraction", "scores lie between 0 and 1, so "
        else:
            name, hint = "threshold too high", "lower the threshold until "
        fail(
            f"a threshold with recall >= {min_recall} on these scores",
            f"threshold {t:.4g} gives recall {recall:.3f}: it misses too many positives",
            hint + "the recall target is met.",
            name,
        )
    flagged = int((s >= t_eval).sum())
    fewest = int((s >= highest).sum())
    best_precision = _sweep_at(y, s, metrics.choose_threshold(y, s, min_recall=min_recall))[0]
    if flagged > fewest + 1 and precision < best_precision - 1e-9:
        if flagged == len(s):
            observed = f"threshold {t:.4g} flags every sample (precision {precision:.3f})"
            name = "flag everything"
        elif math.isclose(t, min_recall):
            observed = f"threshold {t:.4g} is the recall target itself"
            name = "target recall used as the threshold"
        else:
            observed = (
                f"threshold {t:.4g} flags {flagged} samples where {fewest} would meet the "
                f"target; precision drops to {precision:.3f} from {best_precision:.3f}"
            )
            name = "threshold lower than needed"
        fail(
            f"the highest threshold that still reaches recall >= {min_recall}",
            observed,
            "every extra flag costs precision: among the thresholds that meet the target, "
            "keep the highest.",
            name,
        )
    correct(
        f"threshold {t:.4g} reaches recall {recall:.3f} >= {min_recall} with precision "
        f"{precision:.3f}."
    )


# --- exercise 5: the fraud model -------------------------------------------------------------


def check_fraud_verdict(answer: Any) -> None:
    """98% accuracy, 12% recall on fraud: not fit for production (it misses most frauds)."""
    check_choice(
        answer,
        "C",
        {
            "A": "98% accuracy clears the 80% rule of thumb, but the rule also asks for "
            "recall above 75%; here the accuracy comes from the legitimate transactions.",
            "B": "a high precision only says the few flagged transactions are real frauds; "
            "it says nothing about the frauds that were never flagged.",
            "D": "more data may help later, but the question is whether THIS model is fit "
            "now, and its recall already answers that.",
        },
        question="a fraud model with 98% accuracy but 12% recall on fraud",
        confirmation="with recall 0.12 it misses 88% of frauds; the 98% accuracy is the "
        "accuracy paradox at work.",
    )


# --- exercise 6: detect the accuracy paradox ------------------------------------------------


def majority_share(y_true: Any) -> float:
    """Accuracy of always predicting the most frequent label of ``y_true``."""
    _, counts = np.unique(np.asarray(y_true), return_counts=True)
    return float(counts.max() / counts.sum())


def _paradox_expected(y_true: Any, y_pred: Any) -> tuple[bool, float, float]:
    y, p = np.asarray(y_true), np.asarray(y_pred)
    accuracy = float((y == p).mean())
    baseline = majority_share(y)
    return accuracy <= baseline + 1e-12, accuracy, baseline


def check_accuracy_paradox(
    accuracy_paradox: Callable[[Any, Any], bool],
    cases: Iterable[tuple[Any, Any]],
) -> None:
    """``accuracy_paradox(y_true, y_pred)`` is True exactly when the accuracy does not beat
    always predicting the most frequent class of ``y_true``.

    ``cases`` are ``(y_true, y_pred)`` pairs: any labels, any number of classes.
    """
    _require_function(accuracy_paradox, "accuracy_paradox(y_true, y_pred)")
    for y_true, y_pred in cases:
        got = _call(accuracy_paradox, y_true, y_pred, what="accuracy_paradox(y_true, y_pred)")
        if not isinstance(got, bool | np.bool_):
            fail(
                "True or False",
                f"a {type(got).__name__}: {got!r:.80}",
                "return a comparison such as accuracy <= baseline, which is a bool.",
                "not a yes/no answer",
            )
        expected, accuracy, baseline = _paradox_expected(y_true, y_pred)
        if bool(got) == expected:
            continue
        situation = (
            f"accuracy {accuracy:.3f} against {baseline:.3f} for always predicting the most "
            f"frequent class ({len(np.asarray(y_true))} samples)"
        )
        if got:
            name = (
                "a fixed accuracy cut-off"
                if accuracy >= 0.9
                else "paradox called for a model that beats the baseline"
            )
            observed = f"True for {situation}: this model beats the baseline"
        else:
            name = "accuracy judged without the baseline"
            observed = f"False for {situation}: the model is no better than the baseline"
        fail(
            f"{expected} for {situation}",
            observed,
            "compare the accuracy with the share of the most frequent class in y_true, "
            "not with a fixed number; that share is what predicting one class always scores.",
            name,
        )
    correct(
        "an accuracy means something only once it beats always predicting the most "
        "frequent class."
    )


# --- exercises 7 to 9: the other pitfalls ---------------------------------------------------


def check_leakage(answer: Any) -> None:
    """Test rows copied into the training data: every metric is inflated (data leakage)."""
    check_choice(
        answer,
        "D",
        {
            "A": "more training data can help, but these extra rows are the test rows "
            "themselves: the model was graded on questions it had already seen.",
            "B": "overfitting shows up as a gap between training and validation scores; here "
            "the test score itself went up because the test rows were memorised.",
            "C": "the class balance of the test set did not change; the same rows are scored.",
        },
        question="test F1 jumped after test rows were added to the training data",
        confirmation="the model memorised rows it was then tested on: data leakage inflates "
        "every metric. Check with data.find_leakage before you trust a score.",
    )


def check_overfitting(answer: Any) -> None:
    """Train accuracy 1.00, validation far lower: overfitting (a large train/validation gap)."""
    check_choice(
        answer,
        "A",
        {
            "B": "leakage would make the validation score look too good; here it is the "
            "training score that is too good to be true.",
            "C": "a perfect training score is not a sign of a good model; only data it has "
            "not seen can tell that.",
            "D": "the gap grows as the model gets more capacity, which is what overfitting "
            "does; more epochs or depth would make it worse, not better.",
        },
        question="training accuracy 1.00, validation accuracy much lower, and the gap grows "
        "with depth",
        confirmation="the model memorises its training data: judge it on the validation set "
        "and choose the capacity where validation peaks.",
    )


def check_class_balance(answer: Any) -> None:
    """High accuracy and weighted averages, low macro recall: a rare class is neglected."""
    check_choice(
        answer,
        "B",
        {
            "A": "the weighted average follows the class sizes, just like accuracy, so the "
            "large class hides the small one there too.",
            "C": "a macro average is not wrong: it gives every class the same weight, which "
            "is exactly why it exposes the neglected rare class.",
            "D": "accuracy and weighted scores agree because both are dominated by the big "
            "class; agreement is not evidence that every class is served.",
        },
        question="accuracy and weighted recall are high but macro recall is much lower",
        confirmation="read the per-class table: the rare class has low recall, and only the "
        "macro average (every class weighs the same) shows it.",
    )
