"""Checkers for lesson 7: the capstone, end to end on a held-out test set.

The checkers never trust a number the student typed: they re-measure the
student's own model on the data (``training.evaluate``) and judge the
answer against those measurements. So a verdict that agrees with the
student's measured metrics passes even when their numbers differ from the
reference solution's, and a typed verdict that disagrees fails. Checks that
run before the step that opens the test set measure on validation data only
and never print a test number.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from course_utils import metrics, training
from course_utils.checks._feedback import Misconception, correct, fail, registry
from course_utils.checks._toolkit import call_student as _call
from course_utils.checks._toolkit import (
    library_explainer,
    model_changes,
    model_snapshot,
    switched_off,
    to_numpy,
)

MISCONCEPTIONS = registry(
    "lesson7",
    Misconception("wrong_type", "a value of the wrong type", "the exercise's instructions"),
    Misconception("not_a_number", "not one number", "the exercise's instructions"),
    Misconception("not_a_function", "not a function", "the exercise's instructions"),
    Misconception(
        "measured_on_test",
        "validation accuracy measured on the test set",
        "Step 1: two candidates, chosen on validation",
    ),
    Misconception(
        "measured_on_train",
        "training accuracy used instead of validation accuracy",
        "Step 1: two candidates, chosen on validation",
    ),
    Misconception(
        "accuracy_not_measured",
        "accuracies not measured on these models",
        "Step 1: two candidates, chosen on validation",
    ),
    Misconception(
        "chose_on_test",
        "candidate chosen on test accuracy",
        "Step 1: two candidates, chosen on validation",
    ),
    Misconception(
        "one_seed_only",
        "the first seed's accuracy taken for the candidate's mean over its seeds",
        "Step 1: two candidates, chosen on validation",
    ),
    Misconception(
        "not_the_best_on_val",
        "not the candidate with the best validation accuracy",
        "Step 1: two candidates, chosen on validation",
    ),
    Misconception(
        "lowest_losses",
        "the easiest images (lowest loss) instead of the worst",
        "Step 2: look at the errors",
    ),
    Misconception(
        "least_confident",
        "the least confident images instead of the highest loss",
        "Step 2: look at the errors",
    ),
    Misconception(
        "losses_unsorted",
        "the right images, not sorted from the worst",
        "Step 2: look at the errors",
    ),
    Misconception(
        "losses_wrong_data",
        "losses not computed on the data passed in",
        "Step 2: look at the errors",
    ),
    Misconception(
        "model_changed",
        "the caller's model changed (mode, BatchNorm statistics or head)",
        "Step 2: look at the errors",
    ),
    Misconception(
        "losses_not_measured", "not the images with the highest loss", "Step 2: look at the errors"
    ),
    Misconception(
        "threshold_misses_target",
        "threshold does not meet the recall target",
        "Step 3: a threshold for the use case, chosen on validation",
    ),
    Misconception(
        "threshold_too_low",
        "threshold lower than the rule's (flags more than needed)",
        "Step 3: a threshold for the use case, chosen on validation",
    ),
    Misconception(
        "strict_greater",
        "strict > used where the rule flags score >= threshold",
        "Step 3: a threshold for the use case, chosen on validation",
    ),
    Misconception(
        "library_not_rule",
        "the library's choose_threshold called instead of the rule written out",
        "Step 3: a threshold for the use case, chosen on validation",
    ),
    Misconception(
        "threshold_from_test",
        "threshold chosen on the test set",
        "Step 3: a threshold for the use case, chosen on validation",
    ),
    Misconception(
        "report_on_validation",
        "report of the validation set, not the test set",
        "Step 4: open the test set, once",
    ),
    Misconception(
        "report_not_measured",
        "report not measured on this model's test predictions",
        "Step 4: open the test set, once",
    ),
    Misconception(
        "class_names_missing",
        "class names missing from the report",
        "Step 4: open the test set, once",
    ),
    Misconception(
        "index_not_name", "a class index instead of its name", "Step 4: open the test set, once"
    ),
    Misconception(
        "weakest_by_precision",
        "weakest class read from precision instead of recall",
        "Step 4: open the test set, once",
    ),
    Misconception(
        "not_weakest", "not the class with the lowest recall", "Step 4: open the test set, once"
    ),
    Misconception(
        "percent_not_fraction", "percent instead of a fraction", "Step 4: open the test set, once"
    ),
    Misconception(
        "precision_recall_swapped",
        "precision and recall swapped",
        "Step 4: open the test set, once",
    ),
    Misconception(
        "threshold_not_applied",
        "threshold not applied (argmax metrics)",
        "Step 4: open the test set, once",
    ),
    Misconception(
        "validation_as_test",
        "validation numbers reported as test",
        "Step 4: open the test set, once",
    ),
    Misconception(
        "numbers_not_measured", "numbers not measured", "Step 4: open the test set, once"
    ),
    Misconception(
        "averages_not_class",
        "averages over all classes reported instead of the screened class's",
        "Step 4: open the test set, once",
    ),
    Misconception("not_a_verdict", "not one of the two verdicts", "Step 5: the verdict"),
    Misconception(
        "recall_only", "requirements read one-sidedly: precision ignored", "Step 5: the verdict"
    ),
    Misconception(
        "precision_only", "requirements read one-sidedly: recall ignored", "Step 5: the verdict"
    ),
    Misconception("at_least_as_more_than", "'at least' read as 'more than'", "Step 5: the verdict"),
    Misconception(
        "verdict_disagrees", "verdict disagrees with the measurements", "Step 5: the verdict"
    ),
    Misconception("typed_verdict", "verdict typed instead of computed", "Step 5: the verdict"),
    Misconception(
        "prevalence_ignored",
        "precision judged at the test set's share of positives, not at the app's prevalence",
        "Step 5: the verdict",
    ),
    Misconception(
        "precision_formula",
        "precision at the prevalence computed wrongly from recall and FPR",
        "Step 5: the verdict",
    ),
)
M = MISCONCEPTIONS

VERDICTS = ("deploy", "do not deploy")
# Forgive float rounding between a threshold and the scores it was read from.
ROUNDING = 1e-6


def _require(value: Any, kind: type | tuple[type, ...], expected: str, hint: str) -> None:
    if not isinstance(value, kind) or isinstance(value, bool):
        fail(expected, f"a {type(value).__name__}: {value!r:.80}", hint, M["wrong_type"])


def _number(value: Any, name: str) -> float:
    # A numpy scalar, a 0-d array or a one-element tensor is one number too.
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    elif isinstance(value, np.ndarray | np.generic) and value.size == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        fail(
            f"{name} as one number",
            f"a {type(value).__name__}: {value!r:.80}",
            "store a single float, not a list, a dict or the whole report.",
            M["not_a_number"],
        )
    value = float(value)
    if not math.isfinite(value):
        fail(
            f"{name} as a finite number",
            f"{value}",
            "check how it was computed.",
            M["not_a_number"],
        )
    return value


# --- exercise 1: two candidates, chosen on validation -----------------------------------------


def _accuracy(model: nn.Module, data: Any) -> float:
    labels, predictions, _ = training.evaluate(model, data)
    return float((labels == predictions).mean())


def _runs(entry: Any) -> list[Any]:
    """A candidate's runs: one per seed (a list), or a single model or history."""
    return list(entry) if isinstance(entry, list | tuple) else [entry]


