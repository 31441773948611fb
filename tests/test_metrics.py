import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
)

from course_utils import metrics as M

# Proves the zero_division policy: any UndefinedMetricWarning (or other) fails a test.
pytestmark = pytest.mark.filterwarnings("error")


def expand(tp, fn, fp, tn):
    """Label arrays (positive = 1) that realise the given confusion counts."""
    y_true = np.array([1] * (tp + fn) + [0] * (fp + tn))
    y_pred = np.array([1] * tp + [0] * fn + [1] * fp + [0] * tn)
    return y_true, y_pred


def sklearn_metrics(y_true, y_pred, pos_label=1):
    kw = {"pos_label": pos_label, "zero_division": 0.0}
    return (
        accuracy_score(y_true, y_pred),
        precision_score(y_true, y_pred, **kw),
        recall_score(y_true, y_pred, **kw),
        f1_score(y_true, y_pred, **kw),
    )


def as_tuple(m):
    return (m.accuracy, m.precision, m.recall, m.f1)


# --------------------------------------------------------------------------- worked example


def test_worked_example_matches_sklearn_and_the_curriculum():
    y_true, y_pred = expand(tp=40, fn=10, fp=5, tn=45)
    expected = sklearn_metrics(y_true, y_pred)

    from_labels = M.binary_metrics(y_true, y_pred)
    from_matrix = M.metrics_from_counts(M.counts_from_matrix([[40, 10], [5, 45]]))
    sk_order = confusion_matrix(y_true, y_pred)  # [[TN, FP], [FN, TP]]
    from_sk_matrix = M.metrics_from_counts(M.counts_from_matrix(sk_order, positive_first=False))

    for m in (from_labels, from_matrix, from_sk_matrix):
        assert as_tuple(m) == pytest.approx(expected, abs=1e-12)
        assert m.counts == M.ConfusionCounts(tp=40, fp=5, fn=10, tn=45)
    # The numbers the lesson prints, to three decimals.
    assert [round(v, 3) for v in as_tuple(from_labels)] == [0.85, 0.889, 0.8, 0.842]
    assert str(from_labels).startswith("accuracy=0.850  precision=0.889  recall=0.800  f1=0.842")
    assert "TP=40 FP=5 FN=10 TN=45" in str(from_labels)


@pytest.mark.parametrize("seed", range(5))
def test_binary_metrics_agree_with_sklearn_on_random_labels(seed):
    rng = np.random.default_rng(seed)
    y_true, y_pred = rng.integers(0, 2, 60), rng.integers(0, 2, 60)
    m = M.binary_metrics(y_true, y_pred)
    assert as_tuple(m) == pytest.approx(sklearn_metrics(y_true, y_pred))
    assert as_tuple(M.metrics_from_counts(M.confusion_counts(y_true, y_pred))) == pytest.approx(
        as_tuple(m)
    )
    tn, fp, fn, tp = confusion_matrix(y_true, y_pred).ravel()
    assert m.counts == M.ConfusionCounts(tp, fp, fn, tn) and m.counts.total == 60


def test_string_labels_with_a_named_positive_class():
    y_true = np.array(["spam", "ham", "spam", "ham", "ham"])
    y_pred = np.array(["spam", "spam", "ham", "ham", "ham"])
    m = M.binary_metrics(y_true, y_pred, positive="spam")
    assert as_tuple(m) == pytest.approx(sklearn_metrics(y_true, y_pred, pos_label="spam"))
    # Swapping the positive class swaps the roles of the cells.
    c = M.confusion_counts(y_true, y_pred, positive="ham")
    assert (c.tp, c.tn) == (m.counts.tn, m.counts.tp)


def test_undefined_values_are_zero_without_warnings():
    # Never predicts positive: precision is 0/0 -> 0.0 by policy.
    m = M.binary_metrics([1, 0, 0, 1], [0, 0, 0, 0])
    assert (m.precision, m.recall, m.f1) == (0.0, 0.0, 0.0)
    assert m.accuracy == pytest.approx(0.5)
    # No positives at all: recall is 0/0 -> 0.0, accuracy perfect.
    m = M.binary_metrics([0, 0, 0], [0, 0, 0])
    assert (m.accuracy, m.precision, m.recall, m.f1) == (1.0, 0.0, 0.0, 0.0)
    assert as_tuple(M.metrics_from_counts(M.ConfusionCounts(0, 0, 0, 3))) == as_tuple(m)


