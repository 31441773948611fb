import math

import numpy as np
import pytest

from course_utils import judging, metrics
from course_utils.checks import ExerciseError
from course_utils.checks import lesson6 as checks

EDGE_CASES = [(7, 3, 2, 88), (0, 0, 12, 88), (0, 9, 0, 91), (30, 0, 0, 70), (1, 998, 0, 1)]


def failure(check, *args, **kwargs) -> ExerciseError:
    with pytest.raises(ExerciseError) as info:
        check(*args, **kwargs)
    return info.value


# --- exercise 1: compute_metrics -------------------------------------------------------------


def ratio(num, den):
    return num / den if den else 0.0


def metrics_ok(tp, fp, fn, tn):
    p, r = ratio(tp, tp + fp), ratio(tp, tp + fn)
    return {
        "accuracy": ratio(tp + tn, tp + fp + fn + tn),
        "precision": p,
        "recall": r,
        "f1": ratio(2 * p * r, p + r),
    }


def test_compute_metrics_correct_passes_worked_example_and_edge_cases(capsys):
    checks.check_compute_metrics(metrics_ok)
    checks.check_compute_metrics(metrics_ok, EDGE_CASES)
    checks.check_compute_metrics(metrics_ok, [metrics.ConfusionCounts(tp=3, fp=1, fn=2, tn=4)])
    assert capsys.readouterr().out.startswith("Correct:")


def test_compute_metrics_rounded_to_three_decimals_passes():
    checks.check_compute_metrics(lambda **c: {k: round(v, 3) for k, v in metrics_ok(**c).items()})


def test_compute_metrics_is_called_with_keywords_so_argument_order_cannot_hide_errors():
    def positional_order_differs(tp, fn, fp, tn):  # the worked example's reading order
        return metrics_ok(tp=tp, fp=fp, fn=fn, tn=tn)

    checks.check_compute_metrics(positional_order_differs)


@pytest.mark.parametrize(
    ("wrong", "misconception"),
    [
        (
            lambda tp, fp, fn, tn: {
                **metrics_ok(tp, fp, fn, tn),
                "precision": ratio(tp, tp + fn),
                "recall": ratio(tp, tp + fp),
            },
            "precision and recall swapped",
        ),
        (
            lambda tp, fp, fn, tn: {
                **metrics_ok(tp, fp, fn, tn),
                "accuracy": tp / (tp + fp + fn + tn),
            },
            "true negatives not counted as correct",
        ),
        (
            lambda tp, fp, fn, tn: {
                **metrics_ok(tp, fp, fn, tn),
                "f1": (ratio(tp, tp + fp) + ratio(tp, tp + fn)) / 2,
            },
            "F1 taken as the plain average",
        ),
        (
            lambda tp, fp, fn, tn: {k: 100 * v for k, v in metrics_ok(tp, fp, fn, tn).items()},
            "percent instead of a fraction",
        ),
    ],
)
def test_compute_metrics_wrong_formulas_are_named(wrong, misconception):
    err = failure(checks.check_compute_metrics, wrong)
    assert err.misconception == misconception
    assert misconception in str(err)


def test_compute_metrics_division_by_zero_is_explained():
    def naive(tp, fp, fn, tn):
        p, r = tp / (tp + fp), tp / (tp + fn)
        return {
            "accuracy": (tp + tn) / (tp + fp + fn + tn),
            "precision": p,
            "recall": r,
            "f1": 2 * p * r / (p + r),
        }

    checks.check_compute_metrics(naive, [checks.WORKED_EXAMPLE])  # fine on the worked example,
    err = failure(checks.check_compute_metrics, naive)  # but the visible check has an edge case
    assert err.misconception == "division by zero on an undefined ratio"


def test_compute_metrics_nan_or_one_for_undefined_ratios_fails():
    def nan_policy(tp, fp, fn, tn):
        out = metrics_ok(tp, fp, fn, tn)
        if tp + fp == 0:
            out["precision"] = math.nan
        return out

    def one_policy(tp, fp, fn, tn):
        out = metrics_ok(tp, fp, fn, tn)
        if tp + fp == 0:
            out["precision"] = 1.0
        return out

    for wrong in (nan_policy, one_policy):
        err = failure(checks.check_compute_metrics, wrong, [(0, 0, 12, 88)])
        assert err.misconception == "undefined ratio not set to 0.0"