def _mean_accuracy(entry: Any, data: Any) -> float:
    return float(np.mean([_accuracy(m, data) for m in _runs(entry)]))


def choose_candidate(val_accuracy: Mapping[str, float], cheapest: str = "head") -> str:
    """The candidate with the best validation accuracy; a tie goes to ``cheapest``."""
    best = max(val_accuracy.values())
    if math.isclose(val_accuracy.get(cheapest, -1.0), best, abs_tol=1e-9):
        return cheapest
    return max(val_accuracy, key=val_accuracy.__getitem__)


def check_choice_on_validation(
    val_accuracy: Any,
    chosen: Any,
    candidates: Mapping[str, Any],
    val: Any,
    *,
    test: Any = None,
    histories: Mapping[str, Any] | None = None,
) -> None:
    """``val_accuracy`` holds each candidate's VALIDATION accuracy; ``chosen`` is the best one.

    A candidate is one model or a list of models, one per seed; its accuracy is then the
    mean over its models. The checker re-measures every model on ``val``. With ``test``
    (and ``histories``) it can also tell numbers measured on the test set (or on the
    training data, or on the first seed only) apart from validation numbers; test numbers
    are never printed.
    """
    if not isinstance(val_accuracy, Mapping) or set(val_accuracy) != set(candidates):
        fail(
            f"a dict with one validation accuracy per candidate: keys {sorted(candidates)}",
            f"{val_accuracy!r:.80}",
            "val_accuracy = {name: ... for name in candidates}.",
            M["wrong_type"],
        )
    got = {k: _number(v, f"val_accuracy[{k!r}]") for k, v in val_accuracy.items()}
    measured = {k: _mean_accuracy(m, val) for k, m in candidates.items()}
    several = any(len(_runs(m)) > 1 for m in candidates.values())

    def same(values: Mapping[str, float]) -> bool:
        return all(math.isclose(got[k], values[k], abs_tol=1e-6) for k in candidates)

    if not same(measured):
        if test is not None and same({k: _mean_accuracy(m, test) for k, m in candidates.items()}):
            fail(
                "each candidate's accuracy on the VALIDATION set",
                "the test set's accuracies",
                "the test set is opened once, after every choice: measure on splits.val.",
                M["measured_on_test"],
            )
        if histories is not None:
            for row in ("final", "kept"):
                train = {
                    k: float(np.mean([getattr(h, row)["train_acc"] for h in _runs(hs)]))
                    for k, hs in histories.items()
                }
                if same(train):
                    fail(
                        "each candidate's accuracy on the VALIDATION set",
                        "the training accuracies from the histories",
                        "training accuracy flatters a model that fits its training images; "
                        "measure on splits.val.",
                        M["measured_on_train"],
                    )
        if several and same({k: _accuracy(_runs(m)[0], val) for k, m in candidates.items()}):
            fail(
                "each candidate's MEAN validation accuracy over its seeds",
                "the first seed's accuracy only",
                "one seed can be lucky: measure every model of the list and take the mean.",
                M["one_seed_only"],
            )
        fail(
            "each candidate's accuracy on the validation set"
            + (", the mean over its seeds" if several else ""),
            f"{ {k: round(v, 3) for k, v in got.items()} }, but the models measure "
            f"{ {k: round(v, 3) for k, v in measured.items()} } there",
            "evaluate each model on splits.val with training.evaluate; never type numbers.",
            M["accuracy_not_measured"],
        )
    if not isinstance(chosen, str) or chosen not in candidates:
        fail(
            f"one of {sorted(candidates)}",
            f"{chosen!r:.80}",
            "store the candidate's name, e.g. chosen = 'head'.",
            M["wrong_type"],
        )
    want = choose_candidate(measured)
    if chosen != want:
        if test is not None and chosen == choose_candidate(
            {k: _mean_accuracy(m, test) for k, m in candidates.items()}
        ):
            fail(
                f"{want!r}, the best on validation",
                f"{chosen!r}",
                "that is the test set's favourite: the test set must not choose anything.",
                M["chose_on_test"],
            )
        fail(
            f"{want!r}: validation accuracy {measured[want]:.3f} (ties go to the cheaper 'head')",
            f"{chosen!r} with {measured[chosen]:.3f}",
            "compare the validation accuracies you measured.",
            M["not_the_best_on_val"],
        )
    over = " (the mean over its seeds)" if several else ""
    correct(
        f"{chosen!r} has the best validation accuracy{over}: {measured[chosen]:.3f}; "
        "no test number was used."
    )


