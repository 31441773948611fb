"""Checkers for lesson 7: the capstone, end to end on a held-out test set.

The checkers never trust a number the student typed: they re-measure the
student's own model on the data (``training.evaluate``) and judge the
answer against those measurements. So a verdict that agrees with the
student's measured metrics passes even when their numbers differ from the
reference solution's, and a typed verdict that disagrees fails.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from course_utils import backbones, heads, metrics, training
from course_utils.checks._feedback import call_student as _call
from course_utils.checks._feedback import correct, fail

VERDICTS = ("deploy", "do not deploy")
# Forgive float rounding between a threshold and the scores it was read from.
ROUNDING = 1e-6



def _require(value: Any, kind: type | tuple[type, ...], expected: str, hint: str) -> None:
    if not isinstance(value, kind) or isinstance(value, bool):
        fail(expected, f"a {type(value).__name__}: {value!r:.80}", hint, "wrong type")


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
            "not a number",
        )
    value = float(value)
    if not math.isfinite(value):
        fail(f"{name} as a finite number", f"{value}", "check how it was computed.", "not a number")
    return value


def _trainable(model: nn.Module) -> set[str]:
    return {name for name, p in model.named_parameters() if p.requires_grad}


def _param_names(module: nn.Module, prefix: str) -> set[str]:
    return {f"{prefix}.{name}" for name, _ in module.named_parameters()}


def _backbone_state(model: nn.Module, *head_paths: str) -> dict[str, torch.Tensor]:
    """Every parameter and buffer outside the head(s), BatchNorm statistics included, on CPU."""
    return {
        k: v.detach().cpu().clone()
        for k, v in model.state_dict().items()
        if not any(k == p or k.startswith(p + ".") for p in head_paths)
    }


def _changed(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> list[str]:
    return [k for k, v in before.items() if k not in after or not torch.equal(v, after[k])]


# --- exercise 1: pick the head, freeze, swap -------------------------------------------------


def course_resnet18() -> nn.Module:
    """The course's pretrained ResNet-18 (24 source classes), the capstone's starting point."""
    return backbones.load_backbone("resnet18", weights="course")


def check_prepare_model(
    prepare_model: Callable[[nn.Module, int], nn.Module],
    cases: Iterable[tuple[Callable[[], nn.Module], int]] | None = None,
) -> None:
    """``prepare_model(model, num_classes)`` freezes everything, then swaps in a trainable head.

    ``cases`` are ``(make_model, num_classes)`` pairs; the default is the course
    ResNet-18 with 5 classes. Every case gets a fresh model, so an answer typed
    for ResNet-18 (``nn.Linear(512, 5)``) fails on other architectures.
    """
    if not callable(prepare_model):
        fail(
            "a function prepare_model(model, num_classes) -> model",
            f"a {type(prepare_model).__name__}",
            "define it with def prepare_model(model, num_classes): ...",
            "not a function",
        )
    for make_model, num_classes in cases if cases is not None else [(course_resnet18, 5)]:
        model = make_model()
        old = heads.find_head(model)
        name = type(model).__name__
        backbone_before = _backbone_state(model, old.path)
        got = _call(prepare_model, model, num_classes, what=f"prepare_model({name}, {num_classes})")
        if got is None:
            fail(
                "prepare_model to return the model",
                "it returned None",
                "end the function with return model.",
                "model not returned",
            )
        _require(got, nn.Module, "an nn.Module", "return the model you changed.")
        try:
            new = heads.find_head(got)
        except ValueError as err:
            fail(f"a model whose head sits at {old.path!r}", str(err),
                 "replace the head where find_head found it, with set_module.", "head misplaced")
        case = (f"{name} with {num_classes} classes (its head {old.path!r} takes "
                f"{old.in_features} features)")
        # A head wrapped in nn.Sequential (e.g. dropout, then the Linear) sits below old.path.
        if new.path != old.path and not new.path.startswith(old.path + "."):
            fail(f"the new head at {old.path!r}", f"the head is now at {new.path!r}",
                 "replace the layer at find_head(model).path; do not add a new attribute.",
                 "head misplaced")
        if tuple(new.module.weight.shape) != (new.out_features, new.in_features):
            fail(f"a freshly built nn.Linear({old.in_features}, {num_classes})",
                 f"a layer whose weight has shape {tuple(new.module.weight.shape)} but claims "
                 f"{new.in_features} -> {new.out_features}",
                 "build a new layer; changing the attributes of the old one does not resize it.",
                 "head edited in place")
        if new.module is old.module or new.out_features == old.out_features != num_classes:
            fail(f"a new head with out_features={num_classes} for {case}",
                 f"the old head with out_features={old.out_features} is still there",
                 "build a new nn.Linear and put it where the old head was.", "head not replaced")
        if new.in_features != old.in_features:
            typed = " (a ResNet-18's 512 typed in)" if new.in_features == 512 else ""
            fail(f"in_features={old.in_features} for {case}",
                 f"in_features={new.in_features}{typed}",
                 "read in_features from the head that find_head returns; never type it.",
                 "in_features typed, not read from the model")
        if new.out_features != num_classes:
            fail(f"out_features={num_classes} (one output per class) for {case}",
                 f"out_features={new.out_features}",
                 "use the num_classes argument, not a number typed for one task.",
                 "wrong out_features")
        trainable = _trainable(got)
        head_params = _param_names(heads.get_module(got, old.path), old.path)
        if not trainable & head_params:
            fail(f"a trainable head for {case}", "the new head has requires_grad=False",
                 "freeze first, then swap: a freshly built layer is trainable by default.",
                 "froze after swapping: the new head is frozen too")
        if trainable - head_params:
            extra = sorted(trainable - head_params)
            fail(f"only the head's parameters trainable for {case}",
                 f"{len(extra)} backbone parameters still train, e.g. {extra[:3]}",
                 "set requires_grad=False on every existing parameter before the swap.",
                 "backbone not frozen")
        changed = _changed(backbone_before, _backbone_state(got, new.path))
        if changed:
            fail(f"the pretrained backbone of {case} kept as it was",
                 f"{len(changed)} backbone tensors changed, e.g. {changed[:3]}",
                 "change only the head; do not reload or re-initialise the model.",
                 "backbone weights replaced")
    correct("find the head, freeze everything, then swap: only the new head will train, and "
            "its in_features come from the model.")


# --- exercise 2: fine-tune the head, measured on the test set -------------------------------


def check_trained_head(
    model: nn.Module, test: Any, num_classes: int, *, min_accuracy: float = 0.80
) -> None:
    """Only the head trained (the backbone equals the course weights) and test accuracy is met."""
    _require(model, nn.Module, "model to be the fine-tuned nn.Module", "keep the name model.")
    info = heads.find_head(model)
    if info.out_features != num_classes:
        fail(f"a head with out_features={num_classes}", f"out_features={info.out_features}",
             "prepare the model with prepare_model(..., num_classes) before training.",
             "wrong out_features")
    trainable = _trainable(model)
    if trainable - _param_names(info.module, info.path):
        fail("only the head trainable after head-only fine-tuning",
             f"{len(trainable)} trainable parameter tensors, the backbone's included",
             "train with mode='head' (feature extraction), as the use case asks.",
             "full fine-tuning instead of training the head")
    reference = course_resnet18()
    paths = (info.path, heads.find_head(reference).path)  # "fc", or "fc.1" inside a Sequential
    changed = _changed(_backbone_state(reference, *paths), _backbone_state(model, *paths))
    if changed:
        fail("the backbone identical to the course's pretrained one",
             f"{len(changed)} backbone tensors differ, e.g. {changed[:3]}",
             "start from load_backbone('resnet18', weights='course') and train with mode='head'; "
             "a backbone that trained or moved its BatchNorm statistics is no longer frozen.",
             "backbone trained or not the pretrained one")
    labels, predictions, _ = training.evaluate(model, test)
    accuracy = float((labels == predictions).mean())
    if accuracy < min_accuracy:
        fail(f"test accuracy >= {min_accuracy:.2f}", f"test accuracy {accuracy:.3f}",
             "train the head for more epochs or with a larger learning rate, and check that it "
             "was trained at all.", "target not met")
    correct(f"only the head trained; test accuracy {accuracy:.3f} >= {min_accuracy:.2f}.")


# --- exercise 3: per-class evaluation on the test set ---------------------------------------


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
    _require(test_report, metrics.ClassReport, "test_report from metrics.per_class_metrics",
             "test_report = metrics.per_class_metrics(labels, predictions, class_names=...).")
    labels, predictions, _ = training.evaluate(model, test)
    measured = metrics.per_class_metrics(labels, predictions, class_names=test.classes)
    if not _report_matches(test_report, measured):
        on_val = None
        if val is not None:
            vl, vp, _ = training.evaluate(model, val)
            on_val = metrics.per_class_metrics(vl, vp, class_names=val.classes)
        if on_val is not None and _report_matches(test_report, on_val):
            fail("the per-class report of the held-out TEST set",
                 "the report of the validation set",
                 "validation data chose the settings; the test set gives the final, unbiased "
                 "numbers. Evaluate on splits.test.", "evaluated on validation data")
        fail("the per-class report of this model on the test set",
             f"recall per class {np.round(test_report.recall, 3).tolist()}, but the model "
             f"measures {np.round(measured.recall, 3).tolist()} on the test set",
             "evaluate the trained model on splits.test and build the report from its labels "
             "and predictions.", "report not measured on this model's test predictions")
    if tuple(test_report.class_names) != tuple(test.classes):
        fail(f"class names {list(test.classes)} in the report",
             f"{list(test_report.class_names)}",
             "pass class_names=splits.test.classes so the table names the flowers.",
             "class names missing")
    lowest = min(measured.recall)
    weakest = [n for n, r in zip(measured.class_names, measured.recall, strict=True) if r == lowest]
    if isinstance(weakest_class, numbers.Integral) and not isinstance(weakest_class, bool):
        fail(f"a class name, e.g. {weakest[0]!r}", f"the index {weakest_class}",
             "look the name up in test_report.class_names.", "index instead of name")
    if weakest_class not in weakest:
        by_precision = measured.class_names[int(np.argmin(measured.precision))]
        name = ("lowest precision instead of lowest recall"
                if weakest_class == by_precision else "not the class with the lowest recall")
        fail(f"the class with the lowest test recall: {' or '.join(weakest)}",
             f"{weakest_class!r}",
             "the weakest class is the one the model FINDS least often: compare the recall "
             "column.", name)
    correct(f"{weakest_class} has the lowest test recall ({lowest:.3f}).")


# --- exercise 4: a threshold chosen on validation --------------------------------------------


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
    """The threshold reaches ``min_recall`` on VALIDATION data without flagging far too much."""
    t = _number(threshold, "the threshold")
    is_pos, scores = _class_scores(model, val, positive)
    at = _at(is_pos, scores, t)
    if at.recall < min_recall:
        fail(f"a threshold with {positive} recall >= {min_recall} on the validation set",
             f"threshold {t:.4g} gives validation recall {at.recall:.3f}",
             "choose the threshold on splits.val: the highest one that still reaches the "
             "recall target there.", "threshold does not meet the target on validation data")
    best = _at(is_pos, scores, metrics.choose_threshold(is_pos, scores, min_recall=min_recall,
                                                        positive=True))
    if at.precision < 0.8 * best.precision:
        fail(f"a threshold that meets recall >= {min_recall} without flagging far more than needed",
             f"threshold {t:.4g} flags {at.counts.tp + at.counts.fp} validation images with "
             f"precision {at.precision:.3f}, where {best.precision:.3f} is reachable",
             "among the thresholds that meet the recall target, keep the highest.",
             "threshold lower than needed")
    correct(f"threshold {t:.4g}: validation recall {at.recall:.3f}, precision {at.precision:.3f}.")


def check_threshold_not_from_test(
    threshold: Any, model: nn.Module, val: Any, test: Any, *, positive: str, min_recall: float
) -> None:
    """Detect a threshold read off the test set: the test set must only report, never choose."""
    t = _number(threshold, "the threshold")
    val_pos, val_scores = _class_scores(model, val, positive)
    test_pos, test_scores = _class_scores(model, test, positive)

    def among(scores: np.ndarray) -> bool:
        return bool(np.any(np.abs(scores - t) <= ROUNDING * max(1.0, abs(t))))

    chosen_on_val = metrics.choose_threshold(val_pos, val_scores, min_recall=min_recall,
                                             positive=True)
    chosen_on_test = metrics.choose_threshold(test_pos, test_scores, min_recall=min_recall,
                                              positive=True)
    same_as_test_choice = math.isclose(t, chosen_on_test, rel_tol=0, abs_tol=ROUNDING)
    val_flags = _at(val_pos, val_scores, t).counts
    val_choice_flags = _at(val_pos, val_scores, chosen_on_val).counts
    if (among(test_scores) and not among(val_scores)) or (
        same_as_test_choice and val_flags != val_choice_flags
    ):
        fail("a threshold chosen on the validation set, then reported on the test set",
             f"threshold {t:.6g} is one of the test set's own scores for {positive}",
             "a threshold tuned on the test set makes the test metrics optimistic: they no "
             "longer measure new data. Choose on splits.val.",
             "threshold chosen on the test set")
    correct("the threshold comes from validation data; the test set stayed unseen.")


# --- exercise 5: test metrics at the threshold, and the use case's target --------------------


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
        correct(f"on the test set, at threshold {t:.4g}: recall {measured.recall:.3f}, "
                f"precision {measured.precision:.3f}.")
        return
    if recall > 1 or precision > 1:
        fail("fractions between 0 and 1", f"recall {recall:g}, precision {precision:g}",
             "report 0.95, not 95.", "percent instead of a fraction")
    if math.isclose(recall, measured.precision, abs_tol=1e-6) and math.isclose(
        precision, measured.recall, abs_tol=1e-6
    ):
        fail("test_recall and test_precision", "the two values swapped",
             "recall divides by the real positives, precision by the flagged ones.",
             "precision and recall swapped")
    labels, predictions, _ = training.evaluate(model, test)
    index = test.classes.index(positive)
    argmax = metrics.binary_metrics(labels == index, predictions == index, positive=True)
    if math.isclose(recall, argmax.recall, abs_tol=1e-6) and math.isclose(
        precision, argmax.precision, abs_tol=1e-6
    ):
        fail(f"the test metrics at your threshold {t:.4g}",
             "the metrics of the plain argmax predictions: the threshold was not applied",
             f"flag an image when its {positive} probability >= the threshold.",
             "threshold not applied")
    if val is not None:
        val_measured = _at(*_class_scores(model, val, positive), t)
        if math.isclose(recall, val_measured.recall, abs_tol=1e-6) and math.isclose(
            precision, val_measured.precision, abs_tol=1e-6
        ):
            fail("the metrics measured on the held-out TEST set",
                 "the validation set's metrics",
                 "the threshold was chosen on validation, so its validation numbers are "
                 "optimistic: report the test set's.", "validation numbers reported as test")
    fail(f"the test set's recall and precision for {positive} at threshold {t:.4g}",
         f"recall {recall:.3f}, precision {precision:.3f}; the model measures recall "
         f"{measured.recall:.3f}, precision {measured.precision:.3f}",
         "compute them from the test probabilities with your threshold; never type them.",
         "numbers not measured")


def check_use_case_target(
    model: nn.Module, threshold: Any, test: Any, *, positive: str, min_recall: float
) -> None:
    """Points for meeting the use case on the held-out test set: recall >= ``min_recall``."""
    t = _number(threshold, "the threshold")
    measured = _at(*_class_scores(model, test, positive), t)
    if measured.recall < min_recall:
        fail(f"{positive} recall >= {min_recall} on the test set",
             f"test recall {measured.recall:.3f} at threshold {t:.4g}",
             "a threshold that just meets the target on a small validation set often misses "
             "it on new data: choose it with a safety margin.", "target not met")
    correct(f"test recall {measured.recall:.3f} >= {min_recall}: the use case's target is met.")


# --- exercise 6: the verdict -----------------------------------------------------------------


def expected_verdict(recall: float, precision: float, *, min_recall: float,
                     min_precision: float) -> str:
    """'deploy' when both of the use case's requirements hold, else 'do not deploy'."""
    ok = recall >= min_recall - 1e-12 and precision >= min_precision - 1e-12
    return "deploy" if ok else "do not deploy"