def test_compute_metrics_hard_coded_worked_example_fails_other_counts():
    def typed(tp, fp, fn, tn):
        return {"accuracy": 0.85, "precision": 0.889, "recall": 0.8, "f1": 0.842}

    checks.check_compute_metrics(typed, [checks.WORKED_EXAMPLE])
    assert failure(checks.check_compute_metrics, typed).misconception  # visible: a 2nd case
    assert failure(checks.check_compute_metrics, typed, EDGE_CASES[:1]).misconception


def test_compute_metrics_wrong_types_are_explained():
    assert failure(checks.check_compute_metrics, 0.85).misconception == "a function expected"
    err = failure(checks.check_compute_metrics, lambda **c: tuple(metrics_ok(**c).values()))
    assert err.misconception == "a dict of four metrics expected"
    err = failure(checks.check_compute_metrics, lambda **c: {"acc": 1.0})
    assert err.misconception == "a metric missing from the dict"
    err = failure(checks.check_compute_metrics, lambda **c: {**metrics_ok(**c), "f1": None})
    assert err.misconception == "undefined ratio not set to 0.0"
    err = failure(checks.check_compute_metrics, lambda **c: 1 / 0 if c else None)
    assert err.misconception == "division by zero on an undefined ratio"
    err = failure(checks.check_compute_metrics, lambda **c: [][1])
    assert err.misconception == "the code does not run"


def test_the_unanswered_stub_raises_not_implemented():
    def stub(tp, fp, fn, tn):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        checks.check_compute_metrics(stub)


# --- multiple choice --------------------------------------------------------------------------

# --- exercise 4: a threshold for a recall target ---------------------------------------------


def highest_threshold(y_true, scores, min_recall):
    y, s = np.asarray(y_true), np.asarray(scores, dtype=float)
    for t in np.unique(s)[::-1]:
        if ((s >= t) & (y == 1)).sum() / (y == 1).sum() >= min_recall:
            return float(t)
    raise AssertionError("unreachable: the lowest score flags everything")


def scored(seed, n=300, share=0.3):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < share).astype(int)
    y[:2] = [1, 0]
    return y, np.clip(0.35 * y + rng.normal(0.35, 0.2, n), 0, 1)


@pytest.mark.parametrize("target", [0.5, 0.8, 0.95, 1.0])
def test_threshold_correct_answers_pass(target):
    y, s = scored(1)
    checks.check_threshold_for_recall(highest_threshold, y, s, target)
    library = lambda yt, sc, r: metrics.choose_threshold(yt, sc, min_recall=r)  # noqa: E731
    checks.check_threshold_for_recall(library, y, s, target)
    # Returned as a numpy scalar: still one number.
    checks.check_threshold_for_recall(lambda *a: np.float32(highest_threshold(*a)), y, s, target)


def test_threshold_strict_inequality_is_refused_and_named():
    """The one rule flags score >= threshold: a strict > answer flags one more sample."""
    y, s = scored(2)

    def strict(y_true, scores, min_recall):
        t = highest_threshold(y_true, scores, min_recall)
        below = np.unique(scores)
        return float(below[below < t].max())  # the score just below: one more sample flagged

    err = failure(checks.check_threshold_for_recall, strict, y, s, 0.8)
    assert err.misconception == "strict > used where the rule flags score >= threshold"


# The lesson's visible ten-case example: every near miss gives a different threshold.
TEN_Y = [0, 1, 1, 0, 1, 0, 1, 1, 1, 0]
TEN_S = [0.48, 0.6, 0.95, 0.8, 0.4, 0.9, 0.7, 0.85, 0.55, 0.2]