# --- exercise 2: the top-loss images ------------------------------------------------------------


def _losses(model: nn.Module, data: Any) -> tuple[np.ndarray, np.ndarray]:
    labels, _, probs = training.evaluate(model, data)
    p = probs[np.arange(len(labels)), labels].astype(np.float64)
    return -np.log(np.clip(p, 1e-30, None)), probs.max(axis=1)


def _top_one(
    top_losses: Callable[[nn.Module, Any, int], Any],
    model: nn.Module,
    data: Any,
    k: int,
    where: str,
) -> np.ndarray:
    before = model_snapshot(model)
    got = _call(top_losses, model, data, k, what=f"top_losses(model, {where}, {k})")
    changed = model_changes(model, before)
    try:
        idx = to_numpy(got).astype(np.int64).reshape(-1)
    except (TypeError, ValueError):
        fail(
            f"{k} image indices",
            f"{got!r:.80}",
            "return a list or array of indices.",
            M["wrong_type"],
        )
    losses, confidence = _losses(model, data)
    order = np.argsort(-losses, kind="stable")
    if len(idx) != k or idx.min(initial=0) < 0 or idx.max(initial=0) >= len(losses):
        fail(
            f"{k} indices into the {len(losses)} images of {where}",
            f"{len(idx)} values from {idx.min(initial=0)} to {idx.max(initial=0)}",
            "return the k indices of the images with the highest loss.",
            M["wrong_type"],
        )
    top = set(order[:k].tolist())
    if set(idx.tolist()) == top or np.allclose(np.sort(losses[idx]), np.sort(losses[order[:k]])):
        if not np.all(np.diff(losses[idx]) <= 1e-9):
            fail(
                "the indices sorted from the highest loss down",
                f"losses in your order: {np.round(losses[idx], 3).tolist()}",
                "sort by loss, descending, and keep the first k.",
                M["losses_unsorted"],
            )
        if changed:
            fail(
                "top_losses to leave the model as it was",
                "; ".join(changed),
                "measure in eval mode under torch.no_grad(), and restore the mode the model "
                "was in (training.evaluate does both).",
                M["model_changed"],
            )
        return idx
    if np.allclose(np.sort(losses[idx]), np.sort(losses)[:k]):
        fail(
            f"the {k} images with the HIGHEST loss",
            "the images with the lowest loss",
            "the worst mistakes have the highest loss: sort in descending order.",
            M["lowest_losses"],
        )
    least = np.argsort(confidence, kind="stable")[:k]
    if set(idx.tolist()) == set(least.tolist()):
        fail(
            f"the {k} images with the highest loss",
            "the images whose top probability is lowest (least confident)",
            "the loss is -log(probability of the TRUE class): a confident wrong answer has "
            "the highest loss.",
            M["least_confident"],
        )
    fail(
        f"the {k} images of {where} with the highest loss",
        f"indices {idx.tolist()[:8]} with losses {np.round(losses[idx], 3).tolist()[:8]}; the "
        f"highest are {np.round(losses[order[:k]], 3).tolist()[:8]}",
        "compute the loss of each image with cross_entropy(..., reduction='none') on the data "
        "you were given.",
        M["losses_not_measured"],
    )
    return idx  # not reached


