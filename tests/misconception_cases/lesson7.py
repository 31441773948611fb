"""Lesson 7's misconception corpus: choosing on validation, top losses, threshold, test report, verdict."""

from misconception_cases import Case

L = "lesson7"

CHOICE_ON_TEST = """val_accuracy = {}
for name, candidate in candidates.items():
    labels, predictions, _ = training.evaluate(candidate, splits.test)
    val_accuracy[name] = float((predictions == labels).mean())
chosen = max(val_accuracy, key=val_accuracy.get)
model = candidates[chosen]
"""

CHOICE_OTHER_STYLE = """val_accuracy = {
    name: metrics.per_class_metrics(*training.evaluate(m, splits.val)[:2]).accuracy
    for name, m in candidates.items()
}
chosen = "head" if val_accuracy["head"] >= val_accuracy["full"] else "full"
model = candidates[chosen]
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

_VAL = """val_labels, val_pred, val_probs = training.evaluate(model, splits.val)
is_primrose_val = val_labels == PRIMROSE
primrose_val_scores = val_probs[:, PRIMROSE]
"""

THRESHOLD_FROM_TEST = (
    _VAL
    + """t_labels, _, t_probs = training.evaluate(model, splits.test)
screening_threshold = metrics.choose_threshold(
    t_labels == PRIMROSE, t_probs[:, PRIMROSE], min_recall=VAL_RECALL, positive=True
)
"""
)

THRESHOLD_TOO_LOW = _VAL + "screening_threshold = 0.0\n"

# The rule written with a strict `>`: the highest score whose `>` recall meets the target.
THRESHOLD_STRICT = (
    _VAL
    + """screening_threshold = max(
    t for t in np.unique(primrose_val_scores)
    if (primrose_val_scores[is_primrose_val] > t).mean() >= VAL_RECALL
)
"""
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

RECALL_ONLY = """def decide(recall, precision):
    if recall >= TARGET_RECALL:
        return "deploy"
    return "do not deploy"


verdict = decide(test_recall, test_precision)
"""

STRICT = """def decide(recall, precision):
    if recall > TARGET_RECALL and precision > MIN_PRECISION:
        return "deploy"
    return "do not deploy"


verdict = decide(test_recall, test_precision)
"""

CASES = [
    Case(
        "validation accuracy measured on the test set",
        L,
        "choice_answer",
        CHOICE_ON_TEST,
        visible="lesson7.measured_on_test",
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
        "threshold chosen on the test set",
        L,
        "ex4_answer",
        THRESHOLD_FROM_TEST,
        visible="lesson7.threshold_from_test",
    ),
    Case(
        "threshold 0: flags everything",
        L,
        "ex4_answer",
        THRESHOLD_TOO_LOW,
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
        "only the recall requirement", L, "ex6_answer", RECALL_ONLY, visible="lesson7.recall_only"
    ),
    Case(
        "'at least' read as 'more than'",
        L,
        "ex6_answer",
        STRICT,
        visible="lesson7.at_least_as_more_than",
    ),
]