@pytest.mark.parametrize(
    "answer, label",
    [
        (lambda *a: 0.6, "strict > used where the rule flags score >= threshold"),
        (lambda *a: 0.55, "best precision kept instead of the highest threshold"),
        (lambda *a: 0.5, "default threshold kept"),
        (lambda *a: 0.4, "lowest positive score taken (recall 1.0)"),
        (lambda *a: 0.2, "flag everything"),
    ],
)
def test_threshold_near_misses_of_the_rule_are_named(answer, label):
    assert failure(checks.check_threshold_for_recall, answer, TEN_Y, TEN_S, 0.45).misconception == (
        label
    )
    checks.check_threshold_for_recall(lambda *a: 0.7, TEN_Y, TEN_S, 0.45)
    checks.check_threshold_for_recall(lambda *a: 0.65, TEN_Y, TEN_S, 0.45)  # same cases flagged


def test_threshold_too_high_or_default_fails():
    y, s = scored(3)
    err = failure(checks.check_threshold_for_recall, lambda *a: 0.5, y, s, 0.95)
    assert err.misconception == "default threshold kept"
    err = failure(checks.check_threshold_for_recall, lambda *a: 0.9, y, s, 0.95)
    assert err.misconception == "threshold too high for the recall target"
    err = failure(checks.check_threshold_for_recall, lambda *a: 95, y, s, 0.95)
    assert err.misconception == "percent instead of a fraction"


def test_threshold_lower_than_needed_fails():
    y, s = scored(4)
    err = failure(checks.check_threshold_for_recall, lambda yt, sc, r: float(np.min(sc)), y, s, 0.8)
    assert err.misconception == "flag everything"
    err = failure(checks.check_threshold_for_recall, lambda *a: 0.05, y, s, 0.8)
    assert err.misconception == "threshold lower than needed"
    y, s = scored(5, n=400, share=0.5)
    t = highest_threshold(y, s, 0.6)
    assert t > 0.6  # so that returning the target itself is too low here
    err = failure(checks.check_threshold_for_recall, lambda yt, sc, r: r, y, s, 0.6)
    assert err.misconception == "target recall used as the threshold"


def test_threshold_hard_coded_to_the_visible_case_fails_another():
    y, s = scored(6)
    typed = highest_threshold(y, s, 0.95)
    checks.check_threshold_for_recall(lambda *a: typed, y, s, 0.95)
    y2, s2 = scored(7, share=0.1)
    with pytest.raises(ExerciseError):
        for target in (0.5, 0.95, 1.0):
            checks.check_threshold_for_recall(lambda *a: typed, y2, s2, target)


def test_threshold_wrong_types_are_explained():
    y, s = scored(8)
    assert failure(checks.check_threshold_for_recall, "0.4", y, s, 0.9).misconception == (
        "a function expected"
    )
    err = failure(checks.check_threshold_for_recall, lambda *a: {"threshold": 0.4}, y, s, 0.9)
    assert err.misconception == "one number (the threshold) expected"
    err = failure(checks.check_threshold_for_recall, lambda *a: [0.4, 0.5], y, s, 0.9)
    assert err.misconception == "one number (the threshold) expected"
    err = failure(checks.check_threshold_for_recall, lambda *a: math.nan, y, s, 0.9)
    assert err.misconception == "one number (the threshold) expected"


# --- exercise 7: the accuracy paradox ---------------------------------------------------------


def paradox_ok(y_true, y_pred):
    y, p = np.asarray(y_true), np.asarray(y_pred)
    _, sizes = np.unique(y, return_counts=True)
    return bool((y == p).mean() <= sizes.max() / len(y))


def paradox_cases():
    rare = np.r_[np.zeros(97, int), np.ones(3, int)]
    noisy = rare.copy()
    noisy[[0, 1, 2, 3, 4, 97]] = 1 - noisy[[0, 1, 2, 3, 4, 97]]  # 0.94 < 0.97, finds 2 of 3
    balanced = np.arange(100) % 2
    decent = balanced.copy()
    decent[:30] = 1 - decent[:30]  # 0.70 > 0.50
    screening = np.r_[np.ones(40, int), np.zeros(60, int)]
    good = screening.copy()
    good[:3] = 0  # 0.97 > 0.60
    animals = np.array(["cat"] * 60 + ["dog"] * 30 + ["fox"] * 10)
    return [
        (rare, noisy),
        (balanced, decent),
        (screening, good),
        (animals, np.array(["cat"] * 100)),
        (list(balanced), list(decent)),
    ]