def test_as_dict_feeds_rubric():
    m = M.binary_metrics(*expand(40, 10, 5, 45))
    assert M.rubric(**m.as_dict()).label == "good"


# --------------------------------------------------------------------------- counts


def test_confusion_counts_validate_their_cells():
    c = M.ConfusionCounts(tp=np.int64(3), fp=1, fn=0, tn=2)
    assert type(c.tp) is int and c.total == 6 and "total 6" in str(c)
    with pytest.raises(ValueError, match="fn must be >= 0.*got -1"):
        M.ConfusionCounts(tp=1, fp=1, fn=-1, tn=1)
    with pytest.raises(TypeError, match="tp must be a whole number.*2.5"):
        M.ConfusionCounts(tp=2.5, fp=1, fn=1, tn=1)


@pytest.mark.parametrize(
    "matrix, error, match",
    [
        ([[1, 2, 3], [4, 5, 6]], ValueError, r"must be 2x2.*\(2, 3\)"),
        ([1, 2, 3, 4], ValueError, r"must be 2x2.*\(4,\)"),
        ([[1, -2], [3, 4]], ValueError, r"negative counts: \[\[1, -2\], \[3, 4\]\]"),
        ([[1.5, 2], [3, 4]], ValueError, "whole counts"),
        ([["a", "b"], ["c", "d"]], TypeError, "integer counts"),
    ],
)
def test_counts_from_matrix_bad_input(matrix, error, match):
    with pytest.raises(error, match=match):
        M.counts_from_matrix(matrix)


def test_counts_from_matrix_reads_both_orders():
    rng = np.random.default_rng(1)
    y_true, y_pred = rng.integers(0, 2, 50), rng.integers(0, 2, 50)
    expected = M.confusion_counts(y_true, y_pred)
    sk = confusion_matrix(y_true, y_pred, labels=[0, 1])
    assert M.counts_from_matrix(sk, positive_first=False) == expected
    assert M.counts_from_matrix(confusion_matrix(y_true, y_pred, labels=[1, 0])) == expected
    assert M.counts_from_matrix(np.array(sk, dtype=float), positive_first=False) == expected


def test_metrics_from_counts_bad_input():
    with pytest.raises(TypeError, match="must be a ConfusionCounts, got list"):
        M.metrics_from_counts([40, 5, 10, 45])
    with pytest.raises(ValueError, match="all zero"):
        M.metrics_from_counts(M.ConfusionCounts(0, 0, 0, 0))


@pytest.mark.parametrize(
    "y_true, y_pred, kwargs, error, match",
    [
        ([], [], {}, ValueError, "y_true is empty"),
        ([0, 1, 1], [0, 1], {}, ValueError, "y_true has 3 samples but y_pred has 2"),
        ([0, 1, 2], [0, 1, 1], {}, ValueError, r"3 distinct labels \[0, 1, 2\].*per_class"),
        ([0, 1, 1], [0.2, 0.7, 0.9], {}, ValueError, "looks like scores: threshold"),
        ([0, 2, 2], [0, 2, 0], {}, ValueError, r"positive=1 is not one of the labels \[0, 2\]"),
        (["ham", "ham"], ["ham", "ham"], {}, ValueError, "positive=1 is not one of"),
        ([[0, 1]], [[0, 1]], {}, ValueError, r"must be 1-D.*\(1, 2\)"),
        ([0.0, np.nan], [0, 1], {}, ValueError, "1 NaN"),
        ("0101", [0, 1, 0, 1], {}, TypeError, "1-D array-like"),
    ],
)
def test_binary_metrics_bad_input(y_true, y_pred, kwargs, error, match):
    with pytest.raises(error, match=match):
        M.binary_metrics(y_true, y_pred, **kwargs)


def test_confusion_counts_bad_input_uses_its_own_name():
    with pytest.raises(ValueError, match="confusion_counts needs binary labels"):
        M.confusion_counts([0, 1, 2], [0, 1, 2])


# --------------------------------------------------------------------------- per class


