import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from course_utils import backbones, data, heads, metrics, training
from course_utils.checks import ExerciseError
from course_utils.checks import lesson7 as checks

SCREENED = "primrose"


def failure(check, *args, **kwargs) -> ExerciseError:
    with pytest.raises(ExerciseError) as info:
        check(*args, **kwargs)
    return info.value


def prepare_ok(model, num_classes):
    head = heads.find_head(model)
    for p in model.parameters():
        p.requires_grad = False
    heads.set_module(model, head.path, nn.Linear(head.in_features, num_classes))
    return model


def tiny():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 6), nn.ReLU(), nn.Linear(6, 4))


OTHER_CASES = [
    (lambda: torchvision.models.mobilenet_v3_small(num_classes=24), 3),
    (lambda: torchvision.models.regnet_y_400mf(num_classes=10), 7),
    (tiny, 9),
]


@pytest.fixture(scope="module")
def splits():
    return data.target_splits(train_per_class=20, val_per_class=20, test_per_class=20, seed=0)


@pytest.fixture(scope="module")
def trained(splits):
    torch.manual_seed(0)
    model = prepare_ok(backbones.load_backbone("resnet18", weights="course"), 5)
    training.fine_tune(model, splits.train, splits.val, epochs=20, lr=1e-2, mode="head",
                       device="cpu")
    return model


def scores(model, split):
    labels, predictions, probs = training.evaluate(model, split, device="cpu")
    index = split.classes.index(SCREENED)
    return labels == index, probs[:, index], predictions == index


# --- exercise 1: prepare_model ---------------------------------------------------------------


def test_prepare_correct_passes_on_the_course_model_and_other_architectures(capsys):
    checks.check_prepare_model(prepare_ok)
    checks.check_prepare_model(prepare_ok, OTHER_CASES)
    library = lambda m, n: heads.replace_head(m, n, freeze_backbone=True)  # noqa: E731
    checks.check_prepare_model(library, OTHER_CASES[:1])

    def with_dropout(model, num_classes):
        model.requires_grad_(False)
        model.fc = nn.Sequential(nn.Dropout(0.2), nn.Linear(model.fc.in_features, num_classes))
        return model

    checks.check_prepare_model(with_dropout)
    assert capsys.readouterr().out.startswith("Correct:")


def test_prepare_freezing_after_the_swap_is_named():
    def late_freeze(model, num_classes):
        heads.replace_head(model, num_classes)
        for p in model.parameters():
            p.requires_grad = False
        return model

    err = failure(checks.check_prepare_model, late_freeze, OTHER_CASES[2:])
    assert err.misconception == "froze after swapping: the new head is frozen too"


def test_prepare_not_freezing_is_named():
    err = failure(checks.check_prepare_model, lambda m, n: heads.replace_head(m, n),
                  OTHER_CASES[2:])
    assert err.misconception == "backbone not frozen"


def test_prepare_typed_resnet18_numbers_fail_elsewhere():
    def typed(model, num_classes):
        for p in model.parameters():
            p.requires_grad = False
        model.fc = nn.Linear(512, num_classes)
        return model

    checks.check_prepare_model(typed)  # passes the visible ResNet-18 case ...
    err = failure(checks.check_prepare_model, typed, OTHER_CASES[1:2])  # ... not RegNet's fc
    assert err.misconception == "in_features typed, not read from the model"

    def five(model, num_classes):
        return prepare_ok(model, 5)

    err = failure(checks.check_prepare_model, five, OTHER_CASES[:1])
    assert err.misconception == "wrong out_features"