def test_paradox_correct_answer_passes_on_every_case(capsys):
    checks.check_accuracy_paradox(paradox_ok, paradox_cases())
    assert capsys.readouterr().out.startswith("Correct:")


def test_paradox_expected_values_come_from_the_baseline():
    expected = [checks._paradox_expected(y, p)[0] for y, p in paradox_cases()]
    assert expected == [True, False, False, True, False]
    assert checks.majority_share(["a", "b", "b", "b"]) == 0.75


def test_paradox_fixed_cut_off_fails_and_is_named():
    def cut_off(y_true, y_pred):
        return bool((np.asarray(y_true) == np.asarray(y_pred)).mean() >= 0.9)

    err = failure(checks.check_accuracy_paradox, cut_off, paradox_cases())
    assert err.misconception == "a fixed accuracy cut-off instead of the baseline"


def test_paradox_recall_only_answer_fails_on_a_model_that_finds_some_positives():
    def recall_zero(y_true, y_pred):
        y, p = np.asarray(y_true), np.asarray(y_pred)
        return bool(((p == 1) & (y == 1)).sum() == 0)

    err = failure(checks.check_accuracy_paradox, recall_zero, paradox_cases()[:1])
    assert err.misconception == "accuracy judged without the baseline"


def test_paradox_never_true_and_strict_comparison_fail():
    err = failure(checks.check_accuracy_paradox, lambda *a: False, paradox_cases())
    assert err.misconception == "accuracy judged without the baseline"

    def strict(y_true, y_pred):  # 'worse than' instead of 'no better than'
        y, p = np.asarray(y_true), np.asarray(y_pred)
        _, sizes = np.unique(y, return_counts=True)
        return bool((y == p).mean() < sizes.max() / len(y))

    animals = paradox_cases()[3]
    err = failure(checks.check_accuracy_paradox, strict, [animals])
    assert err.misconception_id == "lesson6.tie_counted_as_better"


def test_paradox_binary_only_baseline_is_named():
    def zero_one(y_true, y_pred):
        y, p = np.asarray(y_true), np.asarray(y_pred)
        return bool((y == p).mean() <= max(y.mean(), 1 - y.mean()))

    strings = (["cat"] * 6 + ["dog"] * 3 + ["fox"], ["cat"] * 10)
    err = failure(checks.check_accuracy_paradox, zero_one, [strings])
    assert err.misconception_id == "lesson6.binary_labels_assumed"


def test_most_confused_reads_true_rows_and_skips_the_diagonal(capsys):
    small = ([[50, 2, 0], [9, 40, 1], [0, 3, 47]], ["cat", "dog", "fox"])

    def right(matrix, names):
        m = np.array(matrix, dtype=float)
        np.fill_diagonal(m, -1)
        i, j = np.unravel_index(np.argmax(m), m.shape)
        return names[i], names[j]

    def swapped(matrix, names):
        return right(matrix, names)[::-1]

    def diagonal(matrix, names):
        i = int(np.argmax(np.diag(np.array(matrix))))
        j = int(np.argmax(np.array(matrix).max(axis=0)))
        return names[i], names[j]

    checks.check_most_confused(right, [small])
    assert "on 1 matrices" in capsys.readouterr().out
    assert failure(checks.check_most_confused, swapped, [small]).misconception_id == (
        "lesson6.rows_columns_swapped"
    )
    assert failure(checks.check_most_confused, diagonal, [small]).misconception_id == (
        "lesson6.diagonal_counted"
    )
    assert failure(checks.check_most_confused, lambda m, n: "cat", [small]).misconception_id == (
        "lesson6.not_a_name_pair"
    )
    with pytest.raises(ValueError, match="square"):
        checks.most_confused_expected([[1, 2, 3]], ["a"])