def check_top_losses(
    top_losses: Callable[[nn.Module, Any, int], Any], model: nn.Module, val: Any, k: int = 8
) -> None:
    """``top_losses(model, data, k)``: indices of the k highest-loss images, worst first.

    Checked on ``val`` and on a reordered half of it with another ``k``, so an
    answer that reads a global variable instead of ``data`` fails.
    """
    if not callable(top_losses):
        fail(
            "a function top_losses(model, data, k)",
            f"a {type(top_losses).__name__}",
            "define it with def top_losses(model, data, k): ...",
            M["not_a_function"],
        )
    _top_one(top_losses, model, val, k, "the validation set")
    half = val.subset(np.arange(len(val))[::-2])
    try:
        _top_one(top_losses, model, half, 3, "half of the validation set, reordered")
    except AssertionError as err:
        # The same function passed on the validation set: failing here means it ignored `data`.
        if getattr(err, "misconception_id", None) in (
            M["losses_not_measured"].id,
            M["wrong_type"].id,
        ):
            fail(
                "the highest-loss images of the data passed in",
                "on another data set, the answer does not follow that data",
                "use the data argument, not a global split.",
                M["losses_wrong_data"],
            )
        raise
    correct(
        f"the {k} highest-loss images of the validation set, worst first (and the 3 of a "
        "reordered half of it)."
    )


# --- exercise 4: per-class evaluation on the test set ---------------------------------------


def _report_matches(report: metrics.ClassReport, other: metrics.ClassReport) -> bool:
    return all(
        np.allclose(getattr(report, k), getattr(other, k), atol=1e-9)
        for k in ("precision", "recall", "support")
    )


def check_test_report(
    test_report: Any, weakest_class: Any, model: nn.Module, test: Any, *, val: Any = None
) -> None:
    """``test_report`` is per_class_metrics on the TEST set; ``weakest_class`` has the lowest
    recall."""
    _require(
        test_report,
        metrics.ClassReport,
        "test_report from metrics.per_class_metrics",
        "test_report = metrics.per_class_metrics(labels, predictions, class_names=...).",
    )
    labels, predictions, _ = training.evaluate(model, test)
    measured = metrics.per_class_metrics(labels, predictions, class_names=test.classes)
    if not _report_matches(test_report, measured):
        on_val = None
        if val is not None:
            vl, vp, _ = training.evaluate(model, val)
            on_val = metrics.per_class_metrics(vl, vp, class_names=val.classes)
        if on_val is not None and _report_matches(test_report, on_val):
            fail(
                "the per-class report of the held-out TEST set",
                "the report of the validation set",
                "validation data chose the settings; the test set gives the final, unbiased "
                "numbers. Evaluate on splits.test.",
                M["report_on_validation"],
            )
        fail(
            "the per-class report of this model on the test set",
            f"recall per class {np.round(test_report.recall, 3).tolist()}, but the model "
            f"measures {np.round(measured.recall, 3).tolist()} on the test set",
            "evaluate the trained model on splits.test and build the report from its labels "
            "and predictions.",
            M["report_not_measured"],
        )
    if tuple(test_report.class_names) != tuple(test.classes):
        fail(
            f"class names {list(test.classes)} in the report",
            f"{list(test_report.class_names)}",
            "pass class_names=splits.test.classes so the table names the flowers.",
            M["class_names_missing"],
        )
    lowest = min(measured.recall)
    weakest = [n for n, r in zip(measured.class_names, measured.recall, strict=True) if r == lowest]
    if isinstance(weakest_class, numbers.Integral) and not isinstance(weakest_class, bool):
        fail(
            f"a class name, e.g. {weakest[0]!r}",
            f"the index {weakest_class}",
            "look the name up in test_report.class_names.",
            M["index_not_name"],
        )
    if weakest_class not in weakest:
        by_precision = measured.class_names[int(np.argmin(measured.precision))]
        name = M["weakest_by_precision"] if weakest_class == by_precision else M["not_weakest"]
        fail(
            f"the class with the lowest test recall: {' or '.join(weakest)}",
            f"{weakest_class!r}",
            "the weakest class is the one the model FINDS least often: compare the recall column.",
            name,
        )
    correct(f"{weakest_class} has the lowest test recall ({lowest:.3f}).")


