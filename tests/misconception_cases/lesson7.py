"""Lesson 7's misconception corpus: choosing on validation, top losses, threshold, test report, verdict."""

from misconception_cases import Case

L = "lesson7"

CHOICE_ON_TEST = """val_accuracy = {}
for name, models in candidates.items():
    accuracies = []
    for candidate in models:
        labels, predictions, _ = training.evaluate(candidate, splits.test)
        accuracies.append(float((predictions == labels).mean()))
    val_accuracy[name] = float(np.mean(accuracies))
chosen = max(val_accuracy, key=val_accuracy.get)
model = candidates[chosen][0]
"""

CHOICE_FIRST_SEED_ONLY = """val_accuracy = {}
for name, models in candidates.items():
    labels, predictions, _ = training.evaluate(models[0], splits.val)
    val_accuracy[name] = float((predictions == labels).mean())
chosen = max(val_accuracy, key=val_accuracy.get)
model = candidates[chosen][0]
"""

CHOICE_OTHER_STYLE = """val_accuracy = {
    name: float(np.mean([
        metrics.per_class_metrics(*training.evaluate(m, splits.val)[:2]).accuracy for m in models
    ]))
    for name, models in candidates.items()
}
chosen = "head" if val_accuracy["head"] >= val_accuracy["full"] else "full"
model = candidates[chosen][0]
"""

LOWEST_LOSSES = """def top_losses(model, data, k):
    labels, _, probs = training.evaluate(model, data)
    losses = -np.log(probs[np.arange(len(labels)), labels])
    return np.argsort(losses)[:k]
"""

TOP_LOSSES_TORCH = """def top_losses(model, data, k):
    x, y = data.tensors()
    model.eval()
    with torch.no_grad():
        losses = torch.nn.functional.cross_entropy(model(x), y, reduction="none")
    return losses.topk(k).indices.tolist()
"""

_APPLY = """

val_labels, val_pred, val_probs = training.evaluate(model, splits.val)
is_primrose_val = val_labels == PRIMROSE
primrose_val_scores = val_probs[:, PRIMROSE]
screening_threshold = highest_threshold(primrose_val_scores, is_primrose_val, VAL_RECALL)
"""

THRESHOLD_LIBRARY = (
    """def highest_threshold(scores, is_positive, min_recall):
    return metrics.choose_threshold(is_positive, scores, min_recall=min_recall, positive=True)
"""
    + _APPLY
)

THRESHOLD_LOWEST_POSITIVE = (
    """def highest_threshold(scores, is_positive, min_recall):
    return float(np.min(np.asarray(scores)[np.asarray(is_positive, dtype=bool)]))
"""
    + _APPLY
)

# The rule written with a strict `>`: the highest score whose `>` recall meets the target.
THRESHOLD_STRICT = (
    """def highest_threshold(scores, is_positive, min_recall):
    scores, is_positive = np.asarray(scores), np.asarray(is_positive, dtype=bool)
    return max(t for t in np.unique(scores) if (scores[is_positive] > t).mean() >= min_recall)
"""
    + _APPLY
)

THRESHOLD_FROM_TEST = """def highest_threshold(scores, is_positive, min_recall):
    positive_scores = np.sort(np.asarray(scores)[np.asarray(is_positive, dtype=bool)])[::-1]
    for threshold in positive_scores:
        if (positive_scores >= threshold).mean() >= min_recall:
            return float(threshold)


t_labels, _, t_probs = training.evaluate(model, splits.test)
screening_threshold = highest_threshold(t_probs[:, PRIMROSE], t_labels == PRIMROSE, VAL_RECALL)
"""

THRESHOLD_SORTED_COUNT = (
    """import math


def highest_threshold(scores, is_positive, min_recall):
    ranked = sorted((s for s, p in zip(scores, is_positive) if p), reverse=True)
    needed = math.ceil(min_recall * len(ranked) - 1e-9)
    return float(ranked[needed - 1])
"""
    + _APPLY
)

_TEST = "test_labels, test_pred, test_probs = training.evaluate(model, splits.test)\n"

REPORT_ON_VALIDATION = (
    _TEST
    + """vl, vp, _ = training.evaluate(model, splits.val)
test_report = metrics.per_class_metrics(vl, vp, class_names=CLASSES)
weakest_class = test_report.class_names[int(np.argmin(test_report.recall))]
"""
)

WEAKEST_AS_INDEX = (
    _TEST
    + """test_report = metrics.per_class_metrics(test_labels, test_pred, class_names=CLASSES)
weakest_class = int(np.argmin(test_report.recall))
"""
)

_MEASURED = """flagged = test_probs[:, PRIMROSE] >= screening_threshold
screening = metrics.binary_metrics(test_labels == PRIMROSE, flagged, positive=True)
"""

SWAPPED = _MEASURED + "test_recall, test_precision = screening.precision, screening.recall\n"
PERCENT = _MEASURED + (
    "test_recall, test_precision = 100 * screening.recall, 100 * screening.precision\n"
)

MACRO = "test_recall, test_precision = test_report.macro.recall, test_report.macro.precision\n"