def test_paradox_wrong_return_type_is_explained():
    err = failure(checks.check_accuracy_paradox, lambda *a: "yes", paradox_cases())
    assert err.misconception == "True or False expected"
    err = failure(checks.check_accuracy_paradox, lambda *a: 0.9, paradox_cases())
    assert err.misconception == "True or False expected"
    checks.check_accuracy_paradox(lambda y, p: np.bool_(paradox_ok(y, p)), paradox_cases())


# --- exercise 6: apply the rule of thumb -----------------------------------------------------

SPAM = metrics.metrics_from_counts(metrics.ConfusionCounts(tp=390, fp=8, fn=110, tn=1492))
FRAUD = metrics.metrics_from_counts(metrics.ConfusionCounts(tp=24, fp=24, fn=176, tn=9776))
RULE_CASES = {
    "worked example": metrics.metrics_from_counts(checks.WORKED_EXAMPLE),
    "spam filter": SPAM,
    "fraud model": FRAUD,
    "screening at a low threshold": (0.655, 0.52, 1.0),
    "plain numbers": {"accuracy": 0.7, "precision": 0.5, "recall": 0.6},
}


def rule_ok(accuracy, precision, recall):
    if accuracy < 0.60 or precision <= 0.35 or recall <= 0.25:
        return "bad"
    if accuracy > 0.80 and precision > 0.75 and recall > 0.75:
        return "good"
    return "mixed"


def test_rule_of_thumb_correct_answers_pass(capsys):
    checks.check_rule_of_thumb(rule_ok, RULE_CASES)
    checks.check_rule_of_thumb(lambda **m: rule_ok(**m).upper(), RULE_CASES)
    out = capsys.readouterr().out
    assert out.startswith("Correct:") and "spam filter" in out and "fraud model" in out


# ``from course_utils.metrics import rubric as r`` in the answer cell, run before the check.
_rubric_bound_before = metrics.rubric


@pytest.mark.parametrize(
    "library",
    [
        lambda **m: metrics.rubric(**m).label,
        lambda accuracy, precision, recall: metrics.rubric(accuracy, precision, recall).label,
        lambda **m: metrics.course_policy(**m).label,
        lambda **m: judging.rubric(**m).label,
        lambda **m: metrics.rubric(**m),
        lambda **m: _rubric_bound_before(**m).label,  # a name bound before the check
    ],
)
def test_rule_of_thumb_copying_the_library_call_is_named(library):
    # The cell above the exercise prints metrics.rubric(...): a wrapper around it only copies
    # that cell, so the check switches the library off while the student's rule runs.
    error = failure(checks.check_rule_of_thumb, library, RULE_CASES)
    assert error.misconception_id == "lesson6.library_not_rule", str(error)
    assert "switched off" in error.hint
    # The library is back afterwards, for the rest of the notebook.
    assert metrics.rubric is judging.rubric and metrics.rubric(0.9, 0.9, 0.9).label == "good"


@pytest.mark.parametrize(
    ("wrong", "misconception_id"),
    [
        (
            lambda accuracy, precision, recall: (
                "good" if accuracy > 0.8 else ("bad" if accuracy < 0.6 else "mixed")
            ),
            "lesson6.accuracy_alone",
        ),
        (
            lambda accuracy, precision, recall: (
                "mixed"
                if rule_ok(accuracy, precision, recall) == "good" and abs(precision - recall) > 0.15
                else rule_ok(accuracy, precision, recall)
            ),
            "lesson6.balance_rule_added",
        ),
        (
            lambda accuracy, precision, recall: (
                "bad"
                if accuracy < 0.6
                else ("good" if min(accuracy, precision, recall) > 0.75 else "mixed")
            ),
            "lesson6.bad_sign_missed",
        ),
        (
            lambda accuracy, precision, recall: (
                rule_ok(accuracy, precision, recall)
                if rule_ok(accuracy, precision, recall) == "good"
                else "bad"
            ),
            "lesson6.not_good_is_bad",
        ),
        (
            lambda accuracy, precision, recall: (
                "bad"
                if accuracy < 60 or precision <= 35 or recall <= 25
                else ("good" if min(accuracy, precision, recall) > 80 else "mixed")
            ),
            "lesson6.percent_cutoffs",
        ),
        (
            lambda accuracy, precision, recall: (
                "bad"
                if rule_ok(accuracy, precision, recall) == "bad"
                else ("good" if recall > 0.75 else "mixed")
            ),
            "lesson6.good_without_all_cutoffs",
        ),
    ],
)
def test_rule_of_thumb_misconceptions_are_named(wrong, misconception_id):
    error = failure(checks.check_rule_of_thumb, wrong, RULE_CASES)
    assert error.misconception_id == misconception_id, str(error)
    assert "Expected: '" in str(error)