def test_per_class_metrics_match_sklearn_classification_report():
    rng = np.random.default_rng(2)
    y_true = rng.integers(0, 4, 80)
    y_pred = np.where(rng.random(80) < 0.6, y_true, rng.integers(0, 4, 80))
    names = ["daisy", "rose", "tulip", "sunflower"]
    report = M.per_class_metrics(y_true, y_pred, class_names=names)
    sk = classification_report(
        y_true, y_pred, labels=[0, 1, 2, 3], output_dict=True, zero_division=0.0
    )
    for i, name in enumerate(names):
        row = report.row(name)
        assert row["precision"] == pytest.approx(sk[str(i)]["precision"])
        assert row["recall"] == pytest.approx(sk[str(i)]["recall"])
        assert row["f1"] == pytest.approx(sk[str(i)]["f1-score"])
        assert row["support"] == sk[str(i)]["support"]
    for avg, key in ((report.macro, "macro avg"), (report.weighted, "weighted avg")):
        assert (avg.precision, avg.recall, avg.f1) == pytest.approx(
            (sk[key]["precision"], sk[key]["recall"], sk[key]["f1-score"])
        )
    assert report.accuracy == pytest.approx(accuracy_score(y_true, y_pred))

    text = str(report)
    assert text.splitlines()[0].split() == ["class", "precision", "recall", "f1", "support"]
    assert f"{report.macro.recall:.3f}" in next(
        line for line in text.splitlines() if line.startswith("macro avg")
    )
    assert any(line.startswith("weighted avg") for line in text.splitlines())
    with pytest.raises(ValueError, match="unknown class 'lily'"):
        report.row("lily")


def test_per_class_metrics_keeps_absent_classes_and_raw_labels():
    report = M.per_class_metrics([0, 1, 1], [0, 1, 0], class_names=["a", "b", "c"])
    assert report.class_names == ("a", "b", "c") and report.support == (1, 2, 0)
    assert report.precision[2] == 0.0  # never predicted, never present: 0.0, no warning
    raw = M.per_class_metrics(["cat", "dog", "dog"], ["cat", "dog", "cat"])
    assert raw.class_names == ("cat", "dog")
    assert raw.recall == pytest.approx((1.0, 0.5))


def test_per_class_metrics_macro_exposes_a_neglected_rare_class():
    y_true = np.array([0] * 95 + [1] * 5)
    y_pred = np.zeros(100, dtype=int)
    report = M.per_class_metrics(y_true, y_pred)
    assert report.accuracy == pytest.approx(0.95)
    assert report.macro.recall == pytest.approx(0.5)
    assert report.weighted.recall == pytest.approx(0.95)


def test_per_class_metrics_bad_input():
    with pytest.raises(ValueError, match=r"labels must be integers 0..1.*\[2\]"):
        M.per_class_metrics([0, 1, 2], [0, 1, 1], class_names=["a", "b"])
    with pytest.raises(TypeError, match="the string 'ab'"):
        M.per_class_metrics([0, 1], [0, 1], class_names="ab")
    with pytest.raises(ValueError, match="2 samples but y_pred has 1"):
        M.per_class_metrics([0, 1], [0])


# --------------------------------------------------------------------------- rubric


def test_rubric_worked_example_is_good_and_quotes_numbers():
    m = M.metrics_from_counts(M.counts_from_matrix([[40, 10], [5, 45]]))
    verdict = M.rubric(m.accuracy, m.precision, m.recall, m.f1)
    assert verdict.label == "good"
    assert any("0.850" in r for r in verdict.reasons) and any("0.889" in r for r in verdict.reasons)
    assert str(verdict).startswith("good: ")


def test_rubric_fraud_model_is_bad_because_of_recall():
    verdict = M.rubric(accuracy=0.98, precision=0.80, recall=0.12)
    assert verdict.label == "bad"
    assert any("recall 0.120" in r for r in verdict.reasons)
    assert not any(r.startswith("precision") for r in verdict.reasons)


@pytest.mark.parametrize(
    "args, label, fragment",
    [
        ((0.55, 0.9, 0.9), "bad", "accuracy 0.550 is below"),
        ((0.9, M.BAD_PRECISION, 0.9), "bad", f"precision {M.BAD_PRECISION:.3f} is at or below"),
        ((0.9, 0.9, M.BAD_RECALL), "bad", f"recall {M.BAD_RECALL:.3f} is at or below"),
        ((M.GOOD_ACCURACY, 0.9, 0.9), "mixed", f"accuracy {M.GOOD_ACCURACY:.3f} is not above"),
        ((0.9, 0.9, 0.9, 0.7), "mixed", "f1 0.700 is not above"),
        ((0.7, 0.6, 0.5), "mixed", "precision 0.600 is not above"),
    ],
)
def test_rubric_cut_offs(args, label, fragment):
    verdict = M.rubric(*args)
    assert verdict.label == label
    assert any(fragment in r for r in verdict.reasons), verdict.reasons