def _verdict(value: Any, what: str) -> str:
    if not isinstance(value, str) or value.strip().lower() not in VERDICTS:
        fail(f"{what} as one of {list(VERDICTS)}", f"{value!r}",
             "write the verdict exactly as one of the two phrases.", "not a verdict")
    return value.strip().lower()


def check_decide(
    decide: Callable[[float, float], str],
    cases: Iterable[tuple[float, float]],
    *,
    min_recall: float,
    min_precision: float,
) -> None:
    """``decide(recall, precision)`` applies the use case's rule to any measured numbers."""
    if not callable(decide):
        fail("a function decide(recall, precision) -> verdict", f"a {type(decide).__name__}",
             "define it with def decide(recall, precision): ...", "not a function")
    for recall, precision in cases:
        got = _verdict(_call(decide, recall, precision, what=f"decide({recall}, {precision})"),
                       f"decide({recall}, {precision})")
        want = expected_verdict(recall, precision, min_recall=min_recall,
                                min_precision=min_precision)
        if got == want:
            continue
        if got == "deploy" and recall < min_recall <= 1 and precision >= min_precision:
            name = "a high precision taken for a good screening"
        elif got == "deploy" and recall >= min_recall and precision < min_precision:
            name = "precision requirement ignored"
        elif got == "do not deploy" and (
            math.isclose(recall, min_recall) or math.isclose(precision, min_precision)
        ):
            name = "'at least' read as 'more than'"
        else:
            name = "rule not applied"
        fail(f"{want!r} for recall {recall}, precision {precision} (the use case needs recall "
             f">= {min_recall} and precision >= {min_precision})",
             f"{got!r}", "compare both measured numbers with both requirements.", name)
    correct("decide applies both requirements of the use case to any measured numbers.")


