import pytest
import torch
from torch import nn

from course_utils.checks import ExerciseError
from course_utils.checks import lesson5 as checks

pytestmark = pytest.mark.long(8)

ARCHS = [
    ("resnet50", 15),
    ("resnet18", 7),
    ("mobilenet_v3_small", 3),
    ("densenet121", 4),
    ("mlp", 2),
]


def swap(model, num_classes):
    path = checks.head_path(model)
    checks.set_module(model, path, nn.Linear(model.get_submodule(path).in_features, num_classes))
    return model


def freeze(model):
    for p in model.parameters():
        p.requires_grad = False
    return model


def prepare_ok(model, num_classes):
    return swap(freeze(model), num_classes)


def failure(check, *args, **kwargs) -> ExerciseError:
    with pytest.raises(ExerciseError) as info:
        check(*args, **kwargs)
    return info.value


def named(err: ExerciseError) -> str:
    return (err.misconception_id or "").removeprefix("lesson5.")


@pytest.mark.parametrize(("arch", "num_classes"), ARCHS)
def test_prepare_correct_passes_everywhere(arch, num_classes, capsys):
    checks.check_prepare_feature_extractor(prepare_ok, arch, num_classes)
    assert capsys.readouterr().out.startswith("Correct:")


def test_prepare_visible_check_names_both_models(capsys):
    checks.check_prepare_feature_extractor(prepare_ok)
    out = capsys.readouterr().out
    assert f"{2048 * 15 + 15:,}" in out and "mobilenet_v3_small" in out


def resnet_only(model, num_classes):
    freeze(model)
    model.fc = nn.Linear(2048, num_classes)
    return model


def freeze_linear_only(model, num_classes):
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            m.weight.requires_grad = False
    return swap(model, num_classes)


@pytest.mark.parametrize(
    ("answer", "misconception"),
    [
        (lambda m, n: freeze(swap(m, n)), "froze_after_replacing"),
        (lambda m, n: swap(m, n), "not_frozen"),
        (freeze_linear_only, "partly_frozen"),
        (lambda m, n: freeze(m), "head_not_replaced"),
        (lambda m, n: (prepare_ok(m, n), None)[1], "not_returned"),
        (lambda m, n: prepare_ok(m, 1000), "wrong_out_features"),
        (resnet_only, "typed_in_features"),
    ],
)
def test_prepare_misconceptions_are_named(answer, misconception):
    err = failure(checks.check_prepare_feature_extractor, answer, "resnet18", 7)
    assert named(err) == misconception
    assert "Review:" in str(err)


def test_prepare_resnet_only_answer_fails_the_visible_check():
    # model.fc = nn.Linear(model.fc.in_features, n) works on a ResNet only: visible already fails.
    def fc_only(model, n):
        freeze(model)
        model.fc = nn.Linear(model.fc.in_features, n)
        return model

    checks.check_prepare_feature_extractor(fc_only, "resnet50", 15)
    err = failure(checks.check_prepare_feature_extractor, fc_only)
    assert err.misconception_id  # named (code error or head not replaced), never "Correct"


def test_prepare_must_not_unfreeze_the_backbones_linear_layers():
    def unfreeze_linears(model, num_classes):
        prepare_ok(model, num_classes)
        for m in model.modules():
            if isinstance(m, nn.Linear):
                m.requires_grad_(True)
        return model

    checks.check_prepare_feature_extractor(unfreeze_linears, "resnet18", 3)  # one Linear: fine
    err = failure(checks.check_prepare_feature_extractor, unfreeze_linears, "mlp", 3)
    assert named(err) == "partly_frozen"


@pytest.mark.parametrize(
    ("results", "right"),
    [
        ({"head": 0.98, "full": 0.982, "random": 0.22}, "A"),  # close: the cheaper one
        ({"head": 0.90, "full": 0.97, "random": 0.40}, "B"),  # full clearly better
        ({"head": 0.50, "full": 0.52, "random": 0.53}, "C"),
    ],  # all close: the cheap, better one
)
def test_setup_choice_follows_the_validation_numbers(results, right):
    assert checks.SETUP_LETTERS[checks.choose_setup(results)] == right
    checks.grade_setup_choice(right, results, right)
    for letter in sorted(set("ABCD") - {right}):
        assert failure(checks.grade_setup_choice, letter, results, right).misconception_id
    close = {"head": 0.98, "full": 0.99, "random": 0.2}
    assert named(failure(checks.grade_setup_choice, "B", close, "A")) == "cost_ignored"
    with pytest.raises(ValueError, match="keys"):
        checks.choose_setup({"head": 1.0})


