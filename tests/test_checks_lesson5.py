import pytest
import torch
from torch import nn

from course_utils.checks import ExerciseError
from course_utils.checks import lesson5 as checks

ARCHS = [("resnet50", 15), ("resnet18", 7), ("mobilenet_v3_small", 3), ("densenet121", 4),
         ("mlp", 2)]


def set_module(model, path, module):
    parent, _, child = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def swap(model, num_classes):
    path = checks.head_path(model)
    set_module(model, path, nn.Linear(model.get_submodule(path).in_features, num_classes))
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


@pytest.mark.parametrize(("arch", "num_classes"), ARCHS)
def test_prepare_correct_passes_everywhere(arch, num_classes, capsys):
    checks.check_prepare_feature_extractor(prepare_ok, arch, num_classes)
    assert capsys.readouterr().out.startswith("Correct:")


def test_prepare_resnet50_trains_2048_x_15_plus_15(capsys):
    checks.check_prepare_feature_extractor(prepare_ok)
    assert f"{2048 * 15 + 15:,}" in capsys.readouterr().out


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
        (lambda m, n: freeze(swap(m, n)), "froze after replacing"),
        (lambda m, n: swap(m, n), "not freezing at all"),
        (freeze_linear_only, "backbone partly frozen"),
        (lambda m, n: freeze(m), "head not replaced"),
        (lambda m, n: (prepare_ok(m, n), None)[1], "nothing returned"),
        (lambda m, n: prepare_ok(m, 1000), "wrong head shape"),
        (resnet_only, "wrong head shape"),
    ],
)
def test_prepare_misconceptions_are_named(answer, misconception):
    err = failure(checks.check_prepare_feature_extractor, answer, "resnet18", 7)
    assert err.misconception == misconception
    assert misconception in str(err)


def test_prepare_resnet_only_answer_passes_visible_fails_hidden():
    checks.check_prepare_feature_extractor(resnet_only)
    err = failure(checks.check_prepare_feature_extractor, resnet_only, "mobilenet_v3_small", 3)
    assert err.misconception == "head not replaced"  # model.fc is a new attribute there


def test_prepare_must_not_unfreeze_the_backbones_linear_layers():
    def unfreeze_linears(model, num_classes):
        prepare_ok(model, num_classes)
        for m in model.modules():
            if isinstance(m, nn.Linear):
                m.requires_grad_(True)
        return model

    checks.check_prepare_feature_extractor(unfreeze_linears, "resnet18", 3)  # one Linear: fine
    err = failure(checks.check_prepare_feature_extractor, unfreeze_linears, "mlp", 3)
    assert err.misconception == "backbone partly frozen"


def count_ok(model, num_classes):
    head = model.get_submodule(checks.head_path(model))
    return head.in_features * num_classes + num_classes


@pytest.mark.parametrize(("arch", "num_classes"), ARCHS)
def test_count_correct(arch, num_classes):
    checks.check_trainable_after_swap(count_ok, arch, num_classes)


def test_expected_trainable_is_measured():
    assert checks.expected_trainable("resnet50", 15) == 30_735
    assert checks.expected_trainable("resnet18", 5) == 512 * 5 + 5


@pytest.mark.parametrize(
    ("answer", "misconception"),
    [
        (lambda m, n: m.fc.in_features * n, "forgot the bias"),
        (lambda m, n: m.fc.in_features * (n + 1), "bias counted per input"),
        (lambda m, n: m.fc.in_features * 1000 + 1000, "counted the old head"),
        (lambda m, n: sum(p.numel() for p in m.parameters()), "not freezing at all"),
        (lambda m, n: 0, "froze after replacing"),
        (lambda m, n: 2048 * n + n, "count not computed from this model"),
        (lambda m, n: "30735", "wrong type"),
        (lambda m, n: 1 / 0, "the code does not run"),
    ],
)
def test_count_misconceptions(answer, misconception):
    err = failure(checks.check_trainable_after_swap, answer, "resnet18", 7)
    assert err.misconception == misconception


def test_count_accepts_a_tensor_scalar():
    checks.check_trainable_after_swap(lambda m, n: torch.tensor(count_ok(m, n)), "resnet18", 3)


