import re

import pytest
import torch
from torch import nn

from course_utils.checks import ExerciseError
from course_utils.checks import lesson4 as checks

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


def swap_ok(model, num_classes):
    model.fc = nn.Linear(model.fc.in_features, num_classes)
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


@pytest.mark.parametrize(
    ("answer", "misconception"),
    [
        (lambda m: parse_ok(m)[::-1], "swapped order"),
        (lambda m: tuple(int(n) for n in re.findall(r"\d+", m)[:2]), "batch size read as features"),
        (lambda m: (parse_ok(m)[0], int(re.findall(r"\d+", m)[-1])), "blaming the output size"),
        (lambda m: (2048, 1024), "numbers not read from this message"),
        (lambda m: ("2048", "1024"), "wrong type"),
        (lambda m: None, "wrong type"),
    ],
)
def test_parse_misconceptions_are_named(answer, misconception):
    err = failure(checks.check_parse_shape_error, answer, CASES)
    assert err.misconception == misconception
    assert misconception in str(err)


def test_parse_with_a_traceback_prefix():
    checks.check_parse_shape_error(parse_ok, CASES, prefix="RuntimeError: ")

    def by_index(message):  # assumes no digits before PyTorch's text but mat1's and mat2's
        numbers = re.findall(r"\d+", message)
        return int(numbers[3]), int(numbers[4])

    checks.check_parse_shape_error(by_index, CASES)
    failure(checks.check_parse_shape_error, by_index, CASES, prefix="line 12: ")


def test_parse_hard_coded_answer_passes_visible_but_not_hidden():
    checks.check_parse_shape_error(lambda m: (2048, 1024))
    failure(checks.check_parse_shape_error, lambda m: (2048, 1024), [(4, 512, 256, 3)])


def test_parse_error_inside_the_answer_becomes_feedback():
    def fragile(message):
        return tuple(int(n) for n in message.split("(")[1].split(" and ")[0].split("x"))[::-1][0]

    err = failure(checks.check_parse_shape_error, lambda m: int("x"), CASES)
    assert err.misconception == "the code does not run"
    assert "ValueError" in err.observed
    assert failure(checks.check_parse_shape_error, fragile).misconception == "wrong type"


def test_parse_rejects_non_function():
    assert failure(checks.check_parse_shape_error, "2048").misconception == "not a function"


@pytest.mark.parametrize(("arch", "num_classes"), [("resnet50", 10), ("resnet18", 7)])
def test_swap_correct_passes(arch, num_classes, capsys):
    checks.check_swap_head(swap_ok, arch, num_classes)
    assert "Correct" in capsys.readouterr().out


def typed_2048(model, num_classes):
    model.fc = nn.Linear(2048, num_classes)
    return model


@pytest.mark.parametrize(
    ("answer", "misconception"),
    [
        (typed_2048, "typed feature size"),
        (lambda m, n: setattr(m, "fc", nn.Linear(m.fc.in_features, n)), "nothing returned"),
        (lambda m, n: (setattr(m, "fc", nn.Linear(n, m.fc.in_features)), m)[1],
         "swapped arguments"),
        (lambda m, n: (setattr(m, "fc", nn.Linear(m.fc.in_features, 1000)), m)[1],
         "wrong output size"),
        (lambda m, n: m, "head not replaced"),
        (lambda m, n: nn.Linear(m.fc.in_features, n), "wrong return value"),
    ],
)
def test_swap_misconceptions(answer, misconception):
    err = failure(checks.check_swap_head, answer, "resnet18", 7)
    assert err.misconception == misconception


def test_swap_typed_2048_passes_resnet50_only():
    checks.check_swap_head(typed_2048, "resnet50", 10)
    err = failure(checks.check_swap_head, typed_2048, "resnet18", 3)
    assert "ResNet-50" in err.observed


@pytest.mark.parametrize(
    ("arch", "wrong_in", "num_classes"),
    [("resnet50", 1024, 10), ("resnet18", 2048, 5), ("mobilenet_v3_small", 1000, 3),
     ("densenet121", 2048, 4)],
)
def test_repair_correct_passes_on_other_architectures(arch, wrong_in, num_classes):
    checks.check_repair_head(repair_ok, arch, wrong_in, num_classes)


def test_repair_misconceptions():
    def reads_broken_layer(model, example):
        model.fc = nn.Linear(model.fc.in_features, model.fc.out_features)
        return model

    def changes_output(model, example):
        repair_ok(model, example)
        model.fc = nn.Linear(model.fc.in_features, 1000)
        return model

    def resnet_only(model, example):
        model.fc = nn.Linear(2048, model.fc.out_features)
        return model

    assert failure(checks.check_repair_head, reads_broken_layer).misconception == (
        "broken in_features kept"
    )
    assert failure(checks.check_repair_head, changes_output).misconception == (
        "blaming the output size"
    )
    checks.check_repair_head(resnet_only)  # the visible ResNet-50 case cannot tell ...
    err = failure(checks.check_repair_head, resnet_only, "mobilenet_v3_small", 1000, 3)
    assert err.misconception == "the code does not run"  # ... a hidden one can: no .fc there
    err = failure(checks.check_repair_head, resnet_only, "resnet18", 1024, 3)
    assert err.misconception == "typed feature size"
    assert failure(checks.check_repair_head, lambda m, x: None).misconception == "nothing returned"


@pytest.mark.parametrize(
    "arch", ["resnet18", "resnet50", "mobilenet_v3_small", "densenet121", "efficientnet_b0",
             "regnet_y_400mf"],
)
def test_the_original_heads_in_features_is_what_arrives(arch):
    # check_repair_head reads the expected size from a fresh model instead of measuring it.
    model = checks.broken_model(arch, 7, 5)
    original = checks.build_model(arch).get_submodule(checks._head_path(model))
    assert checks.measured_features(model, torch.zeros(2, 3, 64, 64)) == original.in_features


def test_multiple_choice():
    checks.check_cause("c")
    checks.check_fix(" D ")
    for letter, name in [("A", "output size"), ("B", "eval/train"), ("D", "lack model.fc")]:
        assert name in failure(checks.check_cause, letter).observed
    assert "broken layer" in failure(checks.check_fix, "A").observed
    assert failure(checks.check_fix, "Z").misconception == "not a valid option"
    assert failure(checks.check_fix, 3).misconception == "not a valid option"