def check_verdict(
    verdict: Any,
    decide: Callable[[float, float], str],
    model: nn.Module,
    threshold: Any,
    test: Any,
    *,
    positive: str,
    min_recall: float,
    min_precision: float,
) -> None:
    """The verdict agrees with the metrics re-measured from the student's model and threshold."""
    said = _verdict(verdict, "verdict")
    t = _number(threshold, "the threshold")
    measured = _at(*_class_scores(model, test, positive), t)
    want = expected_verdict(measured.recall, measured.precision, min_recall=min_recall,
                            min_precision=min_precision)
    situation = (f"test recall {measured.recall:.3f} (needs >= {min_recall}) and precision "
                 f"{measured.precision:.3f} (needs >= {min_precision}), accuracy "
                 f"{measured.accuracy:.3f}")
    if said != want:
        if said == "deploy" and measured.accuracy >= 0.9:
            name = "judged by accuracy (the accuracy paradox)"
        else:
            name = "verdict disagrees with the measurements"
        fail(f"{want!r} for {situation}", f"{said!r}",
             "base the verdict on the measured test metrics the use case names, not on "
             "accuracy or on hope.", name)
    from_decide = _verdict(
        _call(decide, measured.recall, measured.precision, what="decide(recall, precision)"),
        "decide(...)",
    )
    if from_decide != said:
        fail("verdict = decide(test_recall, test_precision)",
             f"decide gives {from_decide!r} but verdict is {said!r}",
             "compute the verdict with your function instead of typing it.",
             "typed verdict")
    correct(f"{said!r} agrees with {situation}.")