def test_prepare_other_wrong_answers_are_named():
    def no_return(model, num_classes):
        prepare_ok(model, num_classes)

    assert failure(checks.check_prepare_model, no_return, OTHER_CASES[2:]).misconception == (
        "model not returned"
    )

    def edit_in_place(model, num_classes):
        model.requires_grad_(False)
        head = heads.find_head(model).module
        head.out_features = num_classes
        head.requires_grad_(True)
        return model

    err = failure(checks.check_prepare_model, edit_in_place, OTHER_CASES[2:])
    assert err.misconception == "head edited in place"

    def fresh_model(model, num_classes):
        return prepare_ok(nn.Sequential(nn.Flatten(), nn.Linear(12, 6), nn.ReLU(),
                                        nn.Linear(6, 4)), num_classes)

    err = failure(checks.check_prepare_model, fresh_model, OTHER_CASES[2:])
    assert err.misconception == "backbone weights replaced"

    def added_elsewhere(model, num_classes):
        model.requires_grad_(False)
        model.classifier = nn.Linear(512, num_classes)  # a ResNet never calls it
        return model

    err = failure(checks.check_prepare_model, added_elsewhere)
    assert err.misconception == "head not replaced"
    assert failure(checks.check_prepare_model, "model.fc").misconception == "not a function"
    err = failure(checks.check_prepare_model, lambda m, n: [][0], OTHER_CASES[2:])
    assert err.misconception == "the code does not run"


def test_prepare_unanswered_stub_raises_not_implemented():
    def stub(model, num_classes):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        checks.check_prepare_model(stub, OTHER_CASES[2:])


# --- exercise 2: the trained head ------------------------------------------------------------


def test_trained_head_passes_and_untrained_head_misses_the_target(trained, splits):
    checks.check_trained_head(trained, splits.test, 5, min_accuracy=0.6)
    untrained = prepare_ok(backbones.load_backbone("resnet18", weights="course"), 5)
    err = failure(checks.check_trained_head, untrained, splits.test, 5, min_accuracy=0.95)
    assert err.misconception == "target not met"
    err = failure(checks.check_trained_head, trained, splits.test, 4)
    assert err.misconception == "wrong out_features"


def test_full_fine_tuning_is_detected(splits):
    model = prepare_ok(backbones.load_backbone("resnet18", weights="course"), 5)
    small = splits.train.subset(np.arange(0, 100, 10))
    training.fine_tune(model, small, epochs=1, lr=1e-3, mode="full", device="cpu")
    err = failure(checks.check_trained_head, model, splits.test, 5, min_accuracy=0.0)
    assert err.misconception == "full fine-tuning instead of training the head"
    model.requires_grad_(False)
    model.fc.requires_grad_(True)  # flags repaired, but the backbone's weights moved
    err = failure(checks.check_trained_head, model, splits.test, 5, min_accuracy=0.0)
    assert err.misconception == "backbone trained or not the pretrained one"


def test_random_backbone_is_detected(splits):
    model = prepare_ok(backbones.load_backbone("resnet18", weights=None), 5)
    err = failure(checks.check_trained_head, model, splits.test, 5, min_accuracy=0.0)
    assert err.misconception == "backbone trained or not the pretrained one"


# --- exercise 3: the per-class report --------------------------------------------------------


def reports(model, splits):
    out = {}
    for name in ("val", "test"):
        split = getattr(splits, name)
        labels, predictions, _ = training.evaluate(model, split, device="cpu")
        out[name] = metrics.per_class_metrics(labels, predictions, class_names=split.classes)
    labels, predictions, _ = training.evaluate(model, splits.test, device="cpu")
    out["unnamed"] = metrics.per_class_metrics(labels, predictions)
    return out


def test_report_on_test_passes_and_on_validation_fails(trained, splits):
    r = reports(trained, splits)
    weakest = r["test"].class_names[int(np.argmin(r["test"].recall))]
    checks.check_test_report(r["test"], weakest, trained, splits.test, val=splits.val)
    if not checks._report_matches(r["val"], r["test"]):
        err = failure(checks.check_test_report, r["val"], weakest, trained, splits.test,
                      val=splits.val)
        assert err.misconception == "evaluated on validation data"
    err = failure(checks.check_test_report, r["unnamed"], weakest, trained, splits.test)
    assert err.misconception == "class names missing"
    err = failure(checks.check_test_report, r["test"], int(np.argmin(r["test"].recall)),
                  trained, splits.test)
    assert err.misconception == "index instead of name"
    strongest = r["test"].class_names[int(np.argmax(r["test"].recall))]
    if min(r["test"].recall) < max(r["test"].recall):
        err = failure(checks.check_test_report, r["test"], strongest, trained, splits.test)
        assert "recall" in err.misconception
    err = failure(checks.check_test_report, "report", weakest, trained, splits.test)
    assert err.misconception == "wrong type"


