"""Lesson 6 (metrics and their interpretation): realistic answers and what the checks must say."""

from misconception_cases import Case

L = "lesson6"

NO_GUARD = """def compute_metrics(tp, fp, fn, tn):
    precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    return {"accuracy": (tp + tn) / (tp + fp + fn + tn), "precision": precision,
            "recall": recall, "f1": 2 * precision * recall / (precision + recall)}
"""

TP_OVER_TOTAL = """def compute_metrics(tp, fp, fn, tn):
    def ratio(a, b):
        return a / b if b else 0.0

    precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
    return {"accuracy": ratio(tp, tp + fp + fn + tn), "precision": precision,
            "recall": recall, "f1": ratio(2 * precision * recall, precision + recall)}
"""

TRY_EXCEPT = """def compute_metrics(tp, fp, fn, tn):
    def safe(a, b):
        try:
            return a / b
        except ZeroDivisionError:
            return 0.0

    p, r = safe(tp, tp + fp), safe(tp, tp + fn)
    return dict(accuracy=safe(tp + tn, tp + fp + fn + tn), precision=p, recall=r,
                f1=safe(2 * p * r, p + r))
"""

DEFAULT_THRESHOLD = """def threshold_for_recall(y_true, scores, min_recall):
    return 0.5
"""

SORTED_SCORES = """def threshold_for_recall(y_true, scores, min_recall):
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=float)
    positive_scores = np.sort(s[y == 1])[::-1]
    needed = int(np.ceil(min_recall * len(positive_scores)))
    return float(positive_scores[max(needed, 1) - 1])
"""

STRICT_GREATER = """def threshold_for_recall(y_true, scores, min_recall):
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=float)
    for t in np.unique(s)[::-1]:
        if ((s > t) & (y == 1)).sum() / (y == 1).sum() >= min_recall:
            return float(t)
    return float(s.min())
"""

BEST_PRECISION = """def threshold_for_recall(y_true, scores, min_recall):
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=float)
    best, best_precision = None, -1.0
    for t in np.unique(s):
        flagged = s >= t
        recall = (flagged & (y == 1)).sum() / (y == 1).sum()
        precision = (flagged & (y == 1)).sum() / flagged.sum()
        if recall >= min_recall and precision > best_precision:
            best, best_precision = float(t), precision
    return best
"""

LOWEST_POSITIVE = """def threshold_for_recall(y_true, scores, min_recall):
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=float)
    return float(s[y == 1].min())
"""

DEFAULT_IF_MET = """def threshold_for_recall(y_true, scores, min_recall):
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=float)
    if ((s >= 0.5) & (y == 1)).sum() / (y == 1).sum() >= min_recall:
        return 0.5
    for t in np.unique(s)[::-1]:
        if ((s >= t) & (y == 1)).sum() / (y == 1).sum() >= min_recall:
            return float(t)
"""

STRICT = """def accuracy_paradox(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    _, sizes = np.unique(y_true, return_counts=True)
    return bool(np.mean(y_true == y_pred) < sizes.max() / len(y_true))
"""

ZERO_ONE = """def accuracy_paradox(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    share = y_true.mean()
    return bool(np.mean(y_true == y_pred) <= max(share, 1 - share))
"""

PRED_BASELINE = """def accuracy_paradox(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    _, sizes = np.unique(y_pred, return_counts=True)
    return bool(np.mean(y_true == y_pred) <= sizes.max() / len(y_pred))
"""

COUNTER = """from collections import Counter


def accuracy_paradox(y_true, y_pred):
    y_true, y_pred = list(y_true), list(y_pred)
    right = sum(t == p for t, p in zip(y_true, y_pred))
    return right <= Counter(y_true).most_common(1)[0][1]
"""

ACCURACY_ONLY = """def rule_of_thumb(accuracy, precision, recall):
    if accuracy > 0.80:
        return "good"
    if accuracy < 0.60:
        return "bad"
    return "mixed"
"""

BALANCE_RULE = """def rule_of_thumb(accuracy, precision, recall):
    if accuracy < 0.60 or precision <= 0.35 or recall <= 0.25:
        return "bad"
    balanced = abs(precision - recall) <= 0.15  # "F1 balanced"
    if accuracy > 0.80 and precision > 0.75 and recall > 0.75 and balanced:
        return "good"
    return "mixed"
"""

RUBRIC_WRAPPER = """def rule_of_thumb(accuracy, precision, recall):
    return metrics.rubric(accuracy=accuracy, precision=precision, recall=recall).label
"""

