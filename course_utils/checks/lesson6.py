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
from course_utils.checks._feedback import (
    Choice,
    Misconception,
    choice_grader,
    correct,
    fail,
    record_choice,
    registry,
)
from course_utils.checks._toolkit import (
    call_student,
    library_explainer,
    switched_off,
    to_numpy,
)

S1 = "1. The confusion matrix and four metrics"
S2 = "2. Which metric matters depends on the cost of each error"
S3 = "3. Real screening data: moving the decision threshold"
S4 = "4. A rule of thumb for reading the numbers"
S51 = "5.1 The accuracy paradox"
EX = "the exercise's instructions"

MISCONCEPTIONS = registry(
    "lesson6",
    Misconception("percent_not_fraction", "percent instead of a fraction", S1),
    Misconception("precision_recall_swapped", "precision and recall swapped", S1),
    Misconception("tn_not_counted", "true negatives not counted as correct", S1),
    Misconception("f1_plain_average", "F1 taken as the plain average", S1),
    Misconception("undefined_ratio", "undefined ratio not set to 0.0", S1),
    Misconception("division_by_zero", "division by zero on an undefined ratio", S1),
    Misconception("wrong_formula", "a formula that is not the lesson's", S1),
    Misconception("not_a_dict", "a dict of four metrics expected", EX),
    Misconception("missing_metric", "a metric missing from the dict", EX),
    Misconception("not_a_function", "a function expected", EX),
    Misconception("accuracy_for_errors", "accuracy chosen where one kind of error matters", S2),
    Misconception("recall_for_spam", "recall chosen where false alarms are the costly error", S2),
    Misconception(
        "precision_for_screening", "precision chosen where missed cases are the costly error", S2
    ),
    Misconception("f1_for_unequal_costs", "F1 chosen although the two errors cost differently", S2),
    Misconception("default_threshold_kept", "default threshold kept", S3),
    Misconception("threshold_too_high", "threshold too high for the recall target", S3),
    Misconception("threshold_lower_than_needed", "threshold lower than needed", S3),
    Misconception("flag_everything", "flag everything", S3),
    Misconception("target_as_threshold", "target recall used as the threshold", S3),
    Misconception("strict_greater", "strict > used where the rule flags score >= threshold", S3),
    Misconception(
        "best_precision_not_highest", "best precision kept instead of the highest threshold", S3
    ),
    Misconception("lowest_positive_score", "lowest positive score taken (recall 1.0)", S3),
    Misconception("not_a_threshold", "one number (the threshold) expected", EX),
    Misconception("accuracy_alone", "accuracy judged alone (the accuracy paradox)", S4),
    Misconception("precision_covers_misses", "precision taken to cover the missed cases", S4),
    Misconception("verdict_postponed", "a verdict postponed although the numbers decide it", S4),
    Misconception("fixed_cutoff", "a fixed accuracy cut-off instead of the baseline", S51),
    Misconception(
        "paradox_for_better_model", "paradox called for a model that beats the baseline", S51
    ),
    Misconception("baseline_ignored", "accuracy judged without the baseline", S51),
    Misconception(
        "baseline_from_predictions", "the baseline taken from the predictions, not y_true", S51
    ),
    Misconception(
        "tie_counted_as_better", "a tie with the baseline counted as beating it (strict <)", S51
    ),
    Misconception("binary_labels_assumed", "a baseline that assumes 0/1 labels", S51),
    Misconception("not_a_bool", "True or False expected", EX),
    Misconception(
        "more_data_better",
        "leaked test rows taken for useful extra data",
        "5.2 More training data, taken from the test set",
    ),
    Misconception(
        "leakage_as_overfitting",
        "leakage mistaken for overfitting",
        "5.2 More training data, taken from the test set",
    ),
    Misconception(
        "leakage_as_balance",
        "leakage mistaken for a class-balance change",
        "5.2 More training data, taken from the test set",
    ),
    Misconception(
        "overfitting_as_leakage", "overfitting mistaken for leakage", "5.3 Deeper and deeper trees"
    ),
    Misconception(
        "perfect_train_score",
        "a perfect training score taken as proof",
        "5.3 Deeper and deeper trees",
    ),
    Misconception(
        "overfitting_as_underfitting",
        "overfitting mistaken for underfitting",
        "5.3 Deeper and deeper trees",
    ),
    Misconception(
        "weighted_is_fair",
        "the weighted average taken as the fair one",
        "5.4 Averages over classes of different sizes",
    ),
    Misconception(
        "macro_miscalculated",
        "the macro average taken for a miscalculation",
        "5.4 Averages over classes of different sizes",
    ),
    Misconception(
        "agreement_as_evidence",
        "agreement of accuracy and weighted scores taken as evidence",
        "5.4 Averages over classes of different sizes",
    ),
)
M = MISCONCEPTIONS
# The hidden tests score multiple choice: checks.grade_choice(answer, checks.Q1, right, A=..., ...).
grade_choice = choice_grader(MISCONCEPTIONS)