# --- exercise 3: a threshold chosen on validation --------------------------------------------


def _class_scores(model: nn.Module, data: Any, positive: str) -> tuple[np.ndarray, np.ndarray]:
    if positive not in data.classes:
        raise ValueError(f"positive={positive!r} is not one of the classes {data.classes}")
    index = data.classes.index(positive)
    labels, _, probs = training.evaluate(model, data)
    return labels == index, probs[:, index].astype(np.float64)


def _at(is_positive: np.ndarray, scores: np.ndarray, threshold: float) -> metrics.BinaryMetrics:
    flagged = scores >= threshold - ROUNDING * max(1.0, abs(threshold))
    return metrics.binary_metrics(is_positive, flagged, positive=True)


def check_threshold_on_validation(
    threshold: Any, model: nn.Module, val: Any, *, positive: str, min_recall: float
) -> None:
    """The threshold follows the course's rule on VALIDATION data (lesson 6, section 3).

    The rule: predict positive when ``score >= threshold``; take the highest threshold whose
    recall reaches ``min_recall`` (``metrics.choose_threshold``). Accepted: any threshold
    that flags exactly the validation images that one flags.
    """
    t = _number(threshold, "the threshold")
    is_pos, scores = _class_scores(model, val, positive)
    at = _at(is_pos, scores, t)
    if at.recall < min_recall:
        fail(
            f"a threshold with {positive} recall >= {min_recall} on the validation set",
            f"threshold {t:.4g} gives validation recall {at.recall:.3f}",
            "choose the threshold on splits.val with the rule (lesson 6, section 3): the "
            "highest one whose recall reaches the target there.",
            M["threshold_misses_target"],
        )
    rule = metrics.choose_threshold(is_pos, scores, min_recall=min_recall, positive=True)
    best = _at(is_pos, scores, rule)
    flagged, fewest = at.counts.tp + at.counts.fp, best.counts.tp + best.counts.fp
    if flagged > fewest:
        below = scores[scores < rule - ROUNDING]
        strict = below.size > 0 and math.isclose(t, float(below.max()), abs_tol=ROUNDING)
        fail(
            f"the highest threshold whose {positive} recall reaches {min_recall} on "
            "validation (predicting positive when score >= threshold)",
            f"threshold {t:.4g} flags {flagged} validation images where {fewest} meet the "
            f"target; precision {at.precision:.3f}"
            + (": with score > threshold it would flag the rule's images" if strict else ""),
            "the rule (lesson 6, section 3): among the thresholds that meet the recall "
            "target, take the highest; the rule flags score >= threshold.",
            M["strict_greater"] if strict else M["threshold_too_low"],
        )
    correct(
        f"threshold {t:.4g}: validation recall {at.recall:.3f}, precision {at.precision:.3f}, "
        f"flagging {flagged} images (the fewest that meet the target)."
    )


# Visible cases for highest_threshold: (scores, is_positive, min_recall). The first has a
# negative between the positives, so a strict > picks a lower threshold than the rule; the
# second has tied scores at the boundary.
THRESHOLD_CASES: tuple[tuple[list[float], list[int], float], ...] = (
    ([0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1], [1, 0, 1, 1, 0, 1, 0, 0], 0.75),
    ([0.8, 0.8, 0.5, 0.5, 0.2], [1, 1, 1, 0, 0], 0.5),
)


_explain_library = library_explainer(
    "the rule written out: the highest threshold whose recall reaches the target",
    "sort the positives' scores from the highest down and stop at the first threshold "
    "whose recall (flagged positives / positives) reaches min_recall.",
    M["library_not_rule"],
)