POLICY_WRAPPER = """def rule_of_thumb(accuracy, precision, recall):
    verdict = metrics.course_policy(accuracy=accuracy, precision=precision, recall=recall)
    return verdict.label
"""

CUTOFF_TABLE = """def rule_of_thumb(accuracy, precision, recall):
    measured = {"accuracy": accuracy, "precision": precision, "recall": recall}
    bad_at = {"accuracy": 0.60, "precision": 0.35, "recall": 0.25}
    good_above = {"accuracy": 0.80, "precision": 0.75, "recall": 0.75}
    if any(measured[k] < bad_at[k] or (k != "accuracy" and measured[k] == bad_at[k])
           for k in bad_at):
        return "bad"
    if all(measured[k] > good_above[k] for k in good_above):
        return "good"
    return "mixed"
"""

SWAPPED = """def most_confused(matrix, class_names):
    counts = np.array(matrix, dtype=float)
    np.fill_diagonal(counts, -1)
    row, col = np.unravel_index(np.argmax(counts), counts.shape)
    return class_names[col], class_names[row]
"""

DIAGONAL = """def most_confused(matrix, class_names):
    counts = np.array(matrix)
    row, col = np.unravel_index(np.argmax(counts), counts.shape)
    return class_names[row], class_names[col]
"""

LOOPS = """def most_confused(matrix, class_names):
    best, pair = -1, None
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            if i != j and count > best:
                best, pair = count, (class_names[i], class_names[j])
    return pair
"""

# Right orientation (row = true), but the largest cell of the first row with an error.
FIRST_ROW = """def most_confused(matrix, class_names):
    m = np.asarray(matrix)
    for i, row in enumerate(m):
        errors = [(count, j) for j, count in enumerate(row) if j != i and count > 0]
        if errors:
            return class_names[i], class_names[max(errors)[1]]
"""

