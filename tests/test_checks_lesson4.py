import re

import pytest
import torch
from torch import nn

from course_utils.checks import ExerciseError
from course_utils.checks import lesson4 as checks

pytestmark = pytest.mark.long(33)

CASES = [(1, 2048, 1024, 10), (32, 512, 2048, 5), (8, 768, 512, 2), (64, 1280, 1000, 1280)]


def parse_ok(message):
    found = re.search(r"\((\d+)x(\d+) and (\d+)x(\d+)\)", message)
    _, produced, expected, _ = map(int, found.groups())
    return produced, expected


def last_linear_path(model):
    return [n for n, m in model.named_modules() if isinstance(m, nn.Linear)][-1]


def set_module(model, path, module):
    parent, _, child = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def repair_ok(model, example):
    path = last_linear_path(model)
    old = model.get_submodule(path)
    set_module(model, path, nn.Identity())
    with torch.no_grad():
        features = model.eval()(example).shape[-1]
    set_module(model, path, nn.Linear(features, old.out_features))
    return model


def failure(check, *args, **kwargs) -> ExerciseError:
    with pytest.raises(ExerciseError) as info:
        check(*args, **kwargs)
    return info.value


def test_shape_error_message_is_pytorchs_own_text():
    assert checks.shape_error_message(1, 2048, 1024, 10) == (
        "mat1 and mat2 shapes cannot be multiplied (1x2048 and 1024x10)"
    )
    with pytest.raises(ValueError, match="no mismatch"):
        checks.shape_error_message(1, 512, 512, 3)


def test_parse_correct_passes_on_many_messages(capsys):
    checks.check_parse_shape_error(parse_ok, CASES)
    assert capsys.readouterr().out.startswith("Correct:")


def mid(err):
    return err.misconception_id.split(".", 1)[1]


@pytest.mark.parametrize(
    ("answer", "misconception"),
    [
        (lambda m: parse_ok(m)[::-1], "swapped_numbers"),
        (lambda m: tuple(int(n) for n in re.findall(r"\d+", m)[:2]), "batch_as_features"),
        (lambda m: (parse_ok(m)[0], int(re.findall(r"\d+", m)[-1])), "output_size_blamed"),
        (lambda m: (2048, 1024), "numbers_not_from_message"),
        (lambda m: ("2048", "1024"), "not_two_ints"),
        (lambda m: None, "not_two_ints"),
    ],
)
def test_parse_misconceptions_are_named(answer, misconception):
    err = failure(checks.check_parse_shape_error, answer, CASES)
    assert mid(err) == misconception
    assert checks.MISCONCEPTIONS[misconception].text in str(err)


