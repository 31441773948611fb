"""The course's judging policy: the curriculum's rule of thumb and which metric a use needs.

:mod:`course_utils.metrics` computes numbers; this module says what the course
makes of them. The cut-offs are teaching choices (from the curriculum), kept
apart from the computation so the policy can change without touching it.

Two rules, kept apart on purpose:

* :func:`rubric` is the curriculum's rule of thumb, exactly as the curriculum
  states it (good / bad / mixed from accuracy, precision, recall and F1).
* :func:`course_policy` is this course's own addition on top of it, a balance
  rule that the use case decides: it is not part of the curriculum's rubric.

>>> print(rubric(accuracy=0.98, precision=0.80, recall=0.12).label)
bad
>>> print(rubric(accuracy=0.94, precision=0.98, recall=0.78).label)
good
>>> print(course_policy(accuracy=0.94, precision=0.98, recall=0.78, use_case="spam").label)
good
>>> print(course_policy(accuracy=0.94, precision=0.98, recall=0.78, use_case="screening").label)
mixed
>>> metric_for_use_case("spam filtering").metric
'precision'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from course_utils._validate import check_fraction, check_str

__all__ = [
    "BAD_ACCURACY",
    "BAD_PRECISION",
    "BAD_RECALL",
    "GOOD_ACCURACY",
    "GOOD_F1",
    "GOOD_PRECISION",
    "GOOD_RECALL",
    "MAX_PR_GAP",
    "RubricVerdict",
    "UseCaseAdvice",
    "course_policy",
    "metric_for_use_case",
    "rubric",
]

# The curriculum's rule of thumb, as explicit cut-offs.
# "good": every one of these holds (strictly above). The curriculum's "F1 balanced" is
# read as: F1, the balanced F-score (precision and recall weighted equally), is in the
# good range too. With precision and recall above 0.75 it always is, since a harmonic
# mean lies between its two numbers; an F1 passed in separately is checked all the same.
GOOD_ACCURACY = 0.80
GOOD_PRECISION = 0.75
GOOD_RECALL = 0.75
GOOD_F1 = 0.75
# "bad": any one of these holds. The curriculum says precision "near 30%" and
# recall "near 20%"; we read "near" as "within 5 points, or worse".
BAD_ACCURACY = 0.60  # strictly below
BAD_PRECISION = 0.35  # at or below
BAD_RECALL = 0.25  # at or below
# The course's own balance rule (course_policy, not the curriculum's rubric): precision
# and recall may differ by at most this much, unless the stated use needs the stronger one.
MAX_PR_GAP = 0.15


@dataclass(frozen=True)
class RubricVerdict:
    """A label (good, bad or mixed) and the measured reasons behind it."""

    label: Literal["good", "bad", "mixed"]
    reasons: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.label}: " + "; ".join(self.reasons)


def rubric(
    accuracy: float, precision: float, recall: float, f1: float | None = None
) -> RubricVerdict:
    """Judge metrics with the curriculum's rule of thumb (cut-offs are the module constants).

    * **bad** if any holds: accuracy < ``BAD_ACCURACY`` (0.60), precision <=
      ``BAD_PRECISION`` (0.35, "near 30%"), recall <= ``BAD_RECALL`` (0.25,
      "near 20%"). Bad wins over everything: 98% accuracy with 12% recall is bad.
    * **good** if all hold: accuracy > 0.80, precision > 0.75, recall > 0.75, and
      "F1 balanced": F1 (the balanced F-score) > 0.75 as well. Without ``f1`` it
      is computed as 2PR/(P+R).
    * **mixed** otherwise.

    The rubric asks nothing of the gap between precision and recall: which side may
    be the weaker one is for the use to say (see :func:`course_policy`).
    """
    a = check_fraction("accuracy", accuracy)
    p = check_fraction("precision", precision)
    r = check_fraction("recall", recall)
    f = check_fraction("f1", f1) if f1 is not None else (2 * p * r / (p + r) if p + r else 0.0)

    bad = []
    if a < BAD_ACCURACY:
        bad.append(f"accuracy {a:.3f} is below {BAD_ACCURACY:.2f}: barely better than guessing")
    if p <= BAD_PRECISION:
        bad.append(
            f"precision {p:.3f} is at or below {BAD_PRECISION:.2f}: "
            f"only {p:.0%} of the predicted positives are real"
        )
    if r <= BAD_RECALL:
        bad.append(
            f"recall {r:.3f} is at or below {BAD_RECALL:.2f}: "
            f"the model finds only {r:.0%} of the real positives and misses the rest"
        )
    if bad:
        if a > GOOD_ACCURACY:
            bad.append(f"accuracy {a:.3f} looks good but hides this (the accuracy paradox)")
        return RubricVerdict("bad", tuple(bad))

    checks = [
        (a > GOOD_ACCURACY, f"accuracy {a:.3f}", f"above {GOOD_ACCURACY:.2f}"),
        (p > GOOD_PRECISION, f"precision {p:.3f}", f"above {GOOD_PRECISION:.2f}"),
        (r > GOOD_RECALL, f"recall {r:.3f}", f"above {GOOD_RECALL:.2f}"),
        (f > GOOD_F1, f"f1 {f:.3f}", f"above {GOOD_F1:.2f}"),
    ]
    failed = [f"{what} is not {target}" for ok, what, target in checks if not ok]
    if failed:
        return RubricVerdict("mixed", tuple(failed))
    return RubricVerdict("good", tuple(f"{what} is {target}" for _, what, target in checks))


def course_policy(
    accuracy: float,
    precision: float,
    recall: float,
    *,
    use_case: str | None = None,
    f1: float | None = None,
) -> RubricVerdict:
    """The course's own reading on top of :func:`rubric`: a balance rule the use case decides.

    This rule is the course's, not the curriculum's. It starts from the rubric's
    verdict and can only turn a *good* into *mixed*, never the other way:

    * with no ``use_case``, nobody has said which side may be weaker, so *good*
      also needs ``|precision - recall| <= MAX_PR_GAP`` (0.15);
    * with a ``use_case`` (see :func:`metric_for_use_case`), the gap may favour the
      metric that use needs: a spam filter at precision 0.98 and recall 0.78 stays
      *good*; the same numbers for cancer screening, which needs recall, are *mixed*.
    """
    verdict = rubric(accuracy, precision, recall, f1)
    advice = metric_for_use_case(use_case) if use_case is not None else None
    if verdict.label != "good":
        return verdict
    p, r = float(precision), float(recall)
    gap = abs(p - r)
    if gap <= MAX_PR_GAP:
        return RubricVerdict(
            "good",
            (
                *verdict.reasons,
                f"course balance rule: precision-recall gap {gap:.3f} is at most {MAX_PR_GAP:.2f}",
            ),
        )
    stronger = "precision" if p > r else "recall"
    weaker = "recall" if p > r else "precision"
    values = {"precision": p, "recall": r}
    rule = (
        f"course balance rule: {weaker} {values[weaker]:.3f} is {gap:.3f} below "
        f"{stronger} {values[stronger]:.3f}"
    )
    if advice is None:
        return RubricVerdict(
            "mixed",
            (
                f"{rule}, more than {MAX_PR_GAP:.2f}, and no use case says "
                f"the weaker {weaker} is acceptable",
            ),
        )
    if advice.metric == stronger:
        return RubricVerdict(
            "good",
            (
                *verdict.reasons,
                f"course balance rule: {stronger} is the stronger side by {gap:.3f}, and "
                f"{use_case} needs {stronger}: {advice.reason}",
            ),
        )
    return RubricVerdict(
        "mixed",
        (f"{rule}, more than {MAX_PR_GAP:.2f}, and {use_case} needs {weaker}: {advice.reason}",),
    )


@dataclass(frozen=True)
class UseCaseAdvice:
    """Which metric to watch for a use case, and why."""

    metric: Literal["precision", "recall"]
    reason: str

    def __str__(self) -> str:
        return f"{self.metric}: {self.reason}"


_SPAM = UseCaseAdvice(
    "precision",
    "a false positive sends a good email to the spam folder, so when the filter says "
    "spam it must be right: few good mails flagged.",
)
_SCREENING = UseCaseAdvice(
    "recall",
    "a false negative is a missed case that goes untreated, while a false alarm only "
    "costs a follow-up test: find as many real cases as possible (few missed cases).",
)
_FRAUD = UseCaseAdvice(
    "recall",
    "a missed fraud costs far more than reviewing a legitimate transaction: "
    "catch as many frauds as possible, even at the price of some false alarms.",
)
_USE_CASES: dict[str, UseCaseAdvice] = {
    **dict.fromkeys(
        ("spam", "spam filter", "spam filtering", "spam detection", "junk mail", "email spam"),
        _SPAM,
    ),
    **dict.fromkeys(
        (
            "cancer",
            "cancer screening",
            "cancer detection",
            "screening",
            "medical screening",
            "disease",
            "disease detection",
            "disease screening",
        ),
        _SCREENING,
    ),
    **dict.fromkeys(
        ("fraud", "fraud detection", "credit card fraud", "fraudulent transactions"), _FRAUD
    ),
}


def metric_for_use_case(use_case: str) -> UseCaseAdvice:
    """The metric that matters most for a use case: spam -> precision; screening, fraud -> recall.

    Case-insensitive; a few synonyms are accepted ("Spam filtering", "cancer-screening").
    """
    check_str("use_case", use_case, "spam")
    key = re.sub(r"[\s_\-]+", " ", use_case).strip().lower()
    if key not in _USE_CASES:
        raise ValueError(f"unknown use case {use_case!r}; known use cases: {sorted(_USE_CASES)}.")
    return _USE_CASES[key]