def build_ok(model, lr):
    return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)


@pytest.mark.parametrize("arch", ["resnet18", "mobilenet_v3_small", "mlp"])
def test_build_optimizer_correct(arch):
    checks.check_build_optimizer(build_ok, arch, 4, lr=0.05)


def test_optimizer_misconceptions():
    model = prepare_ok(checks.build_model("resnet18"), 5)
    early = checks.build_model("resnet18")
    too_early = torch.optim.SGD(early.fc.parameters(), lr=0.01)  # before the swap ...
    prepare_ok(early, 5)  # ... so it holds the old fc
    cases = [
        (early, too_early, "optimizer built too early"),
        (model, torch.optim.SGD(model.layer4.parameters(), lr=0.01), "optimizer misses the head"),
        (model, torch.optim.SGD(model.parameters(), lr=0.01), "frozen parameters in optimizer"),
        (model, None, "wrong type"),
        (model, build_ok(model, 0.1), "wrong learning rate"),
    ]
    for m, opt, name in cases:
        assert failure(checks.check_optimizer_setup, m, opt, 0.01).misconception == name
    checks.check_optimizer_setup(model, build_ok(model, 0.01), 0.01)


def test_build_optimizer_hard_coded_fc_fails_elsewhere():
    def fc_only(model, lr):
        return torch.optim.SGD(model.fc.parameters(), lr=lr)

    checks.check_build_optimizer(fc_only, "resnet18")
    err = failure(checks.check_build_optimizer, fc_only, "mobilenet_v3_small")
    assert err.misconception == "the code does not run"


def test_one_step_trains_only_the_head():
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 0])
    model = prepare_ok(checks.build_model("resnet18"), 3)
    checks.check_one_step_trains_head(model, build_ok(model, 0.1), x, y)

    early = checks.build_model("resnet18")
    stale = torch.optim.SGD(early.fc.parameters(), lr=0.1)
    prepare_ok(early, 3)
    err = failure(checks.check_one_step_trains_head, early, stale, x, y)
    assert err.misconception == "optimizer built too early"

    unfrozen = swap(checks.build_model("resnet18"), 3)
    err = failure(checks.check_one_step_trains_head, unfrozen, build_ok(unfrozen, 0.1), x, y)
    assert err.misconception == "not freezing at all"


def test_batchnorm_choice():
    checks.check_batchnorm("B")
    for letter in "ACD":
        assert failure(checks.check_batchnorm, letter).misconception == "misconception"
    assert "buffers" in failure(checks.check_batchnorm, "A").observed


@pytest.mark.parametrize(
    ("results", "right"),
    [({"head": 0.98, "full": 0.982, "random": 0.22}, "A"),  # close: the cheaper one
     ({"head": 0.90, "full": 0.97, "random": 0.40}, "B"),  # full clearly better
     ({"head": 0.50, "full": 0.52, "random": 0.53}, "C")],  # all close: the cheap, better one
)
def test_setup_choice_follows_the_measured_numbers(results, right):
    checks.check_setup_choice(right, results)
    for letter in sorted(set("ABCD") - {right}):
        err = failure(checks.check_setup_choice, letter, results)
        assert err.misconception == "misconception"
    assert "costs more" in failure(checks.check_setup_choice, "B", {
        "head": 0.98, "full": 0.99, "random": 0.2}).observed
    with pytest.raises(ValueError, match="keys"):
        checks.check_setup_choice("A", {"head": 1.0})


def test_choose_setup_tolerance():
    results = {"head": 0.90, "full": 0.94, "random": 0.2}
    assert checks.choose_setup(results, 0.05) == "head"
    assert checks.choose_setup(results, 0.01) == "full"


def test_random_init_choice():
    checks.check_random_init("C")
    assert "memorises" in failure(checks.check_random_init, "B").observed


def test_count_by_doing_the_recipe_on_the_models_also_passes():
    # The checker hands over a meta-device model; counting after a real swap must still work.
    def count_on_the_model(model, num_classes):
        return sum(p.numel() for p in prepare_ok(model, num_classes).parameters() if p.requires_grad)

    checks.check_trainable_after_swap(count_on_the_model, "mobilenet_v3_small", 3)
