import copy

import pytest
import torch
from torch import nn

from course_utils.checks import ExerciseError
from course_utils.checks import lesson2 as checks


def get_in_features(model):
    head = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))][-1]
    return head.in_channels if isinstance(head, nn.Conv2d) else head.in_features


def make_head(old, num_classes):
    if isinstance(old, nn.Conv2d):
        return nn.Conv2d(old.in_channels, num_classes, kernel_size=1)
    return nn.Linear(old.in_features, num_classes, bias=old.bias is not None)


def replace_resnet_head(model, num_classes):
    first = next(m for m in model.fc.modules() if isinstance(m, nn.Linear))
    model.fc = nn.Linear(first.in_features, num_classes)
    return model


def copied_from_the_demo(model, num_classes):
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


def failure(check, *args) -> ExerciseError:
    with pytest.raises(ExerciseError) as info:
        check(*args)
    return info.value


def feedback(check, *args) -> str:
    with pytest.raises(ExerciseError) as info:
        check(*args)
    return str(info.value)


def tiny_classifier(num_classes: int = 3) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, num_classes)
    )


# --------------------------------------------------------------------------- helpers


def test_build_is_meta_and_has_aux_heads_where_torchvision_trains_them():
    model = checks.build("googlenet", 7)
    assert next(model.parameters()).device.type == "meta"
    outs = checks.outputs_of(model.train(), checks.example_input(model))
    assert [tuple(o.shape) for o in outs] == [(2, 7)] * 3
    assert checks.example_input(checks.build("inception_v3")).shape[-1] == 299
    # RegNet cannot be built under the meta device context; build() still delivers it there.
    assert next(checks.build("regnet_y_400mf").parameters()).device.type == "meta"
    with pytest.raises(TypeError, match="resnet50"):
        checks.build(50)


def test_plain_helpers_refuse_lookalikes():
    import numpy as np

    class Liar(int):
        def __eq__(self, other):
            return True

    assert checks.plain_int(np.int64(3)) == 3 and checks.plain_int(5) == 5
    assert checks.plain_int(True) is None and checks.plain_int(Liar(1)) is None
    assert checks.plain_int(3.0) is None


# --------------------------------------------------------------------------- replace_resnet_head


def test_replace_resnet_head_accepts_the_general_answer_on_every_resnet(capsys):
    checks.check_replace_resnet_head(
        replace_resnet_head, ("resnet50", 10), ("resnet18", 3), ("wide_resnet50_2", 1)
    )
    assert "Correct" in capsys.readouterr().out


def test_replace_resnet_head_names_each_misconception():
    def with_512(model, n):
        model.fc = nn.Linear(512, n)
        return model

    def classifier(model, n):
        model.classifier = nn.Linear(model.fc.in_features, n)
        return model

    def vgg_style(model, n):
        model.classifier[6] = nn.Linear(4096, n)
        return model

    def ten(model, n):
        model.fc = nn.Linear(model.fc.in_features, 10)
        return model

    assert "512 for a ResNet-50" in feedback(checks.check_replace_resnet_head, with_512)
    checks.check_replace_resnet_head(with_512, ("resnet34", 4))  # right there, by luck
    assert "model.classifier on a ResNet" in feedback(checks.check_replace_resnet_head, classifier)
    assert "model.classifier / model.head" in feedback(checks.check_replace_resnet_head, vgg_style)
    assert "a layer of the old head's kind" in feedback(
        checks.check_replace_resnet_head, lambda m, n: m.fc
    )
    assert "hard-coded class count" in feedback(
        checks.check_replace_resnet_head, ten, ("resnet18", 3)
    )


def test_replace_resnet_head_refuses_the_library_shortcut():
    def shortcut(model, n):
        from course_utils.heads import replace_head

        return replace_head(model, n)

    assert "used the library's answer" in feedback(checks.check_replace_resnet_head, shortcut)


# --------------------------------------------------------------------------- get_in_features


def test_get_in_features_accepts_a_general_answer_across_families(capsys):
    checks.check_get_in_features(
        get_in_features,
        "resnet50",
        "vgg16",
        "squeezenet1_0",
        "maxvit_t",
        "vit_b_16",
        tiny_classifier(),
    )
    assert "Correct" in capsys.readouterr().out


def test_get_in_features_names_each_misconception():
    def resnet_only(model):
        return model.fc.in_features

    def memorised(model):
        return 512

    def out_features(model):
        return [m for m in model.modules() if isinstance(m, nn.Linear)][-1].out_features

    def first_layer(model):
        return model.classifier[0].in_features

    def linear_only(model):
        return [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))][-1].in_features

    assert "like a ResNet" in feedback(checks.check_get_in_features, resnet_only, "vgg16")
    assert "512 for a ResNet-50" in feedback(checks.check_get_in_features, memorised)
    assert "in_features vs out_features" in feedback(checks.check_get_in_features, out_features)
    assert "not the head" in feedback(checks.check_get_in_features, first_layer, "vgg16")
    assert "every head is nn.Linear" in feedback(
        checks.check_get_in_features, linear_only, "squeezenet1_1"
    )
    assert "an int expected" in feedback(checks.check_get_in_features, lambda m: "512")
    assert "an int expected" in feedback(checks.check_get_in_features, lambda m: torch.tensor(2))