def random_threshold_case(seed: int, n: int = 60, min_recall: float = 0.9) -> tuple:
    """A made-up screening (scores, is_positive, min_recall) with ties, for the hidden tests."""
    rng = np.random.default_rng(seed)
    is_positive = rng.random(n) < 0.3
    scores = np.round(np.clip(rng.normal(0.35 + 0.35 * is_positive, 0.2), 0, 1), 2)
    return scores, is_positive, min_recall


def check_highest_threshold(
    rule: Callable[[Any, Any, float], Any],
    cases: Iterable[tuple[Any, Any, float]] | None = None,
) -> None:
    """``rule(scores, is_positive, min_recall)`` applies the course's threshold rule itself.

    Judged like :func:`check_threshold_on_validation` on each case (``THRESHOLD_CASES`` when
    none are given); ``metrics.choose_threshold`` is switched off while the rule runs
    (``switched_off``: under any name), so that an answer that only calls it is named as such.
    """
    if not callable(rule):
        fail(
            "a function highest_threshold(scores, is_positive, min_recall)",
            f"a {type(rule).__name__}",
            "define it with def highest_threshold(scores, is_positive, min_recall): ...",
            M["not_a_function"],
        )

    checked = 0
    for scores, is_positive, min_recall in cases if cases is not None else THRESHOLD_CASES:
        scores = np.asarray(scores, dtype=np.float64)
        is_pos = np.asarray(is_positive, dtype=bool)
        with switched_off(metrics.choose_threshold):
            got = _call(
                rule,
                scores.copy(),
                is_pos.copy(),
                min_recall,
                what=f"highest_threshold on {len(scores)} scores, min_recall={min_recall}",
                explain=_explain_library,
            )
        t = _number(got, "the threshold")
        at = _at(is_pos, scores, t)
        want = metrics.choose_threshold(is_pos, scores, min_recall=min_recall, positive=True)
        best = _at(is_pos, scores, want)
        where = f"scores {np.round(scores, 2).tolist()!s:.120}, positives {is_pos.astype(int).tolist()!s:.80}"
        if at.recall < min_recall - 1e-12:
            fail(
                f"a threshold whose recall reaches {min_recall} ({where})",
                f"threshold {t:.4g}: recall {at.recall:.3f}",
                "recall counts the positives with score >= threshold, divided by all positives.",
                M["threshold_misses_target"],
            )
        flagged, fewest = at.counts.tp + at.counts.fp, best.counts.tp + best.counts.fp
        if flagged > fewest:
            below = scores[scores < want - ROUNDING]
            strict = below.size > 0 and math.isclose(t, float(below.max()), abs_tol=ROUNDING)
            fail(
                f"threshold {want:.4g}, the highest whose recall reaches {min_recall} ({where})",
                f"threshold {t:.4g}, which flags {flagged} where {fewest} meet the target"
                + (": a strict > would flag the rule's images" if strict else ""),
                "the rule flags score >= threshold; among the thresholds that meet the target, "
                "take the highest.",
                M["strict_greater"] if strict else M["threshold_too_low"],
            )
        checked += 1
    correct(f"the rule's threshold on {checked} made-up screenings (ties and negatives included).")


def check_threshold_not_from_test(
    threshold: Any, model: nn.Module, val: Any, test: Any, *, positive: str, min_recall: float
) -> None:
    """Detect a threshold read off the test set: the test set must only report, never choose."""
    t = _number(threshold, "the threshold")
    val_pos, val_scores = _class_scores(model, val, positive)
    test_pos, test_scores = _class_scores(model, test, positive)

    def among(scores: np.ndarray) -> bool:
        return bool(np.any(np.abs(scores - t) <= ROUNDING * max(1.0, abs(t))))

    chosen_on_val = metrics.choose_threshold(
        val_pos, val_scores, min_recall=min_recall, positive=True
    )
    chosen_on_test = metrics.choose_threshold(
        test_pos, test_scores, min_recall=min_recall, positive=True
    )
    same_as_test_choice = math.isclose(t, chosen_on_test, rel_tol=0, abs_tol=ROUNDING)
    val_flags = _at(val_pos, val_scores, t).counts
    val_choice_flags = _at(val_pos, val_scores, chosen_on_val).counts
    if (among(test_scores) and not among(val_scores)) or (
        same_as_test_choice and val_flags != val_choice_flags
    ):
        fail(
            "a threshold chosen on the validation set, then reported on the test set",
            f"threshold {t:.6g} is one of the test set's own scores for {positive}",
            "a threshold tuned on the test set makes the test metrics optimistic: they no "
            "longer measure new data. Choose on splits.val.",
            M["threshold_from_test"],
        )
    correct("the threshold comes from validation data; the test set stayed unseen.")