_FPR = """

others = test_labels != PRIMROSE
test_fpr = float((test_probs[others, PRIMROSE] >= screening_threshold).mean())
verdict = decide(test_recall, test_fpr, APP_PREVALENCE)
"""

PREVALENCE_IGNORED = (
    """def decide(recall, fpr, prevalence):
    if recall >= TARGET_RECALL and test_precision >= MIN_PRECISION:
        return "deploy"
    return "do not deploy"
"""
    + _FPR
)

STRICT = (
    """def decide(recall, fpr, prevalence):
    precision = recall * prevalence / (recall * prevalence + fpr * (1 - prevalence))
    if recall > TARGET_RECALL and precision > MIN_PRECISION:
        return "deploy"
    return "do not deploy"
"""
    + _FPR
)

SPECIFICITY_FOR_FPR = (
    """def decide(recall, fpr, prevalence):
    precision = recall * prevalence / (recall * prevalence + (1 - fpr) * (1 - prevalence))
    if recall >= TARGET_RECALL and precision >= MIN_PRECISION:
        return "deploy"
    return "do not deploy"
"""
    + _FPR
)

DECIDE_BY_BAYES_IN_COUNTS = (
    """def decide(recall, fpr, prevalence, photos=100_000):
    found = recall * prevalence * photos
    false_alarms = fpr * (1 - prevalence) * photos
    enough_found = recall >= TARGET_RECALL
    mostly_real = found >= MIN_PRECISION * (found + false_alarms) and found > 0
    return "deploy" if enough_found and mostly_real else "do not deploy"
"""
    + _FPR
)

CASES = [
    Case(
        "validation accuracy measured on the test set",
        L,
        "choice_answer",
        CHOICE_ON_TEST,
        visible="lesson7.measured_on_test",
    ),
    Case(
        "the first seed's accuracy only",
        L,
        "choice_answer",
        CHOICE_FIRST_SEED_ONLY,
        visible="lesson7.one_seed_only",
    ),
    Case(
        "per_class_metrics accuracy and an explicit tie rule: right",
        L,
        "choice_answer",
        CHOICE_OTHER_STYLE,
        visible="pass",
        graded="pass",
    ),
    Case("the lowest losses", L, "errors_answer", LOWEST_LOSSES, visible="lesson7.lowest_losses"),
    Case(
        "cross_entropy(reduction='none') and topk: right",
        L,
        "errors_answer",
        TOP_LOSSES_TORCH,
        visible="pass",
        graded="pass",
    ),
    Case(
        "metrics.choose_threshold wrapped, not the rule written",
        L,
        "ex4_answer",
        THRESHOLD_LIBRARY,
        visible="lesson7.library_not_rule",
    ),
    Case(
        "the lowest positive score: flags more than needed",
        L,
        "ex4_answer",
        THRESHOLD_LOWEST_POSITIVE,
        visible="lesson7.threshold_too_low",
    ),
    Case(
        "threshold with a strict > instead of >=",
        L,
        "ex4_answer",
        THRESHOLD_STRICT,
        visible="lesson7.strict_greater",
    ),
    Case(
        "the rule applied to the test set",
        L,
        "ex4_answer",
        THRESHOLD_FROM_TEST,
        visible="lesson7.threshold_from_test",
    ),
    Case(
        "the k-th highest positive score, k counted: right",
        L,
        "ex4_answer",
        THRESHOLD_SORTED_COUNT,
        visible="pass",
        graded="pass",
    ),
    Case(
        "report of the validation set",
        L,
        "ex3_answer",
        REPORT_ON_VALIDATION,
        visible="lesson7.report_on_validation",
    ),
    Case(
        "weakest class as an index",
        L,
        "ex3_answer",
        WEAKEST_AS_INDEX,
        visible="lesson7.index_not_name",
    ),
    Case(
        "percent instead of fractions",
        L,
        "ex5_answer",
        PERCENT,
        visible="lesson7.percent_not_fraction",
    ),
    Case(
        "recall and precision swapped",
        L,
        "ex5_answer",
        SWAPPED,
        visible="lesson7.precision_recall_swapped",
    ),
    Case(
        "macro averages of the test report reported",
        L,
        "ex5_answer",
        MACRO,
        visible="lesson7.averages_not_class",
    ),
    Case(
        "precision at the test set's share: the prevalence ignored",
        L,
        "ex6_answer",
        PREVALENCE_IGNORED,
        visible="lesson7.prevalence_ignored",
    ),
    Case(
        "'at least' read as 'more than'",
        L,
        "ex6_answer",
        STRICT,
        visible="lesson7.at_least_as_more_than",
    ),
    Case(
        "1 - FPR used where FPR belongs",
        L,
        "ex6_answer",
        SPECIFICITY_FOR_FPR,
        visible="lesson7.precision_formula",
    ),
    Case(
        "expected counts per 100,000 photos: right",
        L,
        "ex6_answer",
        DECIDE_BY_BAYES_IN_COUNTS,
        visible="pass",
        graded="pass",
    ),
]