# The curriculum's worked example, positive class first: TP, FN, FP, TN = 40, 10, 5, 45.
WORKED_EXAMPLE = metrics.ConfusionCounts(tp=40, fp=5, fn=10, tn=45)
METRIC_NAMES = ("accuracy", "precision", "recall", "f1")
# Students may round to three decimals, as the lesson prints them.
TOLERANCE = 1e-3


def _explain_zero_division(exc: Exception) -> tuple[str, str, Misconception] | None:
    if not isinstance(exc, ZeroDivisionError):
        return None
    return (
        "the function to return 0.0 for a ratio whose denominator is zero",
        "check the denominator before dividing; the course's policy for an undefined "
        "ratio is 0.0 (a model that flags nothing has found nothing).",
        M["division_by_zero"],
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
            M["not_a_function"],
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= TOLERANCE


# --- exercise 1: the four metrics from the counts -------------------------------------------


def _diagnose_metric(
    name: str, got: float, c: metrics.ConfusionCounts
) -> tuple[str, Misconception, str]:
    """(what the answer shows, misconception, hint) for one wrong metric."""
    right = metrics.metrics_from_counts(c)
    p, r = right.precision, right.recall
    expected = getattr(right, name)
    if got > 1 and _close(got / 100, expected):
        return (
            f"{name} = {got:g}, a percentage",
            M["percent_not_fraction"],
            "return fractions between 0 and 1 (0.85, not 85).",
        )
    if name == "precision" and not _close(p, r) and _close(got, r):
        return (
            f"precision = {got:.3f}, which is the recall TP / (TP + FN)",
            M["precision_recall_swapped"],
            "precision asks: of the samples the model FLAGGED, how many are real? "
            "Its denominator is every predicted positive.",
        )
    if name == "recall" and not _close(p, r) and _close(got, p):
        return (
            f"recall = {got:.3f}, which is the precision TP / (TP + FP)",
            M["precision_recall_swapped"],
            "recall asks: of the REAL positives, how many did the model find? "
            "Its denominator is every actual positive.",
        )
    if name == "accuracy" and _close(got, c.tp / c.total) and not _close(got, expected):
        return (
            f"accuracy = {got:.3f} = TP / total",
            M["tn_not_counted"],
            "a correct 'no' is as correct as a correct 'yes': count both on the diagonal.",
        )
    if name == "f1" and _close(got, (p + r) / 2) and not _close(got, expected):
        return (
            f"f1 = {got:.3f}, the arithmetic mean (P + R) / 2",
            M["f1_plain_average"],
            "F1 is the harmonic mean 2PR / (P + R): it stays low when either side is low.",
        )
    if name in ("precision", "f1") and c.tp + c.fp == 0 and not _close(got, 0.0):
        return (
            f"{name} = {got:g} when the model predicts no positive at all",
            M["undefined_ratio"],
            "with no positive predictions TP + FP = 0; the course's policy is 0.0: "
            "a model that flags nothing has found nothing.",
        )
    if c.tp + c.fn == 0 and name in ("recall", "f1") and not _close(got, 0.0):
        return (
            f"{name} = {got:g} when there is no real positive at all",
            M["undefined_ratio"],
            "with no actual positives TP + FN = 0; the course's policy is 0.0.",
        )
    return (
        f"{name} = {got:.3f}",
        M["wrong_formula"],
        "write the formula out with TP, FP, FN and TN and compare it with the lesson's.",
    )


# The visible check: the worked example, and a model that never predicts positive (undefined
# precision), so that a division by zero shows before submission.
VISIBLE_COUNTS = [WORKED_EXAMPLE, metrics.ConfusionCounts(tp=0, fp=0, fn=12, tn=88)]


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
    cases = list(cases) if cases is not None else VISIBLE_COUNTS
    for case in cases:
        c = case if isinstance(case, metrics.ConfusionCounts) else metrics.ConfusionCounts(*case)
        got = _call(
            compute_metrics, what=f"compute_metrics for {c}", tp=c.tp, fp=c.fp, fn=c.fn, tn=c.tn
        )
        if not isinstance(got, Mapping):
            fail(
                f"a dict with keys {list(METRIC_NAMES)}",
                f"a {type(got).__name__}: {got!r:.80}",
                "return {'accuracy': ..., 'precision': ..., 'recall': ..., 'f1': ...}.",
                M["not_a_dict"],
            )
        missing = [k for k in METRIC_NAMES if k not in got]
        if missing:
            fail(
                f"a dict with keys {list(METRIC_NAMES)}",
                f"keys {sorted(map(str, got))}: {missing} missing",
                "spell the keys exactly as listed, in lower case.",
                M["missing_metric"],
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
                    M["undefined_ratio"],
                )
            if not _close(float(value), getattr(right, name)):
                observed, name_of_error, hint = _diagnose_metric(name, float(value), c)
                fail(f"the right {name} for {c}", observed, hint, name_of_error)
    shown = "; ".join(
        str(c if isinstance(c, metrics.ConfusionCounts) else metrics.ConfusionCounts(*c))
        for c in cases
    )
    correct(
        "accuracy counts both diagonals, precision divides by the predicted positives, recall "
        f"by the real positives, and F1 is their harmonic mean; checked on {shown}."
    )


# --- exercises 2 and 3: which metric matters ------------------------------------------------


Q1 = Choice(
    question="a spam filter that moves emails to the spam folder",
    options={
        "A": "Accuracy mixes both kinds of error and is dominated by the common class.",
        "B": "Precision is the share of flagged emails that are spam.",
        "C": "Recall is the share of spam that was caught; flagging every email gives recall 1.0.",
        "D": "F1 weighs a lost good email and a missed spam equally.",
    },
)


def check_spam_metric(answer: object) -> None:
    """A spam filter: which metric must be high? (precision)

    Visible check: records the letter; the hidden test scores it.
    """
    record_choice(answer, Q1)


Q2 = Choice(
    question="a cancer screening that sends flagged patients for a follow-up test",
    options={
        "A": (
            "Accuracy can stay high while cancers are missed, because most people screened are "
            "healthy."
        ),
        "B": (
            "Precision counts false alarms among the flags; a false alarm here costs a follow-up "
            "test."
        ),
        "C": "Recall is the share of cancers found; a missed cancer goes untreated.",
        "D": "F1 weighs a false alarm and a missed cancer equally.",
    },
)


def check_screening_metric(answer: object) -> None:
    """Cancer screening: which metric must be high? (recall)

    Visible check: records the letter; the hidden test scores it.
    """
    record_choice(answer, Q2)


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
    """``threshold_for_recall(y_true, scores, min_recall)`` must follow the lesson's one rule.

    The rule (lesson 6 section 3, also ``metrics.choose_threshold``): predict positive when
    ``score >= threshold``; among the thresholds whose recall reaches ``min_recall``, take
    the highest. Accepted: any threshold that flags exactly the cases that one flags.
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
            M["not_a_threshold"],
        )
    t = float(got)
    # Forgive float32 rounding of a threshold read off float64 scores (or the reverse).
    t_eval = t - 1e-6 * max(1.0, abs(t))
    precision, recall = _sweep_at(y, s, t_eval)
    highest = metrics.choose_threshold(y, s, min_recall=min_recall)
    if recall < min_recall - 1e-12:
        if math.isclose(t, 0.5):
            name, hint = M["default_threshold_kept"], "0.5 is only a default; lower it until "
        elif t > 1 >= s.max():
            name, hint = M["percent_not_fraction"], "scores lie between 0 and 1, so "
        else:
            name, hint = M["threshold_too_high"], "lower the threshold until "
        fail(
            f"a threshold with recall >= {min_recall} on these scores",
            f"threshold {t:.4g} gives recall {recall:.3f}: it misses too many positives",
            hint + "the recall target is met.",
            name,
        )
    flagged = int((s >= t_eval).sum())
    fewest = int((s >= highest).sum())
    if flagged > fewest:
        below = np.unique(s[s < highest])
        best_precision = metrics.threshold_sweep(y, s)
        feasible = best_precision.recall >= min_recall - 1e-12
        by_precision = float(
            best_precision.thresholds[feasible][np.argmax(best_precision.precision[feasible])]
        )
        observed = (
            f"threshold {t:.4g} flags {flagged} samples where {fewest} meet the target; "
            f"precision {precision:.3f}"
        )
        if flagged == len(s):
            observed = f"threshold {t:.4g} flags every sample (precision {precision:.3f})"
            name = M["flag_everything"]
        elif math.isclose(t, min_recall):
            observed = f"threshold {t:.4g} is the recall target itself"
            name = M["target_as_threshold"]
        elif math.isclose(t, 0.5):
            observed = (
                f"the default 0.5 meets the target but flags {flagged} samples where {fewest} would"
            )
            name = M["default_threshold_kept"]
        elif (
            len(below)
            and math.isclose(t, below.max())
            and flagged == fewest + int((s == below.max()).sum())
        ):
            observed += f": with score > {t:.4g} it flags {fewest}, but the rule flags score >= t"
            name = M["strict_greater"]
        elif math.isclose(t, by_precision):
            observed += ", the best precision, but not the highest threshold"
            name = M["best_precision_not_highest"]
        elif (y == 1).any() and math.isclose(t, float(s[y == 1].min())):
            observed = f"threshold {t:.4g} is the lowest positive score (recall {recall:.3f})"
            name = M["lowest_positive_score"]
        else:
            name = M["threshold_lower_than_needed"]
        fail(
            f"the highest threshold whose recall reaches {min_recall} (predicting positive "
            "when score >= threshold)",
            observed,
            "the rule (section 3): among the thresholds that meet the recall target, take the "
            "highest; it flags the fewest cases.",
            name,
        )
    correct(
        f"threshold {t:.4g} reaches recall {recall:.3f} >= {min_recall} with precision "
        f"{precision:.3f}, flagging {flagged} samples (the fewest that meet the target)."
    )


# --- exercise 5: the fraud model -------------------------------------------------------------


Q3 = Choice(
    question="a fraud model with 98% accuracy but 12% recall on fraud",
    options={
        "A": (
            "The rule of thumb asks for recall above 75% as well; always answering 'legitimate' also "
            "scores 0.98."
        ),
        "B": (
            "Precision describes the flagged transactions only; the frauds never flagged do not enter"
            " it."
        ),
        "C": (
            "The question is whether this model, as measured, is fit now; its recall is already "
            "measured."
        ),
        "D": (
            "Recall 0.12 means 88 of every 100 frauds go unflagged; the 0.98 is the baseline's "
            "accuracy."
        ),
    },
)


def check_fraud_verdict(answer: object) -> None:
    """98% accuracy, 12% recall on fraud: not fit for production (it misses most frauds).

    Visible check: records the letter; the hidden test scores it.
    """
    record_choice(answer, Q3)


# --- exercise 6: apply the rule of thumb ----------------------------------------------------

MISCONCEPTIONS.update(
    registry(
        "lesson6",
        Misconception(
            "balance_rule_added",
            "a precision-recall balance rule added to the rule of thumb, against the use",
            S4,
        ),
        Misconception("bad_sign_missed", "a single bad sign not read as bad", S4),
        Misconception("not_good_is_bad", "everything short of good called bad", S4),
        Misconception(
            "good_without_all_cutoffs", "good given although a metric is not above its cut-off", S4
        ),
        Misconception("percent_cutoffs", "cut-offs in percent while the metrics are fractions", S4),
        Misconception("cutoff_misread", "a cut-off of the rule of thumb misread", S4),
        Misconception("not_a_label", "one of 'good', 'bad' or 'mixed' expected", EX),
        Misconception(
            "library_not_rule",
            "the library's metrics.rubric called instead of the rule written out",
            S4,
        ),
    )
)

LABELS = ("good", "bad", "mixed")


_explain_library = library_explainer(
    "the rule of thumb written out: the bad signs, then the good cut-offs, else mixed",
    "compare accuracy, precision and recall with the cut-offs of section 4 yourself; "
    "metrics.rubric (and course_policy, which calls it) is switched off while your "
    "function is checked.",
    M["library_not_rule"],
    otherwise=_explain_zero_division,
)


def _triple(measured: Any) -> tuple[float, float, float]:
    """(accuracy, precision, recall) of a BinaryMetrics, a mapping or a 3-tuple."""
    if isinstance(measured, metrics.BinaryMetrics):
        return float(measured.accuracy), float(measured.precision), float(measured.recall)
    if isinstance(measured, Mapping):
        return (
            float(measured["accuracy"]),
            float(measured["precision"]),
            float(measured["recall"]),
        )
    accuracy, precision, recall = measured
    return float(accuracy), float(precision), float(recall)


def _diagnose_label(
    a: float, p: float, r: float, expected: str, got: str
) -> tuple[str, Misconception]:
    """(what the answer shows, misconception) for a wrong label."""
    gap = abs(p - r)
    if expected == "bad" and got == "good":
        if a > metrics.GOOD_ACCURACY:
            return (
                f"'good' for accuracy {a:.3f} although recall is {r:.3f} and precision "
                f"{p:.3f}: the accuracy alone decided",
                M["accuracy_alone"],
            )
        return "'good' although a metric is far below its cut-off", M["good_without_all_cutoffs"]
    if expected == "bad":
        sign = metrics.rubric(a, p, r).reasons[0].split(":")[0]
        return (
            f"'{got}' although {sign}: one bad sign is enough for 'bad', whatever the "
            "other numbers",
            M["bad_sign_missed"],
        )
    if expected == "good" and got == "mixed" and gap > metrics.MAX_PR_GAP:
        return (
            f"'mixed' because precision {p:.3f} and recall {r:.3f} are {gap:.3f} apart; the "
            "rule of thumb has no gap rule: for a spam filter the high precision is the "
            "side that matters, and this model is good for its use",
            M["balance_rule_added"],
        )
    if expected == "good" and got == "bad":
        return (
            f"'bad' for accuracy {a:.3f}, precision {p:.3f}, recall {r:.3f}, all above "
            "their cut-offs (are your cut-offs 80 and 75 instead of 0.80 and 0.75?)",
            M["percent_cutoffs"],
        )
    if expected == "mixed" and got == "bad":
        return (
            f"'bad' for accuracy {a:.3f}, precision {p:.3f}, recall {r:.3f}: short of good, "
            "but no bad sign",
            M["not_good_is_bad"],
        )
    if expected == "mixed" and got == "good":
        return (
            f"'good' although not every one of accuracy {a:.3f}, precision {p:.3f} and "
            f"recall {r:.3f} is above its cut-off",
            M["good_without_all_cutoffs"],
        )
    return f"'{got}'", M["cutoff_misread"]


def check_rule_of_thumb(
    rule_of_thumb: Callable[..., str],
    cases: Mapping[str, Any],
) -> None:
    """``rule_of_thumb(accuracy=, precision=, recall=)`` returns the curriculum's label.

    ``cases`` maps a name to a :class:`~course_utils.metrics.BinaryMetrics`, a mapping
    or an ``(accuracy, precision, recall)`` tuple; the expected label is
    :func:`course_utils.metrics.rubric`'s. The function is called with keywords, while
    ``rubric`` is switched off (``switched_off``: under any name, and inside
    ``course_policy``), so that an answer that only calls the library is named as such.
    """
    _require_function(rule_of_thumb, "rule_of_thumb(accuracy, precision, recall)")
    for name, measured in cases.items():
        a, p, r = _triple(measured)
        expected = metrics.rubric(a, p, r).label
        situation = f"{name} (accuracy {a:.3f}, precision {p:.3f}, recall {r:.3f})"
        with switched_off(metrics.rubric):
            got = call_student(
                rule_of_thumb,
                what=f"rule_of_thumb for the {name}",
                explain=_explain_library,
                accuracy=a,
                precision=p,
                recall=r,
            )
        if isinstance(got, metrics.RubricVerdict):
            fail(
                f"the label '{expected}' as a string for the {situation}",
                f"a RubricVerdict: {got}",
                "return only the label: the verdict's .label, a plain string.",
                M["not_a_label"],
            )
        label = str.__str__(got).strip().lower() if isinstance(got, str) else None
        if label not in LABELS:
            fail(
                f"one of {LABELS} for the {situation}",
                f"{got!r:.80}",
                "return the label as a string: 'good', 'bad' or 'mixed'.",
                M["not_a_label"],
            )
        if label == expected:
            continue
        observed, name_of_error = _diagnose_label(a, p, r, expected, label)
        fail(
            f"'{expected}' for the {situation}",
            observed,
            "check the bad signs first (any one is enough), then ask whether all three "
            "metrics are above their good cut-offs; anything else is mixed.",
            name_of_error,
        )
    correct(
        "bad wins, good needs accuracy, precision and recall all above their cut-offs, and the "
        f"rest is mixed; checked on: {', '.join(cases)}."
    )


# --- exercise 7: detect the accuracy paradox ------------------------------------------------


def majority_share(y_true: Any) -> float:
    """Accuracy of always predicting the most frequent label of ``y_true``."""
    _, counts = np.unique(np.asarray(y_true), return_counts=True)
    return float(counts.max() / counts.sum())


def _paradox_expected(y_true: Any, y_pred: Any) -> tuple[bool, float, float]:
    y, p = np.asarray(y_true), np.asarray(y_pred)
    accuracy = float((y == p).mean())
    baseline = majority_share(y)
    return accuracy <= baseline + 1e-12, accuracy, baseline


# Two probes with accuracy 0.7 where the majority share of y_true and of y_pred swap
# places: a baseline read from the predictions answers (False, True) instead of (True, False).
_PRED_PROBES = (
    ([0] * 8 + [1] * 2, [0] * 5 + [1] * 5),
    ([0] * 5 + [1] * 5, [0] * 8 + [1] * 2),
)


def _baseline_from_predictions(accuracy_paradox: Callable[[Any, Any], bool]) -> bool:
    """Whether the answer takes the majority share from y_pred (checked on two probes)."""
    try:
        answers = [bool(accuracy_paradox(list(t), list(p))) for t, p in _PRED_PROBES]
    except Exception:  # noqa: BLE001 - a failure on the probes is no evidence either way
        return False
    return answers == [False, True]


def check_accuracy_paradox(
    accuracy_paradox: Callable[[Any, Any], bool],
    cases: Iterable[tuple[Any, Any]],
) -> None:
    """``accuracy_paradox(y_true, y_pred)`` is True exactly when the accuracy does not beat
    always predicting the most frequent class of ``y_true``.

    ``cases`` are ``(y_true, y_pred)`` pairs: any labels, any number of classes.
    """
    _require_function(accuracy_paradox, "accuracy_paradox(y_true, y_pred)")
    cases = list(cases)
    for y_true, y_pred in cases:
        expected, accuracy, baseline = _paradox_expected(y_true, y_pred)
        labels = np.unique(to_numpy(y_true))
        binary01 = len(labels) <= 2 and set(labels.tolist()) <= {0, 1}
        if not binary01:
            try:
                accuracy_paradox(y_true, y_pred)
            except NotImplementedError:
                raise
            except Exception as exc:  # noqa: BLE001 - named: the answer assumed 0/1 labels
                fail(
                    f"{expected} for labels {labels.tolist()[:4]}",
                    f"it raised {type(exc).__name__}: {exc}",
                    "count how often each label occurs (np.unique(..., return_counts=True)); "
                    "do not assume the labels are 0 and 1.",
                    M["binary_labels_assumed"],
                )
        got = _call(accuracy_paradox, y_true, y_pred, what="accuracy_paradox(y_true, y_pred)")
        if not isinstance(got, bool | np.bool_):
            fail(
                "True or False",
                f"a {type(got).__name__}: {got!r:.80}",
                "return a comparison such as accuracy <= baseline, which is a bool.",
                M["not_a_bool"],
            )
        if bool(got) == expected:
            continue
        situation = (
            f"accuracy {accuracy:.3f} against {baseline:.3f} for always predicting the most "
            f"frequent class ({len(np.asarray(y_true))} samples)"
        )
        tie = abs(accuracy - baseline) <= 1e-12
        if not tie and _baseline_from_predictions(accuracy_paradox):
            name = M["baseline_from_predictions"]
            observed = (
                f"{bool(got)} for {situation}: the majority share was read from y_pred, the "
                "model's own answers"
            )
        elif got:
            name = M["fixed_cutoff"] if accuracy >= 0.9 else M["paradox_for_better_model"]
            observed = f"True for {situation}: this model beats the baseline"
        elif tie:
            name = M["tie_counted_as_better"]
            observed = (
                f"False for {situation}: equal to the baseline, which is no better (use <=, not <)"
            )
        elif not binary01:
            name = M["binary_labels_assumed"]
            observed = (
                f"False for {situation}, with labels {labels.tolist()[:4]}: "
                "the majority share was not computed from these labels"
            )
        else:
            name = M["baseline_ignored"]
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
        f"frequent class; checked on {len(cases)} cases."
    )


# --- exercises 8 to 10: the other pitfalls --------------------------------------------------


Q4 = Choice(
    question="test F1 jumped after test rows were added to the training data",
    options={
        "A": (
            "The added rows were the test rows themselves: the model was scored on rows it had "
            "learned."
        ),
        "B": "Overfitting shows as a train/validation gap; here the test score itself went up.",
        "C": (
            "The test set was scored on the same rows before and after, so its class balance is the "
            "same."
        ),
        "D": "Test rows in the training data let the model be scored on rows it has seen.",
    },
)


def check_leakage(answer: object) -> None:
    """Test rows copied into the training data: every metric is inflated (data leakage).

    Visible check: records the letter; the hidden test scores it.
    """
    record_choice(answer, Q4)


Q5 = Choice(
    question="training accuracy 1.00, validation accuracy much lower, and the gap grows with depth",
    options={
        "A": "A gap that grows with capacity is memorising; validation data judge the model.",
        "B": "Leakage makes the held-out score look too good; here the training score is the high one.",
        "C": "Only data a model has not seen can show whether it learned the task.",
        "D": "Underfitting shows low training scores; here training accuracy is 1.000.",
    },
)


def check_overfitting(answer: object) -> None:
    """Train accuracy 1.00, validation far lower: overfitting (a large train/validation gap).

    Visible check: records the letter; the hidden test scores it.
    """
    record_choice(answer, Q5)


Q6 = Choice(
    question="accuracy and weighted recall are high but macro recall is much lower",
    options={
        "A": "Macro recall weighs every class the same: a low one means some class has low recall.",
        "B": (
            "The weighted average weighs classes by size, like accuracy, so the large class dominates"
            " it."
        ),
        "C": "A macro average is the plain mean of the per-class scores printed in the table.",
        "D": "Accuracy and weighted recall are both dominated by the big class, so they tend to agree.",
    },
)


def check_class_balance(answer: object) -> None:
    """High accuracy and weighted averages, low macro recall: a rare class is neglected.

    Visible check: records the letter; the hidden test scores it.
    """
    record_choice(answer, Q6)


# --- section 6: curves, many classes, averages ------------------------------------------------

S6 = "6. Beyond one threshold: precision-recall and ROC curves"
S7 = "7. Beyond two classes: the confusion matrix and three averages"
MISCONCEPTIONS.update(
    registry(
        "lesson6",
        Misconception("roc_for_rare", "ROC AUC trusted for rare positives", S6),
        Misconception("accuracy_curve", "accuracy taken to show the cost of false alarms", S6),
        Misconception("curves_equivalent", "the two curves taken to say the same", S6),
        Misconception("diagonal_counted", "the diagonal (right answers) counted as confusion", S7),
        Misconception("rows_columns_swapped", "rows (true) and columns (predicted) swapped", S7),
        Misconception("not_a_name_pair", "a pair of class names expected", EX),
        Misconception("not_largest_cell", "an off-diagonal cell that is not the largest", S7),
        Misconception("micro_is_macro", "micro averaging taken for macro averaging", S7),
        Misconception("micro_needs_counts", "micro averaging thought to need per-class counts", S7),
        Misconception("micro_double_counts", "each error counted twice in a micro average", S7),
    )
)


Q7 = Choice(
    question="which curve shows, for rare positives, how many false alarms come with the positives found?",
    options={
        "A": "Precision divides the true positives by all flags, so every false alarm lowers it.",
        "B": (
            "ROC divides false alarms by all negatives; with many negatives, many false alarms are "
            "still a small rate."
        ),
        "C": (
            "Accuracy is dominated by the many negatives: answering 'no' every time already scores "
            "high."
        ),
        "D": (
            "ROC and PR share recall, but divide false alarms differently: by all negatives, or by "
            "the flags."
        ),
    },
)


def check_rare_curves(answer: object) -> None:
    """Exercise 11: for rare positives the precision-recall curve (and AP) is the honest one.

    Visible check: records the letter; the hidden test scores it.
    """
    record_choice(answer, Q7)


def most_confused_expected(matrix: Any, class_names: Any) -> tuple[str, str]:
    """(true class, predicted class) of the largest off-diagonal count of a confusion matrix."""
    m = np.array(to_numpy(matrix), dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"matrix must be square (classes x classes), got shape {m.shape}")
    names = list(class_names)
    np.fill_diagonal(m, -np.inf)
    row, col = np.unravel_index(int(np.argmax(m)), m.shape)
    return names[row], names[col]


# A probe whose largest error (true r, predicted p) has an empty mirror cell and whose
# first row holds a small error: reading columns as true classes answers ('p', 'r').
_PROBE = ([[20, 1, 0], [0, 20, 0], [9, 0, 20]], ["p", "q", "r"])


def _reads_columns_as_true(most_confused: Callable[[Any, Any], Any]) -> bool:
    """Whether the answer reads the matrix the other way round (checked on a probe), rather
    than merely landing on the mirror of the largest cell by another mistake."""
    try:
        got = most_confused(np.array(_PROBE[0]), list(_PROBE[1]))
        return tuple(str(g) for g in got) == ("p", "r")
    except Exception:  # noqa: BLE001 - any failure on the probe: not evidence of a swap
        return False


def check_most_confused(
    most_confused: Callable[[Any, Any], Any], cases: Iterable[tuple[Any, Any]]
) -> None:
    """``most_confused(matrix, class_names)`` returns (true, predicted) of the largest error.

    Rows of the matrix are true classes, columns predicted ones (scikit-learn's
    order); the diagonal holds the right answers and is never a confusion.
    """
    _require_function(most_confused, "most_confused(matrix, class_names)")
    cases = list(cases)
    for matrix, names in cases:
        names = [str(n) for n in names]
        want = most_confused_expected(matrix, names)
        got = _call(
            most_confused, np.array(matrix), list(names), what="most_confused(matrix, class_names)"
        )
        if not (isinstance(got, tuple | list) and len(got) == 2):
            fail(
                "a pair (true class name, predicted class name)",
                f"{got!r:.80}",
                "return a tuple of two names, e.g. ('3', '8').",
                M["not_a_name_pair"],
            )
        got = tuple(str(g) for g in got)
        if got == want:
            continue
        m = np.array(to_numpy(matrix), dtype=float)
        if not all(g in names for g in got):
            fail(
                "a pair (true class name, predicted class name)",
                f"{got}: not names from class_names {names}",
                "index class_names with the row and the column you found.",
                M["not_a_name_pair"],
            )
        i, j = names.index(got[0]), names.index(got[1])
        off = m.copy()
        np.fill_diagonal(off, -np.inf)
        if i != j and m[i, j] == off.max():
            continue  # a tie: another cell with the same, largest count
        diag = names[int(np.argmax(np.diag(m)))]
        if got[0] == got[1] and got[0] == diag:
            observed, name = (
                f"{got}: the largest count on the diagonal, the right answers",
                "diagonal_counted",
            )
        elif got[0] == got[1]:
            observed, name = (
                f"{got}: a class confused with itself is a right answer",
                "diagonal_counted",
            )
        elif m[j, i] == off.max() and _reads_columns_as_true(most_confused):
            observed, name = (
                f"{got}: true and predicted the other way round",
                "rows_columns_swapped",
            )
        else:
            observed, name = (
                f"{got}: row {got[0]}, column {got[1]} holds {m[i, j]:g} errors; another "
                "off-diagonal cell holds more",
                "not_largest_cell",
            )
        fail(
            f"{want}: true class {want[0]} predicted as {want[1]} most often",
            observed,
            "rows are the true classes, columns the predictions; skip the diagonal and take "
            "the largest remaining cell.",
            M[name],
        )
    correct(f"the largest off-diagonal cell, read as (true, predicted), on {len(cases)} matrices.")


Q8 = Choice(
    question="the micro-averaged F1 of 200 predictions, 150 of them right, macro F1 0.70",
    options={
        "A": (
            "Macro F1 averages the per-class F1 with equal weights; micro averaging pools the counts "
            "first."
        ),
        "B": "Each error is one FP and one FN, but precision and recall each count it once.",
        "C": "Pooled counts need no per-class table: 200 predictions, 150 of them hits, 50 misses.",
        "D": "Pooled, each error is one FP and one FN, so micro P = micro R = 150 / 200.",
    },
)


def check_micro_average(answer: object) -> None:
    """Exercise 13: micro-F1 of single-label multi-class predictions equals accuracy.

    Visible check: records the letter; the hidden test scores it.
    """
    record_choice(answer, Q8)