# --- exercise 5: test metrics at the threshold ---------------------------------------------


def check_test_measurement(
    test_recall: Any,
    test_precision: Any,
    model: nn.Module,
    threshold: Any,
    test: Any,
    *,
    positive: str,
    val: Any = None,
) -> None:
    """The reported recall and precision are the TEST set's, at the chosen threshold."""
    recall = _number(test_recall, "test_recall")
    precision = _number(test_precision, "test_precision")
    t = _number(threshold, "the threshold")
    is_pos, scores = _class_scores(model, test, positive)
    measured = _at(is_pos, scores, t)
    if math.isclose(recall, measured.recall, abs_tol=1e-6) and math.isclose(
        precision, measured.precision, abs_tol=1e-6
    ):
        correct(
            f"on the test set, at threshold {t:.4g}: recall {measured.recall:.3f}, "
            f"precision {measured.precision:.3f}."
        )
        return
    if recall > 1 or precision > 1:
        fail(
            "fractions between 0 and 1",
            f"recall {recall:g}, precision {precision:g}",
            "report 0.95, not 95.",
            M["percent_not_fraction"],
        )
    if math.isclose(recall, measured.precision, abs_tol=1e-6) and math.isclose(
        precision, measured.recall, abs_tol=1e-6
    ):
        fail(
            "test_recall and test_precision",
            "the two values swapped",
            "recall divides by the real positives, precision by the flagged ones.",
            M["precision_recall_swapped"],
        )
    labels, predictions, _ = training.evaluate(model, test)
    index = test.classes.index(positive)
    argmax = metrics.binary_metrics(labels == index, predictions == index, positive=True)
    if math.isclose(recall, argmax.recall, abs_tol=1e-6) and math.isclose(
        precision, argmax.precision, abs_tol=1e-6
    ):
        fail(
            f"the test metrics at your threshold {t:.4g}",
            "the metrics of the plain argmax predictions: the threshold was not applied",
            f"flag an image when its {positive} probability >= the threshold.",
            M["threshold_not_applied"],
        )
    report = metrics.per_class_metrics(labels, predictions, class_names=test.classes)
    for kind in ("macro", "weighted"):
        avg = getattr(report, kind)
        if math.isclose(recall, avg.recall, abs_tol=1e-6) and math.isclose(
            precision, avg.precision, abs_tol=1e-6
        ):
            fail(
                f"the {positive} class's test recall and precision at threshold {t:.4g}",
                f"the test report's {kind} averages over all {len(test.classes)} classes "
                f"(recall {avg.recall:.3f}, precision {avg.precision:.3f}): measured, but "
                f"not the {positive} screening's",
                f"the use case asks about one class: flag an image when its {positive} "
                "probability >= the threshold, and measure those flags.",
                M["averages_not_class"],
            )
    if val is not None:
        val_measured = _at(*_class_scores(model, val, positive), t)
        if math.isclose(recall, val_measured.recall, abs_tol=1e-6) and math.isclose(
            precision, val_measured.precision, abs_tol=1e-6
        ):
            fail(
                "the metrics measured on the held-out TEST set",
                "the validation set's metrics",
                "the threshold was chosen on validation, so its validation numbers are "
                "optimistic: report the test set's.",
                M["validation_as_test"],
            )
    fail(
        f"the test set's recall and precision for {positive} at threshold {t:.4g}",
        f"recall {recall:.3f}, precision {precision:.3f}; the model measures recall "
        f"{measured.recall:.3f}, precision {measured.precision:.3f}",
        "compute them from the test probabilities with your threshold; never type them.",
        M["numbers_not_measured"],
    )


# --- exercise 6: the verdict carried over to the app's prevalence -----------------------------


def _verdict(value: Any, what: str) -> str:
    if not isinstance(value, str) or value.strip().lower() not in VERDICTS:
        fail(
            f"{what} as one of {list(VERDICTS)}",
            f"{value!r}",
            "write the verdict exactly as one of the two phrases.",
            M["not_a_verdict"],
        )
    return value.strip().lower()


def precision_at(recall: float, fpr: float, prevalence: float) -> float:
    """Precision of a screening with this recall and false-positive rate where ``prevalence``
    of the cases are positive (0 when it flags nothing)."""
    true_flags = recall * prevalence
    false_flags = fpr * (1 - prevalence)
    return true_flags / (true_flags + false_flags) if true_flags + false_flags > 0 else 0.0