def test_rubric_is_the_curriculums_and_has_no_gap_rule():
    """A spam filter at precision 0.98, recall 0.78: every cut-off of the curriculum holds."""
    spam = M.metrics_from_counts(M.ConfusionCounts(tp=390, fp=8, fn=110, tn=1492))
    assert (round(spam.precision, 2), round(spam.recall, 2)) == (0.98, 0.78)
    verdict = M.rubric(**spam.as_dict())
    assert verdict.label == "good"
    assert not any("gap" in r or "balance" in r for r in verdict.reasons)
    # The same lopsided numbers the other way round are good too: the rubric has no favourite.
    assert M.rubric(0.94, 0.78, 0.98).label == "good"
    # "F1 balanced": with P and R above 0.75, F1 (their harmonic mean) is above 0.75 too.
    assert M.rubric(0.81, 0.76, 0.99).reasons[-1].startswith("f1 0.860 is above")


def test_course_policy_lets_the_use_decide_the_balance():
    spam = 0.941, 0.98, 0.78
    assert M.course_policy(*spam, use_case="spam filtering").label == "good"
    screening = M.course_policy(*spam, use_case="cancer screening")
    assert screening.label == "mixed"
    assert "recall 0.780 is 0.200 below precision 0.980" in str(screening)
    assert "missed cases" in str(screening)
    unstated = M.course_policy(*spam)
    assert unstated.label == "mixed" and "no use case" in str(unstated)
    # Recall the stronger side: right for screening and fraud, wrong for spam.
    flipped = 0.941, 0.78, 0.98
    assert M.course_policy(*flipped, use_case="screening").label == "good"
    assert M.course_policy(*flipped, use_case="fraud").label == "good"
    assert M.course_policy(*flipped, use_case="spam").label == "mixed"


def test_course_policy_never_beats_the_rubric():
    cases = [
        (0.98, 0.5, 0.12),
        (0.655, 0.52, 1.0),
        (0.9, 0.9, 0.88),
        (0.85, 0.889, 0.8),
        (0.941, 0.98, 0.78),
        (0.55, 0.4, 0.9),
    ]
    for args in cases:
        seed = M.rubric(*args).label
        for use_case in (None, "spam", "screening", "fraud"):
            ours = M.course_policy(*args, use_case=use_case)
            assert ours.label == seed or (seed, ours.label) == ("good", "mixed"), (args, use_case)
    balanced = M.course_policy(0.9, 0.9, 0.88, use_case="spam")
    assert balanced.label == "good" and "gap 0.020 is at most 0.15" in str(balanced)


def test_course_policy_bad_input():
    with pytest.raises(ValueError, match="unknown use case 'weather'"):
        M.course_policy(0.9, 0.9, 0.9, use_case="weather")
    with pytest.raises(TypeError, match="use_case must be a string"):
        M.course_policy(0.9, 0.9, 0.9, use_case=3)
    with pytest.raises(ValueError, match="precision must be between 0 and 1"):
        M.course_policy(0.9, 90, 0.9, use_case="spam")


def test_rubric_just_inside_good_and_just_outside_bad():
    eps = 1e-6
    good = M.GOOD_ACCURACY + eps, M.GOOD_PRECISION + eps, M.GOOD_RECALL + eps
    assert M.rubric(*good).label == "good"
    assert M.rubric(M.BAD_ACCURACY, M.BAD_PRECISION + eps, M.BAD_RECALL + eps).label == "mixed"


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((85, 0.9, 0.9), ValueError, r"accuracy must be between 0 and 1, got 85.0.*percentage"),
        ((0.9, -0.1, 0.9), ValueError, "precision must be between 0 and 1, got -0.1"),
        ((0.9, 0.9, float("nan")), ValueError, "recall must be between 0 and 1, got nan"),
        ((0.9, 0.9, "high"), TypeError, "recall must be a number.*'high'"),
        ((0.9, 0.9, 0.9, True), TypeError, "f1 must be a number"),
    ],
)
def test_rubric_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        M.rubric(*args)


# --------------------------------------------------------------------------- use cases