# --- exercise 4: the threshold ---------------------------------------------------------------


def test_threshold_from_validation_passes_and_from_test_is_detected(trained, splits):
    val_pos, val_scores, _ = scores(trained, splits.val)
    test_pos, test_scores, _ = scores(trained, splits.test)
    on_val = metrics.choose_threshold(val_pos, val_scores, min_recall=0.9, positive=True)
    kw = {"positive": SCREENED, "min_recall": 0.9}
    checks.check_threshold_on_validation(on_val, trained, splits.val, **kw)
    checks.check_threshold_not_from_test(on_val, trained, splits.val, splits.test, **kw)
    checks.check_threshold_not_from_test(np.float32(on_val), trained, splits.val, splits.test,
                                         **kw)
    on_test = metrics.choose_threshold(test_pos, test_scores, min_recall=0.9, positive=True)
    assert on_test not in val_scores
    err = failure(checks.check_threshold_not_from_test, on_test, trained, splits.val,
                  splits.test, **kw)
    assert err.misconception == "threshold chosen on the test set"


def test_threshold_wrong_choices_on_validation_are_named(trained, splits):
    kw = {"positive": SCREENED, "min_recall": 0.9}
    err = failure(checks.check_threshold_on_validation, 1.5, trained, splits.val, **kw)
    assert err.misconception == "threshold does not meet the target on validation data"
    err = failure(checks.check_threshold_on_validation, 0.0, trained, splits.val, **kw)
    assert err.misconception == "threshold lower than needed"
    err = failure(checks.check_threshold_on_validation, [0.5], trained, splits.val, **kw)
    assert err.misconception == "not a number"


# --- exercise 5: test measurement and target -------------------------------------------------


def test_measurement_right_numbers_pass_and_wrong_sources_are_named(trained, splits):
    t = 0.05  # low enough that the threshold changes the answers compared with argmax
    test_pos, test_scores, test_argmax = scores(trained, splits.test)
    right = metrics.binary_metrics(test_pos, test_scores >= t, positive=True)
    kw = {"positive": SCREENED, "val": splits.val}
    checks.check_test_measurement(right.recall, right.precision, trained, t, splits.test, **kw)
    checks.check_test_measurement(np.float64(right.recall), torch.tensor(right.precision),
                                  trained, t, splits.test, **kw)

    argmax = metrics.binary_metrics(test_pos, test_argmax, positive=True)
    if (argmax.recall, argmax.precision) != (right.recall, right.precision):
        err = failure(checks.check_test_measurement, argmax.recall, argmax.precision, trained, t,
                      splits.test, **kw)
        assert err.misconception == "threshold not applied"

    val_pos, val_scores, _ = scores(trained, splits.val)
    on_val = metrics.binary_metrics(val_pos, val_scores >= t, positive=True)
    if (on_val.recall, on_val.precision) != (right.recall, right.precision):
        err = failure(checks.check_test_measurement, on_val.recall, on_val.precision, trained, t,
                      splits.test, **kw)
        assert err.misconception == "validation numbers reported as test"

    if right.recall != right.precision:
        err = failure(checks.check_test_measurement, right.precision, right.recall, trained, t,
                      splits.test, **kw)
        assert err.misconception == "precision and recall swapped"
    err = failure(checks.check_test_measurement, 100 * right.recall, 100 * right.precision,
                  trained, t, splits.test, **kw)
    assert err.misconception == "percent instead of a fraction"
    err = failure(checks.check_test_measurement, 0.123, 0.456, trained, t, splits.test, **kw)
    assert err.misconception == "numbers not measured"