def test_rule_of_thumb_expected_labels_come_from_the_rubric():
    hard_coded = {"worked example": "good", "spam filter": "good", "fraud model": "bad"}
    visible = {k: RULE_CASES[k] for k in hard_coded}

    def memorised(accuracy, precision, recall):
        for name, measured in visible.items():
            if abs(measured.accuracy - accuracy) < 1e-9:
                return hard_coded[name]
        return "good"

    checks.check_rule_of_thumb(memorised, visible)
    error = failure(checks.check_rule_of_thumb, memorised, {"other": (0.7, 0.6, 0.5)})
    assert "Expected: 'mixed'" in str(error)


def test_rule_of_thumb_wrong_return_types_are_explained():
    verdict = metrics.rubric(0.9, 0.9, 0.9)  # a RubricVerdict made before the check runs
    error = failure(checks.check_rule_of_thumb, lambda **m: verdict, RULE_CASES)
    assert error.misconception_id == "lesson6.not_a_label" and ".label" in error.hint
    error = failure(checks.check_rule_of_thumb, lambda **m: True, RULE_CASES)
    assert error.misconception_id == "lesson6.not_a_label"
    error = failure(checks.check_rule_of_thumb, "good", RULE_CASES)
    assert error.misconception_id == "lesson6.not_a_function"
    with pytest.raises(NotImplementedError):
        checks.check_rule_of_thumb(
            lambda **m: (_ for _ in ()).throw(NotImplementedError()), RULE_CASES
        )


def test_most_confused_right_way_round_on_the_wrong_cell_is_not_called_swapped():
    """Indices pointing the right way (row = true) on a smaller cell: not 'swapped'."""

    def first_row(matrix, names):
        m = np.asarray(matrix)
        for i, row in enumerate(m):
            errors = [(count, j) for j, count in enumerate(row) if j != i and count > 0]
            if errors:
                return names[i], names[max(errors)[1]]
        return None

    def columns_as_true(matrix, names):
        m = np.asarray(matrix, dtype=float).T
        np.fill_diagonal(m, -1)
        i, j = np.unravel_index(int(np.argmax(m)), m.shape)
        return names[i], names[j]

    cats = ([[50, 2, 0], [9, 40, 1], [0, 3, 47]], ["cat", "dog", "fox"])
    # first_row lands on ('cat', 'dog'), the mirror of the answer, without reading columns.
    err = failure(checks.check_most_confused, first_row, [cats])
    assert err.misconception == "an off-diagonal cell that is not the largest"
    err = failure(checks.check_most_confused, columns_as_true, [cats])
    assert err.misconception == "rows (true) and columns (predicted) swapped"
    # A tie: another cell with the same, largest count is accepted.
    checks.check_most_confused(
        lambda m, n: ("b", "a"), [([[5, 3, 0], [3, 5, 0], [0, 0, 5]], "abc")]
    )


def test_paradox_baseline_read_from_the_predictions_is_named():
    def from_predictions(y_true, y_pred):
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        _, sizes = np.unique(y_pred, return_counts=True)
        return bool(np.mean(y_true == y_pred) <= sizes.max() / len(y_pred))

    err = failure(
        checks.check_accuracy_paradox, from_predictions, [([0] * 8 + [1] * 2, [0] * 5 + [1] * 5)]
    )
    assert err.misconception == "the baseline taken from the predictions, not y_true"