def anchored(message):
    found = re.match(r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x", message)
    return int(found.group(2)), int(found.group(3))


def test_parse_visible_check_catches_an_anchored_pattern_and_typed_numbers():
    assert mid(failure(checks.check_parse_shape_error, anchored)) == "anchored_pattern"
    assert mid(failure(checks.check_parse_shape_error, lambda m: (2048, 1024))) == (
        "numbers_not_from_message"
    )
    checks.check_parse_shape_error(parse_ok)
    checks.check_parse_shape_error(parse_ok, CASES, prefix="RuntimeError: ")

    def by_index(message):  # assumes no digits before PyTorch's text but mat1's and mat2's
        numbers = re.findall(r"\d+", message)
        return int(numbers[3]), int(numbers[4])

    checks.check_parse_shape_error(by_index, CASES)
    err = failure(checks.check_parse_shape_error, by_index, CASES, prefix="line 12: ")
    assert mid(err) == "anchored_pattern"


def test_parse_success_message_says_what_was_checked(capsys):
    checks.check_parse_shape_error(parse_ok)
    out = capsys.readouterr().out
    assert (
        "(1x2048 and 1024x10)" in out and "(32x512 and 2048x5)" in out and "with and without" in out
    )


def test_parse_error_inside_the_answer_becomes_feedback():
    def fragile(message):
        return tuple(int(n) for n in message.split("(")[1].split(" and ")[0].split("x"))[::-1][0]

    err = failure(checks.check_parse_shape_error, lambda m: int("x"), CASES)
    assert err.misconception_id == "course.code_error"
    assert "ValueError" in err.observed
    assert mid(failure(checks.check_parse_shape_error, fragile)) == "not_two_ints"


def test_parse_rejects_non_function():
    assert mid(failure(checks.check_parse_shape_error, "2048")) == "not_a_function"


def fits_ok(model, example, num_classes):
    was_training = model.training
    try:
        with torch.no_grad():
            out = model.eval()(example)
    except RuntimeError:
        return False
    finally:
        model.train(was_training)
    return tuple(out.shape) == (len(example), num_classes)


def fits_other_style(model, example, num_classes):
    mode = model.training
    model.eval()
    with torch.inference_mode():
        try:
            logits = model(example)
        except RuntimeError as err:
            if "cannot be multiplied" in str(err):
                return False
            raise
        finally:
            model.train(mode)
    return logits.shape == torch.Size([example.shape[0], num_classes])


def fits_no_restore(model, example, num_classes):
    try:
        with torch.no_grad():
            out = model.eval()(example)
    except RuntimeError:
        return False
    return tuple(out.shape) == (len(example), num_classes)


def fits_in_train_mode(model, example, num_classes):
    try:
        with torch.no_grad():
            out = model(example)
    except RuntimeError:
        return False
    return tuple(out.shape) == (len(example), num_classes)


@pytest.mark.parametrize(
    "answer, observed",
    [(fits_no_restore, "left in eval mode"), (fits_in_train_mode, "BatchNorm statistics moved")],
)
def test_head_fits_that_changes_the_callers_model_fails(answer, observed):
    """Right answers, but the caller's model is not as it was: named after every answer."""
    err = failure(checks.check_head_fits, answer)
    assert err.misconception == "the caller's model changed (mode, BatchNorm statistics or head)"
    assert observed in str(err)


HIDDEN_FITS = [
    ("resnet34", "typed_512", 3, 1),
    ("densenet121", "fits", 7, 4),
    ("efficientnet_b0", "wrong_classes", 3, 2),
    ("resnet50", "unused_classifier", 2, 1),
]


@pytest.mark.parametrize("answer", [fits_ok, fits_other_style])
def test_head_fits_correct_passes_and_says_what_it_checked(answer, capsys):
    checks.check_head_fits(answer)
    out = capsys.readouterr().out
    assert "resnet18 (fits)" in out and "mobilenet_v3_small (fits)" in out
    checks.check_head_fits(answer, HIDDEN_FITS)


def no_catch(model, example, num_classes):
    with torch.no_grad():
        return tuple(model(example).shape) == (len(example), num_classes)


def only_errors(model, example, num_classes):
    try:
        with torch.no_grad():
            model(example)
    except RuntimeError:
        return False
    return True


def attributes_only(model, example, num_classes):
    return model.fc.out_features == num_classes


def fixed_batch(model, example, num_classes):
    try:
        with torch.no_grad():
            out = model(example)
    except RuntimeError:
        return False
    return tuple(out.shape) == (2, num_classes)


def returns_shape(model, example, num_classes):
    with torch.no_grad():
        try:
            return tuple(model(example).shape)
        except RuntimeError:
            return None


@pytest.mark.parametrize(
    ("answer", "misconception"),
    [
        (no_catch, "shape_error_escapes"),
        (only_errors, "only_errors_checked"),
        (attributes_only, "no_forward_pass"),
        (fixed_batch, "fixed_batch"),
        (returns_shape, "not_a_bool"),
    ],
)
def test_head_fits_visible_check_names_the_mistake(answer, misconception):
    assert mid(failure(checks.check_head_fits, answer)) == misconception


def test_head_fits_resnet_only_answer_is_named():
    def via_fc(model, example, num_classes):
        return fits_ok(model, example, num_classes) and model.fc.out_features == num_classes

    assert mid(failure(checks.check_head_fits, via_fc)) == "resnet_only"


def test_fit_case_rejects_unknown_change():
    with pytest.raises(ValueError, match="unknown change"):
        checks.fit_case("resnet18", "nonsense", 3)


@pytest.mark.parametrize(
    ("arch", "wrong_in", "num_classes"),
    [
        ("resnet50", 1024, 10),
        ("resnet18", 2048, 5),
        ("mobilenet_v3_small", 1000, 3),
        ("densenet121", 2048, 4),
    ],
)
def test_repair_correct_passes_on_other_architectures(arch, wrong_in, num_classes):
    checks.check_repair_head(repair_ok, arch, wrong_in, num_classes)


def test_repair_visible_check_uses_two_families(capsys):
    checks.check_repair_head(repair_ok)
    out = capsys.readouterr().out
    assert "resnet50 (head at 'fc'" in out and "mobilenet_v3_small (head at 'classifier.3'" in out


def test_repair_misconceptions():
    def reads_broken_layer(model, example):
        path = last_linear_path(model)
        old = model.get_submodule(path)
        set_module(model, path, nn.Linear(old.in_features, old.out_features))
        return model

    def changes_output(model, example):
        repair_ok(model, example)
        path = last_linear_path(model)
        set_module(model, path, nn.Linear(model.get_submodule(path).in_features, 1000))
        return model

    def resnet_only(model, example):
        model.fc = nn.Linear(2048, model.fc.out_features)
        return model

    def resnet_measured(model, example):
        model.fc = nn.Identity()
        with torch.no_grad():
            n = model(example).shape[-1]
        model.fc = nn.Linear(n, 10)
        return model

    def numel(model, example):
        path = last_linear_path(model)
        old = model.get_submodule(path)
        set_module(model, path, nn.Identity())
        with torch.no_grad():
            n = model.eval()(example).numel()
        set_module(model, path, nn.Linear(n, old.out_features))
        return model

    assert mid(failure(checks.check_repair_head, reads_broken_layer)) == "broken_in_kept"
    assert mid(failure(checks.check_repair_head, changes_output)) == "output_size_blamed"
    assert mid(failure(checks.check_repair_head, resnet_only)) == "resnet_only"
    assert mid(failure(checks.check_repair_head, resnet_measured)) == "resnet_only"
    assert mid(failure(checks.check_repair_head, numel)) == "counted_batch"
    err = failure(checks.check_repair_head, resnet_only, "resnet18", 1024, 3)
    assert mid(err) == "typed_in_features"
    assert mid(failure(checks.check_repair_head, lambda m, x: None)) == "nothing_returned"


@pytest.mark.parametrize(
    "arch",
    [
        "resnet18",
        "resnet50",
        "mobilenet_v3_small",
        "densenet121",
        "efficientnet_b0",
        "regnet_y_400mf",
    ],
)
def test_the_original_heads_in_features_is_what_arrives(arch):
    # check_repair_head reads the expected size from a fresh model instead of measuring it.
    model = checks.broken_model(arch, 7, 5)
    original = checks.build_model(arch).get_submodule(last_linear_path(model))
    assert checks.measured_features(model, torch.zeros(2, 3, 64, 64)) == original.in_features
