import copy

import pytest
import torch
from torch import nn

from course_utils.checks import ExerciseError
from course_utils.checks import lesson1 as checks


class TinyResNet(nn.Module):
    """ResNet's layout in miniature: children conv, avgpool, fc; flatten inside forward."""

    def __init__(self, width: int = 8, num_classes: int = 24):
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3, padding=1)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.avgpool(torch.relu(self.conv(x))), 1))


def tiny_vgg(num_classes: int = 4) -> nn.Module:
    """Several Linear layers; the head is the last one, nested at classifier.3."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Sequential(nn.Linear(16, 6), nn.ReLU(), nn.Dropout(), nn.Linear(6, num_classes)),
    )


def tiny_resnet(width: int = 8, num_classes: int = 24) -> nn.Module:
    torch.manual_seed(0)
    return TinyResNet(width, num_classes).eval()


def split_model(model):
    name, head = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)][-1]
    backbone = copy.deepcopy(model)
    parent, _, attr = name.rpartition(".")
    setattr(backbone.get_submodule(parent), attr, nn.Identity())
    return backbone, head


def dropout_head(in_features, num_classes, p):
    return nn.Sequential(nn.Dropout(p), nn.Linear(in_features, num_classes))


def feedback(check, *args, **kwargs) -> str:
    with pytest.raises(ExerciseError) as info:
        check(*args, **kwargs)
    return str(info.value)


# --------------------------------------------------------------------------- split_model


def test_split_model_accepts_a_general_answer(capsys):
    checks.check_split_model(split_model, tiny_resnet(), tiny_vgg(), tiny_resnet(4, 3))
    assert capsys.readouterr().out.startswith("Correct:")


def test_split_model_default_case_is_a_torchvision_resnet(capsys):
    checks.check_split_model(split_model)
    assert "Correct" in capsys.readouterr().out


def test_split_model_names_the_first_linear_mistake():
    def first_linear(model):
        name, head = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)][0]
        return split_model(model)[0], head

    checks.check_split_model(first_linear, tiny_resnet())  # one Linear: first is last
    assert "an earlier Linear" in feedback(checks.check_split_model, first_linear, tiny_vgg())


def test_split_model_catches_a_copied_head_and_an_in_place_split():
    def copied_head(model):
        backbone, head = split_model(model)
        return backbone, copy.deepcopy(head)

    def in_place(model):
        head = model.fc
        model.fc = nn.Identity()
        return model, head

    assert "a copy or a new layer" in feedback(checks.check_split_model, copied_head, tiny_resnet())
    assert "modified the model in place" in feedback(
        checks.check_split_model, in_place, tiny_resnet()
    )


def test_split_model_names_the_unflattened_children_trap():
    def children(model):
        return nn.Sequential(*list(model.children())[:-1]), model.fc

    text = feedback(checks.check_split_model, children, tiny_resnet())
    assert "features not flattened" in text and "(2, 8, 1, 1)" in text


def test_split_model_catches_a_backbone_that_keeps_the_head():
    def keeps_head(model):
        return copy.deepcopy(model), model.fc

    assert "backbone still contains the head" in feedback(
        checks.check_split_model, keeps_head, tiny_resnet()
    )


def test_split_model_turns_errors_and_wrong_types_into_feedback():
    def vgg_style(model):
        return model.classifier, model.classifier[6]

    assert "AttributeError" in feedback(checks.check_split_model, vgg_style, tiny_resnet())
    assert "a pair (backbone, head)" in feedback(
        checks.check_split_model, lambda m: m, tiny_resnet()
    )
    assert "a function expected" in feedback(checks.check_split_model, 3)
    with pytest.raises(TypeError, match="nn.Module"):
        checks.check_split_model(split_model, "resnet18")


# --------------------------------------------------------------------------- dropout_head


def named(check, *args) -> str:
    with pytest.raises(ExerciseError) as info:
        check(*args)
    return info.value.misconception_id.split(".", 1)[1]


def test_dropout_head_accepts_general_answers_and_says_what_it_checked(capsys):
    def other_style(in_features, num_classes, p):
        head = nn.Sequential()
        head.add_module("drop", nn.Dropout(p=p))
        head.add_module("linear", nn.Linear(in_features=in_features, out_features=num_classes))
        return head

    checks.check_dropout_head(dropout_head)
    checks.check_dropout_head(other_style, (1280, 7, 0.3), (768, 1, 0.0))
    out = capsys.readouterr().out
    assert "dropout_head(512, 5, 0.2) and dropout_head(2048, 3, 0.5)" in out


@pytest.mark.parametrize(
    ("answer", "misconception"),
    [
        (lambda i, n, p: nn.Sequential(nn.Linear(i, n), nn.Dropout(p)), "dropout_after_linear"),
        (
            lambda i, n, p: nn.Sequential(nn.Dropout(p), nn.Linear(i, n), nn.Softmax(dim=1)),
            "softmax_in_head",
        ),
        (lambda i, n, p: nn.Sequential(nn.Dropout(p * 100), nn.Linear(i, n)), "p_as_percent"),
        (lambda i, n, p: nn.Sequential(nn.Dropout(p), nn.Linear(512, n)), "typed_in_features"),
        (lambda i, n, p: nn.Sequential(nn.Dropout(p), nn.Linear(i, 5)), "typed_class_count"),
        (lambda i, n, p: nn.Sequential(nn.Dropout(), nn.Linear(i, n)), "p_ignored"),
        (lambda i, n, p: nn.Linear(i, n), "not_a_sequential"),
        (
            lambda i, n, p: nn.Sequential(nn.Dropout(p), nn.ReLU(), nn.Linear(i, n)),
            "not_a_sequential",
        ),
        (lambda i, n, p: [nn.Dropout(p), nn.Linear(i, n)], "not_a_sequential"),
    ],
)
def test_dropout_head_visible_check_names_each_mistake(answer, misconception):
    assert named(checks.check_dropout_head, answer) == misconception


def test_split_model_visible_check_catches_a_resnet_only_answer(capsys):
    def resnet_only(model):
        backbone = copy.deepcopy(model)
        backbone.fc = nn.Identity()
        return backbone, model.fc

    checks.check_split_model(resnet_only, tiny_resnet())  # right on a ResNet ...
    assert named(checks.check_split_model, resnet_only) == "resnet_only"  # ... named visibly
    checks.check_split_model(split_model)
    out = capsys.readouterr().out
    assert "ResNet (head at fc) and MobileNetV3 (head at classifier.3)" in out


# --------------------------------------------------------------------------- multiple choice


def test_an_untouched_stub_is_left_to_nbgrader():
    def stub(*args):
        raise NotImplementedError()

    for check, args in (
        (checks.check_split_model, (tiny_resnet(),)),
        (checks.check_dropout_head, ()),
    ):
        with pytest.raises(NotImplementedError):
            check(stub, *args)


# The exercise asks for the order to be reasoned from what dropout does: neither the prose
# above the answer cell nor a wrong answer's feedback may spell the head out.
RIGHT_HEAD = "nn.Sequential(nn.Dropout("


@pytest.mark.parametrize(
    "answer",
    [
        lambda i, n, p: nn.Linear(i, n),
        lambda i, n, p: [nn.Dropout(p), nn.Linear(i, n)],
        lambda i, n, p: nn.Sequential(nn.Dropout(p), nn.ReLU(), nn.Linear(i, n)),
        lambda i, n, p: nn.Sequential(nn.Dropout(p), nn.Linear(i, n), nn.Softmax(dim=1)),
        lambda i, n, p: nn.Sequential(nn.Linear(i, n), nn.Dropout(p)),
    ],
)
def test_dropout_head_feedback_does_not_spell_out_the_head(answer):
    with pytest.raises(ExerciseError) as info:
        checks.check_dropout_head(answer)
    assert RIGHT_HEAD not in str(info.value), str(info.value)


def test_dropout_head_prose_above_the_answer_does_not_give_it():
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for lesson in ("solutions", "notebooks"):
        cells = json.loads((root / lesson / "lesson1/lesson1.ipynb").read_text())["cells"]
        answer = next(
            i
            for i, c in enumerate(cells)
            if c["metadata"].get("nbgrader", {}).get("grade_id") == "ex2_answer"
        )
        above = "".join("".join(c["source"]) for c in cells[:answer])
        assert RIGHT_HEAD not in above and "in front of the `nn.Linear`" not in above