def expected_app_verdict(
    recall: float, fpr: float, prevalence: float, *, min_recall: float, min_precision: float
) -> str:
    """'deploy' when recall and the precision at ``prevalence`` both meet the use case."""
    precision = precision_at(recall, fpr, prevalence)
    ok = recall >= min_recall - 1e-12 and precision >= min_precision - 1e-12
    return "deploy" if ok else "do not deploy"


def check_decide_at_prevalence(
    decide: Callable[[float, float, float], str],
    cases: Iterable[tuple[float, float, float]],
    *,
    min_recall: float,
    min_precision: float,
    test_share: float = 0.2,
) -> None:
    """``decide(recall, fpr, prevalence)`` carries precision over to ``prevalence`` and applies
    both requirements. ``test_share`` is the test set's share of positives, to recognise a
    verdict that ignores the prevalence it is given."""
    if not callable(decide):
        fail(
            "a function decide(recall, fpr, prevalence) -> verdict",
            f"a {type(decide).__name__}",
            "define it with def decide(recall, fpr, prevalence): ...",
            M["not_a_function"],
        )
    rule = {"min_recall": min_recall, "min_precision": min_precision}
    checked = 0
    for recall, fpr, prevalence in cases:
        call = f"decide({recall}, {fpr}, {prevalence})"
        got = _verdict(_call(decide, recall, fpr, prevalence, what=call), call)
        want = expected_app_verdict(recall, fpr, prevalence, **rule)
        checked += 1
        if got == want:
            continue
        precision = precision_at(recall, fpr, prevalence)
        if got == "deploy" and recall < min_recall:
            name = M["precision_only"]
        elif got == "deploy" and precision_at(recall, fpr, test_share) >= min_precision:
            name = M["prevalence_ignored"]
        elif got == "deploy":
            name = M["recall_only"]
        elif math.isclose(recall, min_recall) or math.isclose(precision, min_precision):
            name = M["at_least_as_more_than"]
        else:
            name = M["precision_formula"]
        fail(
            f"{want!r} for {call}: precision there {precision:.3f} (the use case needs recall "
            f">= {min_recall} and precision >= {min_precision})",
            f"{got!r}",
            "precision at a prevalence p is recall*p / (recall*p + fpr*(1-p)) (lesson 6, "
            "section 3); then compare both numbers with both requirements.",
            name,
        )
    correct(
        f"decide carries precision over to the prevalence and applies both requirements ({checked} cases)."
    )


def check_app_verdict(
    verdict: Any,
    decide: Callable[[float, float, float], str],
    model: nn.Module,
    threshold: Any,
    test: Any,
    *,
    positive: str,
    prevalence: float,
    min_recall: float,
    min_precision: float,
) -> None:
    """The verdict agrees with recall and FPR re-measured on the test set at the student's
    threshold, with precision carried over to ``prevalence``."""
    said = _verdict(verdict, "verdict")
    t = _number(threshold, "the threshold")
    is_pos, scores = _class_scores(model, test, positive)
    measured = _at(is_pos, scores, t)
    fpr = measured.counts.fp / max(measured.counts.fp + measured.counts.tn, 1)
    precision = precision_at(measured.recall, fpr, prevalence)
    want = expected_app_verdict(
        measured.recall, fpr, prevalence, min_recall=min_recall, min_precision=min_precision
    )
    situation = (
        f"test recall {measured.recall:.3f} (needs >= {min_recall}) and FPR {fpr:.4f}, so "
        f"precision {precision:.3f} at a prevalence of {prevalence:.1%} (needs >= {min_precision})"
    )
    if said != want:
        at_test = (
            "deploy"
            if measured.recall >= min_recall and measured.precision >= min_precision
            else "do not deploy"
        )
        fail(
            f"{want!r} for {situation}",
            f"{said!r}"
            + (
                f": the verdict at the test set's share ({measured.precision:.3f} precision)"
                if said == at_test
                else ""
            ),
            "carry the precision over to the app's prevalence; base the verdict on the "
            "measured test recall and FPR.",
            M["prevalence_ignored"] if said == at_test else M["verdict_disagrees"],
        )
    from_decide = _verdict(
        _call(decide, measured.recall, fpr, prevalence, what="decide(recall, fpr, prevalence)"),
        "decide(...)",
    )
    if from_decide != said:
        fail(
            "verdict = decide(test_recall, test_fpr, APP_PREVALENCE)",
            f"decide gives {from_decide!r} but verdict is {said!r}",
            "compute the verdict with your function instead of typing it.",
            M["typed_verdict"],
        )
    correct(f"{said!r} agrees with {situation}.")