def test_setup_choice_on_test_numbers_is_named():
    val = {"head": 0.96, "full": 0.985, "random": 0.2}
    test = {"head": 0.90, "full": 0.98, "random": 0.2}  # on test the rule would pick full
    checks.grade_setup_choice("A", val, "A", test_results=test)
    err = failure(checks.grade_setup_choice, "B", val, "A", test_results=test)
    assert named(err) == "chose_on_test"


def test_choose_setup_tolerance():
    results = {"head": 0.90, "full": 0.94, "random": 0.2}
    assert checks.choose_setup(results, 0.05) == "head"
    assert checks.choose_setup(results, 0.01) == "full"


def two_rates_ok(model, lr, backbone_factor):
    head = checks.get_module(model, checks.head_path(model))
    ids = {id(p) for p in head.parameters()}
    backbone = [p for p in model.parameters() if id(p) not in ids]
    return torch.optim.AdamW(
        [{"params": backbone, "lr": lr * backbone_factor}, {"params": head.parameters(), "lr": lr}]
    )


@pytest.mark.parametrize("arch", ["resnet18", "mobilenet_v3_small", "densenet121", "mlp"])
def test_two_rates_correct(arch, capsys):
    checks.check_two_rate_optimizer(two_rates_ok, arch, 3, lr=0.01, factor=0.2)
    assert capsys.readouterr().out.startswith("Correct:")


def test_two_rates_visible_uses_two_families(capsys):
    checks.check_two_rate_optimizer(two_rates_ok)
    out = capsys.readouterr().out
    assert "resnet18" in out and "mobilenet_v3_small" in out


def swapped(model, lr, f):
    return two_rates_ok(model, lr * f, 1 / f)


def both_groups(model, lr, f):
    head = checks.get_module(model, checks.head_path(model))
    return torch.optim.AdamW(
        [{"params": model.parameters(), "lr": lr * f}, {"params": head.parameters(), "lr": lr}]
    )


def head_only(model, lr, f):
    head = checks.get_module(model, checks.head_path(model))
    return torch.optim.AdamW(head.parameters(), lr=lr)


def fc_two_rates(model, lr, f):
    backbone = [p for n, p in model.named_parameters() if not n.startswith("fc.")]
    return torch.optim.AdamW(
        [{"params": backbone, "lr": lr * f}, {"params": model.fc.parameters(), "lr": lr}]
    )


@pytest.mark.parametrize(
    ("answer", "misconception"),
    [
        (swapped, "lesson5.rates_swapped"),
        (lambda m, lr, f: torch.optim.AdamW(m.parameters(), lr=lr), "lesson5.one_rate"),
        (both_groups, "lesson5.head_in_both_groups"),
        (head_only, "lesson5.backbone_left_out"),
        (lambda m, lr, f: two_rates_ok(m, 1e-3, 0.1), "lesson5.wrong_lr"),
        (lambda m, lr, f: None, "lesson5.not_an_optimizer"),
        (
            lambda m, lr, f: torch.optim.Adam(
                [
                    {"params": [p for p in m.parameters()][:-2], "lr": lr * f},
                    {"params": [p for p in m.parameters()][-2:], "lr": lr},
                ]
            ),
            "lesson5.wrong_optimizer",
        ),
    ],
)
def test_two_rates_misconceptions(answer, misconception):
    err = failure(checks.check_two_rate_optimizer, answer, "resnet18", 5, lr=0.01, factor=0.2)
    assert err.misconception_id == misconception


def test_two_rates_resnet_only_answer_fails_the_visible_check():
    checks.check_two_rate_optimizer(fc_two_rates, "resnet18")
    assert failure(checks.check_two_rate_optimizer, fc_two_rates).misconception_id


# --- exercise 2 (transfer): what trains under a two-layer head --------------------------------


def hidden_ok(model, hidden, num_classes):
    from course_utils import heads

    in_features = heads.find_head(model).in_features
    return in_features * hidden + hidden + hidden * num_classes + num_classes


def hidden_on_a_copy(model, hidden, num_classes):
    import copy

    from course_utils import heads

    twin = freeze(copy.deepcopy(model))
    info = heads.find_head(twin)
    heads.set_module(
        twin,
        info.path,
        nn.Sequential(
            nn.Linear(info.in_features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes)
        ),
    )
    return sum(p.numel() for p in twin.parameters() if p.requires_grad)


@pytest.mark.parametrize(
    ("arch", "hidden", "num_classes"),
    [("resnet50", 256, 10), ("densenet121", 32, 4), ("mlp", 16, 6), ("efficientnet_b0", 128, 7)],
)
def test_hidden_layer_count_correct(arch, hidden, num_classes, capsys):
    checks.check_hidden_layer_count(hidden_ok, arch, hidden, num_classes)
    checks.check_hidden_layer_count(hidden_on_a_copy, arch, hidden, num_classes)
    assert capsys.readouterr().out.count("Correct:") == 2


