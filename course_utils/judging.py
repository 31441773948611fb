"""The course's judging policy: the rule of thumb and which metric a use case needs.

:mod:`course_utils.metrics` computes numbers; this module says what the course
makes of them. The cut-offs are teaching choices (from the curriculum), kept
apart from the computation so the policy can change without touching it.

>>> print(rubric(accuracy=0.98, precision=0.80, recall=0.12).label)
bad
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
    "metric_for_use_case",
    "rubric",
]

# The lesson's rule of thumb, as explicit cut-offs.
# "good": every one of these holds (strictly above).
GOOD_ACCURACY = 0.80
GOOD_PRECISION = 0.75
GOOD_RECALL = 0.75
GOOD_F1 = 0.75
# "F1 balanced": precision and recall within this many points of each other, so
# that a decent F1 is not hiding one weak side.
MAX_PR_GAP = 0.15
# "bad": any one of these holds. The curriculum says precision "near 30%" and
# recall "near 20%"; we read "near" as "within 5 points, or worse".
BAD_ACCURACY = 0.60  # strictly below
BAD_PRECISION = 0.35  # at or below
BAD_RECALL = 0.25  # at or below


@dataclass(frozen=True)
class RubricVerdict:
    """The rule of thumb's label and the measured reasons behind it."""

    label: Literal["good", "bad", "mixed"]
    reasons: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.label}: " + "; ".join(self.reasons)


def rubric(
    accuracy: float, precision: float, recall: float, f1: float | None = None
) -> RubricVerdict:
    """Judge metrics with the lesson's rule of thumb (cut-offs are the module constants).

    * **bad** if any holds: accuracy < ``BAD_ACCURACY`` (0.60), precision <=
      ``BAD_PRECISION`` (0.35, "near 30%"), recall <= ``BAD_RECALL`` (0.25,
      "near 20%"). Bad wins over everything: 98% accuracy with 12% recall is bad.
    * **good** if all hold: accuracy > 0.80, precision > 0.75, recall > 0.75,
      F1 > 0.75 and F1 balanced, i.e. ``|precision - recall| <= MAX_PR_GAP`` (0.15).
      Without ``f1`` it is computed as 2PR/(P+R).
    * **mixed** otherwise.
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
        (
            abs(p - r) <= MAX_PR_GAP,
            f"precision-recall gap {abs(p - r):.3f}",
            f"at most {MAX_PR_GAP:.2f} (F1 balanced)",
        ),
    ]
    failed = [f"{what} is not {target}" for ok, what, target in checks if not ok]
    if failed:
        return RubricVerdict("mixed", tuple(failed))
    return RubricVerdict("good", tuple(f"{what} is {target}" for _, what, target in checks))


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