# --------------------------------------------------------------------------- make_head


def test_make_head_accepts_a_general_answer_including_aux_heads(capsys):
    checks.check_make_head(
        make_head,
        ("resnet18", 5),
        ("squeezenet1_0", 3),
        ("maxvit_t", 2),
        ("googlenet", 7),
        ("inception_v3", 4),
        (tiny_classifier(), 6),
    )
    assert "Correct" in capsys.readouterr().out


def test_make_head_names_each_misconception():
    def in_place(old, n):
        old.out_features = n
        return old

    def always_bias(old, n):
        return nn.Linear(old.in_features, n)

    def fixed_in(old, n):
        return nn.Linear(512, n)

    def linear_only(old, n):
        return nn.Linear(old.in_features, n)

    def edited_copy(old, n):
        new = copy.deepcopy(old)
        new.out_features = n
        return new

    assert "edited the old layer" in feedback(checks.check_make_head, in_place)
    assert "weight of shape (1000, 512)" in feedback(checks.check_make_head, edited_copy)
    checks.check_make_head(always_bias, ("vgg11", 3))
    assert "bias setting not copied" in feedback(
        checks.check_make_head, always_bias, ("maxvit_t", 3)
    )
    assert "hard-coded in_features" in feedback(checks.check_make_head, fixed_in, ("vgg16", 3))
    assert "every head is nn.Linear" in feedback(
        checks.check_make_head, linear_only, ("squeezenet1_0", 3)
    )


def test_make_head_fails_when_aux_heads_are_not_replaced_correctly():
    def main_only(old, n):
        # Right for the main head (2048 in), wrong for the auxiliary AuxLogits.fc (768 in).
        return nn.Linear(2048, n)

    text = feedback(checks.check_make_head, main_only, ("inception_v3", 3))
    assert "AuxLogits.fc" in text


# --------------------------------------------------------------------------- multiple choice


def test_an_untouched_stub_is_left_to_nbgrader():
    def stub(*args):
        raise NotImplementedError()

    for check in (
        checks.check_replace_resnet_head,
        checks.check_get_in_features,
        checks.check_make_head,
    ):
        with pytest.raises(NotImplementedError):
            check(stub)


# --------------------------------------------------------------------------- visible checks


def named(check, *args) -> str:
    with pytest.raises(ExerciseError) as info:
        check(*args)
    return info.value.misconception_id


def test_visible_checks_catch_typed_sizes_and_single_family_answers(capsys):
    def typed_2048(model, n):
        model.fc = nn.Linear(2048, n)
        return model

    def typed_512(model, n):
        model.fc = nn.Linear(512, n)
        return model

    assert named(checks.check_replace_resnet_head, typed_2048) == "lesson2.typed_in_features"
    assert named(checks.check_replace_resnet_head, typed_512) == (
        "lesson2.resnet18_size_on_resnet50"
    )
    assert named(checks.check_get_in_features, lambda m: m.fc.in_features) == (
        "lesson2.resnet_only"
    )

    def last_linear(model):
        return [m for m in model.modules() if isinstance(m, nn.Linear)][-1].in_features

    assert named(checks.check_get_in_features, last_linear) == "lesson2.linear_only"

    def linear_any(old, n):
        return nn.Linear(old.in_features, n)

    def conv_no_bias_check(old, n):
        if isinstance(old, nn.Conv2d):
            return nn.Conv2d(old.in_channels, n, kernel_size=1)
        return nn.Linear(old.in_features, n)

    assert named(checks.check_make_head, linear_any) == "lesson2.linear_only"
    assert named(checks.check_make_head, conv_no_bias_check) == "lesson2.bias_not_copied"


def test_visible_success_messages_say_what_was_checked(capsys):
    checks.check_replace_resnet_head(replace_resnet_head)
    checks.check_get_in_features(get_in_features)
    checks.check_make_head(make_head)
    out = capsys.readouterr().out
    assert "on resnet18 and resnet50+dropout and resnet34+mlp." in out
    assert "on resnet18, resnet50, vgg16, squeezenet1_1." in out
    assert "on resnet18, squeezenet1_1, maxvit_t, googlenet." in out
    assert "every" not in out


def test_replace_resnet_head_transfers_to_heads_of_several_layers(capsys):
    """Exercise 1 no longer copies the demo: the current head may be a Sequential."""

    def last_linear(model, n):
        last = [m for m in model.fc.modules() if isinstance(m, nn.Linear)][-1]
        model.fc = nn.Linear(last.in_features, n)
        return model

    checks.check_replace_resnet_head(replace_resnet_head)
    checks.check_replace_resnet_head(
        replace_resnet_head, ("resnet101+mlp", 3), ("resnet18+dropout", 2)
    )
    assert "on resnet18 and resnet50+dropout and resnet34+mlp" in capsys.readouterr().out
    # The demo's line, copied: model.fc.in_features does not exist on a Sequential.
    err = failure(checks.check_replace_resnet_head, copied_from_the_demo)
    assert err.misconception_id == "lesson2.head_taken_for_linear"
    err = failure(checks.check_replace_resnet_head, last_linear)
    assert err.misconception_id == "lesson2.inner_in_features"