def test_hidden_layer_count_is_measured_and_visible_check_uses_two_families(capsys):
    # 1280 features into 128 hidden units, then 7 classes: every new layer with its biases.
    assert checks.expected_hidden_layer_count("efficientnet_b0", 128, 7) == (
        1280 * 128 + 128 + 128 * 7 + 7
    )
    checks.check_hidden_layer_count(hidden_ok)
    out = capsys.readouterr().out
    assert "efficientnet_b0" in out and "mobilenet_v3_small" in out


@pytest.mark.parametrize(
    ("answer", "misconception"),
    [
        (lambda m, h, n: _in(m) * n + n, "count_one_layer_recipe"),
        (lambda m, h, n: h * n + n, "count_one_new_layer"),
        (lambda m, h, n: _in(m) * h + h, "count_one_new_layer"),
        (lambda m, h, n: _in(m) * h + h * n, "count_forgot_bias"),
        (lambda m, h, n: 164871, "count_typed"),
        (lambda m, h, n: str(hidden_ok(m, h, n)), "number_as_string"),
        (lambda m, h, n: [hidden_ok(m, h, n)], "not_an_int"),
        (lambda m, h, n: m.fc.in_features * h, "resnet_only"),
    ],
)
def test_hidden_layer_count_misconceptions(answer, misconception):
    assert named(failure(checks.check_hidden_layer_count, answer)) == misconception


def test_hidden_layer_count_accepts_a_tensor_scalar_and_numpy():
    import numpy as np

    checks.check_hidden_layer_count(
        lambda m, h, n: torch.tensor(hidden_ok(m, h, n)), "resnet18", 16, 3
    )
    checks.check_hidden_layer_count(lambda m, h, n: np.int64(hidden_ok(m, h, n)), "resnet18", 16, 3)


def test_hidden_layer_count_code_error_is_generic():
    err = failure(checks.check_hidden_layer_count, lambda m, h, n: 1 / 0, "resnet18", 16, 3)
    assert err.misconception_id == "course.code_error"


def _in(model):
    from course_utils import heads

    return heads.find_head(model).in_features


# --- exercise 3 (transfer): unfreeze a block, then rebuild the optimizer ----------------------


def unfreeze_ok(model, block, lr):
    for p in checks.get_module(model, block).parameters():
        p.requires_grad = True
    return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)


@pytest.mark.parametrize(
    ("arch", "block"),
    [
        ("resnet18", "layer4"),
        ("mobilenet_v3_small", "features.12"),
        ("efficientnet_b0", "features.8"),
        ("densenet121", "features.denseblock4"),
        ("mlp", "1"),
    ],
)
def test_unfreeze_block_correct(arch, block, capsys):
    checks.check_unfreeze_block(unfreeze_ok, arch, block, lr=0.05)
    assert capsys.readouterr().out.startswith("Correct:")


def _before(model, block, lr):
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)
    checks.get_module(model, block).requires_grad_(True)
    return optimizer


def _everything(model, block, lr):
    model.requires_grad_(True)
    return torch.optim.SGD(model.parameters(), lr=lr)


def _all_to_sgd(model, block, lr):
    checks.get_module(model, block).requires_grad_(True)
    return torch.optim.SGD(model.parameters(), lr=lr)


def _refrozen(model, block, lr):
    model.requires_grad_(False)
    checks.get_module(model, block).requires_grad_(True)
    return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)


def _adam(model, block, lr):
    checks.get_module(model, block).requires_grad_(True)
    return torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)


def _not_unfrozen(model, block, lr):
    return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)


def _layer4(model, block, lr):
    model.layer4.requires_grad_(True)
    return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)


def _typed_lr(model, block, lr):
    checks.get_module(model, block).requires_grad_(True)
    return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)


@pytest.mark.parametrize(
    ("answer", "misconception"),
    [
        (_before, "optimizer_before_unfreeze"),
        (_everything, "unfroze_too_much"),
        (_all_to_sgd, "frozen_in_optimizer"),
        (_refrozen, "head_refrozen"),
        (_adam, "wrong_optimizer"),
        (_not_unfrozen, "block_still_frozen"),
        (_layer4, "resnet_only"),
        (_typed_lr, "wrong_lr"),
        (lambda m, b, lr: None, "not_an_optimizer"),
    ],
)
def test_unfreeze_block_misconceptions(answer, misconception):
    assert named(failure(checks.check_unfreeze_block, answer)) == misconception