@pytest.mark.parametrize(
    "use_case, metric",
    [
        ("spam", "precision"),
        ("Spam Filtering", "precision"),
        ("cancer", "recall"),
        ("cancer-screening", "recall"),
        ("  SCREENING ", "recall"),
        ("disease", "recall"),
        ("fraud", "recall"),
        ("fraud_detection", "recall"),
    ],
)
def test_metric_for_use_case(use_case, metric):
    advice = M.metric_for_use_case(use_case)
    assert advice.metric == metric
    assert advice.reason and str(advice).startswith(metric)


def test_metric_for_use_case_reasons_name_the_costly_error():
    assert "good mails flagged" in M.metric_for_use_case("spam").reason
    assert "missed cases" in M.metric_for_use_case("cancer").reason


def test_metric_for_use_case_unknown():
    with pytest.raises(ValueError, match=r"unknown use case 'weather'.*'fraud'.*'spam'"):
        M.metric_for_use_case("weather")
    with pytest.raises(TypeError, match="must be a string"):
        M.metric_for_use_case(None)


# --------------------------------------------------------------------------- baseline


def test_majority_baseline_shows_the_accuracy_paradox():
    rng = np.random.default_rng(3)
    y_train = (rng.random(500) < 0.1).astype(int)
    y_test = (rng.random(200) < 0.1).astype(int)
    m = M.majority_baseline(y_train, y_test)
    assert m.accuracy == pytest.approx(np.mean(y_test == 0))
    assert m.accuracy > 0.85
    assert (m.recall, m.precision, m.f1) == (0.0, 0.0, 0.0)
    assert M.rubric(m.accuracy, m.precision, m.recall).label == "bad"


def test_majority_baseline_can_predict_the_positive_class():
    y_train, y_test = ["fraud", "fraud", "ok"], ["ok", "fraud", "fraud", "fraud"]
    m = M.majority_baseline(y_train, y_test, positive="fraud")
    assert (m.recall, m.precision, m.accuracy) == (1.0, 0.75, 0.75)
    dummy = DummyClassifier(strategy="most_frequent").fit([[0]] * 3, y_train)
    assert m.counts.tp == sum(dummy.predict([[0]] * 4) == np.array(y_test))


def test_majority_baseline_bad_input():
    with pytest.raises(ValueError, match="y_train is empty"):
        M.majority_baseline([], [0, 1])
    with pytest.raises(ValueError, match=r"majority_baseline needs binary labels.*\[0, 1, 2\]"):
        M.majority_baseline([0, 1, 2], [0, 1])


# --------------------------------------------------------------------------- thresholds


@pytest.fixture
def scored():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 120)
    scores = np.clip(0.35 * y + 0.65 * rng.random(120), 0, 1).round(2)  # rounding -> ties
    return y, scores


def test_threshold_sweep_matches_binary_metrics_at_every_threshold(scored):
    y, s = scored
    sweep = M.threshold_sweep(y, s)
    assert np.array_equal(sweep.thresholds, np.unique(s)) and len(sweep) == len(np.unique(s))
    for t, p, r, f in zip(sweep.thresholds, sweep.precision, sweep.recall, sweep.f1, strict=True):
        m = M.binary_metrics(y, (s >= t).astype(int))
        assert (p, r, f) == pytest.approx((m.precision, m.recall, m.f1))
    assert np.all(np.diff(sweep.recall) <= 0)  # recall never rises with the threshold
    assert sweep.recall[0] == 1.0
    with pytest.raises(ValueError):
        sweep.recall[0] = 0.5  # read-only


def test_threshold_sweep_with_given_thresholds(scored):
    y, s = scored
    thresholds = [-1.0, 0.0, 0.333, 0.5, 0.77, 1.5]
    sweep = M.threshold_sweep(y, s, thresholds)
    assert sweep.thresholds.tolist() == thresholds
    for t, p, r in zip(thresholds, sweep.precision, sweep.recall, strict=True):
        m = M.binary_metrics(y, (s >= t).astype(int))
        assert (p, r) == pytest.approx((m.precision, m.recall))
    # Above every score nothing is positive: all zero by policy.
    assert (sweep.precision[-1], sweep.recall[-1], sweep.f1[-1]) == (0.0, 0.0, 0.0)
    text = str(sweep)
    assert "threshold" in text and "0.500" in text


def test_threshold_sweep_str_shortens_long_sweeps():
    rng = np.random.default_rng(0)
    sweep = M.threshold_sweep(rng.integers(0, 2, 300), rng.random(300))
    assert f"of {len(sweep)} thresholds shown" in str(sweep)