def test_use_case_target_gives_points_only_when_met(trained, splits):
    checks.check_use_case_target(trained, 0.0, splits.test, positive=SCREENED, min_recall=0.9)
    err = failure(checks.check_use_case_target, trained, 2.0, splits.test, positive=SCREENED,
                  min_recall=0.9)
    assert err.misconception == "target not met"


# --- exercise 6: decide and the verdict ------------------------------------------------------

RULE = {"min_recall": 0.9, "min_precision": 0.5}
DECIDE_CASES = [(0.95, 0.30), (0.89, 0.99), (0.90, 0.50), (1.0, 1.0), (0.2, 0.99)]


def decide_ok(recall, precision):
    return "deploy" if recall >= 0.9 and precision >= 0.5 else "do not deploy"


def test_decide_correct_passes_and_each_shortcut_is_named():
    checks.check_decide(decide_ok, DECIDE_CASES, **RULE)
    shortcuts = {
        "precision requirement ignored": lambda r, p: "deploy" if r >= 0.9 else "do not deploy",
        "a high precision taken for a good screening":
            lambda r, p: "deploy" if p >= 0.5 else "do not deploy",
        "'at least' read as 'more than'":
            lambda r, p: "deploy" if r > 0.9 and p > 0.5 else "do not deploy",
    }
    for name, wrong in shortcuts.items():
        assert failure(checks.check_decide, wrong, DECIDE_CASES, **RULE).misconception == name
    err = failure(checks.check_decide, lambda r, p: r >= 0.9, DECIDE_CASES, **RULE)
    assert err.misconception == "not a verdict"
    assert failure(checks.check_decide, "deploy", DECIDE_CASES, **RULE).misconception == (
        "not a function"
    )


def test_verdict_must_agree_with_the_re_measured_metrics(trained, splits):
    kw = {"positive": SCREENED, **RULE}
    # Threshold 0: every image flagged, recall 1.0, precision 0.2 -> do not deploy.
    checks.check_verdict("do not deploy", decide_ok, trained, 0.0, splits.test, **kw)
    checks.check_verdict(" Do not deploy ", decide_ok, trained, 0.0, splits.test, **kw)
    err = failure(checks.check_verdict, "deploy", decide_ok, trained, 0.0, splits.test, **kw)
    assert err.misconception == "verdict disagrees with the measurements"
    # A good threshold but an unreachable recall target: accuracy is high, the verdict is no.
    val_pos, val_scores, _ = scores(trained, splits.val)
    t = metrics.choose_threshold(val_pos, val_scores, min_recall=0.9, positive=True)
    strict = {"positive": SCREENED, "min_recall": 1.01, "min_precision": 0.5}
    err = failure(checks.check_verdict, "deploy", lambda r, p: "deploy", trained, t,
                  splits.test, **strict)
    assert err.misconception == "judged by accuracy (the accuracy paradox)"
    # A verdict typed against the student's own decide.
    err = failure(checks.check_verdict, "do not deploy", lambda r, p: "deploy", trained, 0.0,
                  splits.test, **kw)
    assert err.misconception == "typed verdict"
    err = failure(checks.check_verdict, True, decide_ok, trained, 0.0, splits.test, **kw)
    assert err.misconception == "not a verdict"


def test_a_head_wrapped_in_sequential_is_accepted(splits):
    model = backbones.load_backbone("resnet18", weights="course").requires_grad_(False)
    model.fc = nn.Sequential(nn.Dropout(0.2), nn.Linear(model.fc.in_features, 5))
    training.fine_tune(model, splits.train, epochs=2, lr=1e-2, mode="head", device="cpu")
    checks.check_trained_head(model, splits.test, 5, min_accuracy=0.0)