CASES = [
    Case("metrics_divide_by_zero", L, "ex1_answer", NO_GUARD, "lesson6.division_by_zero"),
    Case("metrics_tp_over_total", L, "ex1_answer", TP_OVER_TOTAL, "lesson6.tn_not_counted"),
    Case("metrics_try_except", L, "ex1_answer", TRY_EXCEPT, "pass", "pass"),
    Case(
        "spam_recall",
        L,
        "q1_answer",
        'answer_q1 = "C"',
        "lesson6.recall_for_spam",
        named_by="hidden",
    ),
    Case(
        "spam_accuracy",
        L,
        "q1_answer",
        'answer_q1 = "A"',
        "lesson6.accuracy_for_errors",
        named_by="hidden",
    ),
    Case(
        "screening_precision",
        L,
        "q2_answer",
        'answer_q2 = "B"',
        "lesson6.precision_for_screening",
        named_by="hidden",
    ),
    Case(
        "screening_f1",
        L,
        "q2_answer",
        'answer_q2 = "D"',
        "lesson6.f1_for_unequal_costs",
        named_by="hidden",
    ),
    Case("threshold_default", L, "ex4_answer", DEFAULT_THRESHOLD, "lesson6.default_threshold_kept"),
    Case("threshold_sorted_scores", L, "ex4_answer", SORTED_SCORES, "pass", "pass"),
    Case("threshold_strict_greater", L, "ex4_answer", STRICT_GREATER, "lesson6.strict_greater"),
    Case(
        "threshold_best_precision",
        L,
        "ex4_answer",
        BEST_PRECISION,
        "lesson6.best_precision_not_highest",
    ),
    Case(
        "threshold_lowest_positive",
        L,
        "ex4_answer",
        LOWEST_POSITIVE,
        "lesson6.lowest_positive_score",
    ),
    Case(
        "threshold_default_if_met",
        L,
        "ex4_answer",
        DEFAULT_IF_MET,
        "lesson6.default_threshold_kept",
    ),
    Case(
        "fraud_accuracy",
        L,
        "q3_answer",
        'answer_q3 = "A"',
        "lesson6.accuracy_alone",
        named_by="hidden",
    ),
    Case(
        "fraud_precision",
        L,
        "q3_answer",
        'answer_q3 = "B"',
        "lesson6.precision_covers_misses",
        named_by="hidden",
    ),
    Case(
        "fraud_wait",
        L,
        "q3_answer",
        'answer_q3 = "C"',
        "lesson6.verdict_postponed",
        named_by="hidden",
    ),
    Case("rule_accuracy_only", L, "rule_answer", ACCURACY_ONLY, "lesson6.accuracy_alone"),
    Case("rule_balance_gap", L, "rule_answer", BALANCE_RULE, "lesson6.balance_rule_added"),
    Case("rule_cutoff_table", L, "rule_answer", CUTOFF_TABLE, "pass", "pass"),
    # The cell above the exercise prints metrics.rubric(...): copying that call is not the rule.
    Case("rule_rubric_wrapper", L, "rule_answer", RUBRIC_WRAPPER, "lesson6.library_not_rule"),
    Case("rule_policy_wrapper", L, "rule_answer", POLICY_WRAPPER, "lesson6.library_not_rule"),
    Case("paradox_strict", L, "ex6_answer", STRICT, "lesson6.tie_counted_as_better"),
    Case("paradox_zero_one", L, "ex6_answer", ZERO_ONE, "lesson6.binary_labels_assumed"),
    Case("paradox_counter", L, "ex6_answer", COUNTER, "pass", "pass"),
    Case(
        "paradox_baseline_from_predictions",
        L,
        "ex6_answer",
        PRED_BASELINE,
        "lesson6.baseline_from_predictions",
    ),
    Case(
        "leakage_more_data",
        L,
        "q4_answer",
        'answer_q4 = "A"',
        "lesson6.more_data_better",
        named_by="hidden",
    ),
    Case(
        "leakage_overfits",
        L,
        "q4_answer",
        'answer_q4 = "B"',
        "lesson6.leakage_as_overfitting",
        named_by="hidden",
    ),
    Case(
        "overfit_perfect",
        L,
        "q5_answer",
        'answer_q5 = "C"',
        "lesson6.perfect_train_score",
        named_by="hidden",
    ),
    Case(
        "overfit_underfit",
        L,
        "q5_answer",
        'answer_q5 = "D"',
        "lesson6.overfitting_as_underfitting",
        named_by="hidden",
    ),
    Case(
        "balance_weighted",
        L,
        "q6_answer",
        'answer_q6 = "B"',
        "lesson6.weighted_is_fair",
        named_by="hidden",
    ),
    Case(
        "curves_roc", L, "q7_answer", 'answer_q7 = "B"', "lesson6.roc_for_rare", named_by="hidden"
    ),
    Case(
        "curves_same",
        L,
        "q7_answer",
        'answer_q7 = "D"',
        "lesson6.curves_equivalent",
        named_by="hidden",
    ),
    Case("confused_swapped", L, "ex11_answer", SWAPPED, "lesson6.rows_columns_swapped"),
    Case("confused_diagonal", L, "ex11_answer", DIAGONAL, "lesson6.diagonal_counted"),
    Case("confused_loops", L, "ex11_answer", LOOPS, "pass", "pass"),
    Case("confused_first_row", L, "ex11_answer", FIRST_ROW, "lesson6.not_largest_cell"),
    Case(
        "micro_macro",
        L,
        "q8_answer",
        'answer_q8 = "A"',
        "lesson6.micro_is_macro",
        named_by="hidden",
    ),
    Case(
        "micro_needs_per_class_counts",
        L,
        "q8_answer",
        'answer_q8 = "C"',
        "lesson6.micro_needs_counts",
        named_by="hidden",
    ),
]

# Every wrong option of each graded multiple-choice item, named by its hidden test.
CASES += [
    Case(
        "q1_option_d",
        L,
        "q1_answer",
        'answer_q1 = "D"',
        "lesson6.f1_for_unequal_costs",
        named_by="hidden",
    ),
    Case(
        "q2_option_a",
        L,
        "q2_answer",
        'answer_q2 = "A"',
        "lesson6.accuracy_for_errors",
        named_by="hidden",
    ),
    Case(
        "q4_option_c",
        L,
        "q4_answer",
        'answer_q4 = "C"',
        "lesson6.leakage_as_balance",
        named_by="hidden",
    ),
    Case(
        "q5_option_b",
        L,
        "q5_answer",
        'answer_q5 = "B"',
        "lesson6.overfitting_as_leakage",
        named_by="hidden",
    ),
    Case(
        "q6_option_c",
        L,
        "q6_answer",
        'answer_q6 = "C"',
        "lesson6.macro_miscalculated",
        named_by="hidden",
    ),
    Case(
        "q6_option_d",
        L,
        "q6_answer",
        'answer_q6 = "D"',
        "lesson6.agreement_as_evidence",
        named_by="hidden",
    ),
    Case(
        "q7_option_c",
        L,
        "q7_answer",
        'answer_q7 = "C"',
        "lesson6.accuracy_curve",
        named_by="hidden",
    ),
    Case(
        "micro_counts_each_error_twice",
        L,
        "q8_answer",
        'answer_q8 = "B"',
        "lesson6.micro_double_counts",
        named_by="hidden",
    ),
]