@pytest.mark.parametrize(
    "y, scores, thresholds, match",
    [
        ([0, 1, 1], [0.1, np.nan, 0.5], None, "scores contains 1 NaN"),
        ([0, 1, 1], [0.1, np.inf, 0.5], None, "1 infinite"),
        ([0, 1, 1], [0.1, 0.5], None, "y_true has 3 samples but scores has 2"),
        ([0, 0, 0], [0.1, 0.2, 0.5], None, "no positive samples"),
        ([0, 1, 2], [0.1, 0.2, 0.5], None, "threshold_sweep needs binary labels"),
        ([0, 1, 1], [0.1, 0.2, 0.5], [0.5, np.nan], "thresholds contains 1 NaN"),
        ([0, 1, 1], [0.1, 0.2, 0.5], [], "thresholds is empty"),
    ],
)
def test_threshold_sweep_bad_input(y, scores, thresholds, match):
    with pytest.raises(ValueError, match=match):
        M.threshold_sweep(y, scores, thresholds)


def brute_force(y, s, floor, constrained):
    """The rule by enumeration: min_recall -> the highest threshold that meets it;
    min_precision -> the best recall that meets it, ties to the higher threshold."""
    best = None
    for t in np.unique(s):
        m = M.binary_metrics(y, (s >= t).astype(int))
        if constrained == "recall":
            if m.recall >= floor and (best is None or t > best[1]):
                best = (None, t)
        elif m.precision >= floor and (best is None or (m.recall, t) > best[0]):
            best = ((m.recall, t), t)
    return best[1]


@pytest.mark.parametrize("floor", [0.5, 0.8, 0.95, 1.0])
def test_choose_threshold_min_recall(scored, floor):
    y, s = scored
    t = M.choose_threshold(y, s, min_recall=floor)
    assert t == brute_force(y, s, floor, "recall")
    assert M.binary_metrics(y, (s >= t).astype(int)).recall >= floor


@pytest.mark.parametrize("floor", [0.6, 0.75, 0.9])
def test_choose_threshold_min_precision(scored, floor):
    y, s = scored
    t = M.choose_threshold(y, s, min_precision=floor)
    assert t == brute_force(y, s, floor, "precision")
    assert M.binary_metrics(y, (s >= t).astype(int)).precision >= floor


def test_choose_threshold_trades_recall_for_precision(scored):
    y, s = scored
    assert M.choose_threshold(y, s, min_recall=0.95) < M.choose_threshold(y, s, min_precision=0.9)


def test_choose_threshold_takes_the_highest_threshold_not_the_best_precision():
    """The course's one rule (lessons 6 and 7): the highest threshold that meets the target."""
    y = [0, 1, 1, 1, 0]
    s = [0.9, 0.8, 0.7, 0.6, 0.5]
    # recall >= 1/3 at 0.8 (precision 0.5) and at 0.6 (precision 0.75, recall 1.0)
    assert M.choose_threshold(y, s, min_recall=0.3) == 0.8
    assert M.binary_metrics(y, (np.array(s) >= 0.6).astype(int)).precision == 0.75
    y = [0, 1, 0, 1]
    s = [0.9, 0.8, 0.7, 0.6]  # equal precision 0.5 at 0.8 and 0.6: the higher flags fewer
    assert M.choose_threshold(y, s, min_recall=0.5) == 0.8


def test_choose_threshold_unreachable_constraint_says_the_best():
    y = [0, 1, 0, 1]
    s = [0.9, 0.8, 0.1, 0.2]  # the top score is a negative: best is 2 of 3 at threshold 0.2
    best = M.threshold_sweep(y, s).precision.max()
    assert best == pytest.approx(2 / 3)
    match = r"precision >= 0.900; the best achievable is precision 0.667 at threshold 0.200"
    with pytest.raises(ValueError, match=match):
        M.choose_threshold(y, s, min_precision=0.9)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({}, ValueError, "exactly one constraint"),
        ({"min_recall": 0.5, "min_precision": 0.5}, ValueError, "exactly one constraint"),
        ({"min_recall": 80}, ValueError, "min_recall must be between 0 and 1, got 80"),
        ({"min_precision": "0.8"}, TypeError, "min_precision must be a number"),
    ],
)
def test_choose_threshold_bad_constraints(kwargs, error, match):
    with pytest.raises(error, match=match):
        M.choose_threshold([0, 1], [0.2, 0.7], **kwargs)
