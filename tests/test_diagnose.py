import pytest
import torch
from torch import nn

from course_utils.diagnose import Finding, check_forward, check_transfer_setup, explain_shape_error
from course_utils.freezing import freeze
from course_utils.heads import replace_head


def _error(layer: nn.Module, x: torch.Tensor) -> RuntimeError:
    """The error PyTorch itself raises for ``layer(x)``."""
    with pytest.raises(RuntimeError) as info:
        layer(x)
    return info.value


@pytest.fixture
def broken_resnet50(meta_model):
    """Lesson 4's mistake: a ResNet-50 given a head for 1024 features."""
    model = meta_model("resnet50").eval()
    with torch.device("meta"):
        model.fc = nn.Linear(1024, 10)
    return model


def test_pytorch_still_words_the_mismatch_as_the_lesson_says():
    error = _error(nn.Linear(1024, 10), torch.zeros(1, 2048))
    assert str(error) == "mat1 and mat2 shapes cannot be multiplied (1x2048 and 1024x10)"


def test_mismatch_without_a_model_gives_the_numbers_and_the_fix():
    text = explain_shape_error(_error(nn.Linear(1024, 10), torch.zeros(1, 2048)))
    assert "nn.Linear(1024, 10)" in text
    assert "expects 1024 features" in text and "produces 2048" in text
    assert "nn.Linear(model.fc.in_features, 10)" in text
    assert "The output size (10) is fine" in text


def test_mismatch_with_a_model_names_the_head(broken_resnet50):
    error = _error(nn.Linear(1024, 10), torch.zeros(3, 2048))
    text = explain_shape_error(error, broken_resnet50)
    assert "`model.fc` is nn.Linear(1024, 10)" in text
    assert "the backbone produces 2048" in text
    assert "model.fc = nn.Linear(2048, 10)" in text
    assert explain_shape_error(str(error), broken_resnet50) == text


def test_meta_device_wording_is_understood_too(broken_resnet50):
    cpu = _error(nn.Linear(1024, 10), torch.zeros(1, 2048))
    with torch.device("meta"):
        meta = _error(nn.Linear(1024, 10), torch.zeros(1, 2048))
    assert str(meta) != str(cpu)
    assert explain_shape_error(meta, broken_resnet50) == explain_shape_error(cpu, broken_resnet50)


def test_check_forward_explains_the_broken_head(broken_resnet50):
    text = check_forward(broken_resnet50, torch.empty(1, 3, 224, 224, device="meta"))
    assert text == explain_shape_error(
        "mat1 and mat2 shapes cannot be multiplied (1x2048 and 1024x10)", broken_resnet50
    )


def test_a_wrong_layer_inside_the_classifier_is_named(meta_model):
    model = meta_model("vgg16")
    with torch.device("meta"):
        model.classifier[0] = nn.Linear(4096, 4096)  # VGG feeds it 512 * 7 * 7 features
    text = check_forward(model, torch.empty(1, 3, 224, 224, device="meta"))
    assert "`model.classifier[0]` is nn.Linear(4096, 4096)" in text
    assert "the layer before it produces 25088" in text


def test_a_1x1_conv_head_of_the_wrong_width_is_explained(meta_model):
    torch.manual_seed(0)
    model = meta_model("squeezenet1_1")
    with torch.device("meta"):
        model.classifier[1] = nn.Conv2d(256, 10, kernel_size=1)
    # On meta PyTorch only says "Invalid channel dimensions": the sizes come from the layer.
    text = check_forward(model, torch.empty(1, 3, 64, 64, device="meta"))
    assert "`model.classifier[1]` is nn.Conv2d(256, 10" in text
    assert "the backbone produces 512" in text
    assert "model.classifier[1] = nn.Conv2d(512, 10, kernel_size=1)" in text
    real = _error(nn.Conv2d(256, 10, kernel_size=1), torch.zeros(1, 512, 13, 13))
    assert explain_shape_error(real, model) == text


def test_grey_images_are_an_input_problem_not_a_head_problem(meta_model):
    model = meta_model("resnet18")
    text = check_forward(model, torch.empty(2, 1, 32, 32, device="meta"))
    assert "`model.conv1` expects 3-channel (RGB) images" in text
    assert "1 channel." in text and "not the head" in text
    assert "expand(-1, 3, -1, -1)" in text
    rgba = explain_shape_error(_error(nn.Conv2d(3, 8, 3), torch.zeros(1, 4, 8, 8)))
    assert "4 channels" in rgba and "x[:, :3]" in rgba


@pytest.mark.parametrize(
    "error",
    [
        "CUDA out of memory",
        RuntimeError("Expected all tensors to be on the same device"),
        KeyError("fc"),
        "",
    ],
)
def test_other_errors_are_not_called_head_mismatches(error):
    text = explain_shape_error(error)
    assert text.startswith("Not a head-size mismatch")
    assert text.endswith(f"PyTorch said: {error}")


@pytest.mark.parametrize("bad", [42, None, ["mat1"]])
def test_explain_refuses_what_is_no_error(bad):
    with pytest.raises(TypeError, match="exception or its message"):
        explain_shape_error(bad)


def test_explain_refuses_a_model_that_is_no_module():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        explain_shape_error("mat1 and mat2 shapes cannot be multiplied (1x2 and 3x4)", "resnet")


class _Probe(nn.Module):
    """Records how it was run."""

    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm1d(2)
        self.seen: list[tuple[bool, bool]] = []

    def forward(self, x):
        self.seen.append((self.training, torch.is_grad_enabled()))
        return self.bn(x)


def test_check_forward_runs_in_eval_mode_without_grad_and_restores_every_mode():
    probe = _Probe().train()
    probe.bn.eval()  # a deliberate per-layer choice that must survive
    assert check_forward(probe, torch.zeros(3, 2)) is None
    assert probe.seen == [(False, False)]
    assert probe.training and not probe.bn.training
    assert check_forward(probe, (torch.zeros(3, 2),)) is None


def test_check_forward_restores_the_mode_after_a_mismatch(toy_net):
    toy_net.fc = nn.Linear(5, 3)
    assert "nn.Linear(8, 3)" in check_forward(toy_net.train(), torch.zeros(2, 3, 8, 8))
    assert all(m.training for m in toy_net.modules())


def test_check_forward_reraises_errors_it_cannot_explain():
    model = nn.Sequential(nn.Flatten(), nn.Unflatten(1, (5, 5)))
    with pytest.raises(RuntimeError, match="unflatten"):
        check_forward(model, torch.zeros(1, 7))


@pytest.mark.parametrize("bad", [[1, 2], "image", None])
def test_check_forward_refuses_bad_examples(toy_net, bad):
    with pytest.raises(TypeError, match="example must be a tensor"):
        check_forward(toy_net, bad)


def test_check_forward_refuses_non_modules():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        check_forward(lambda x: x, torch.zeros(1))


# --------------------------------------------------------------------- check_transfer_setup


def _codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def test_the_lesson_5_recipe_has_no_findings(toy_net):
    freeze(toy_net)
    replace_head(toy_net, 5)
    toy_net.eval()  # BatchNorm statistics stay put
    optimizer = torch.optim.SGD([p for p in toy_net.parameters() if p.requires_grad], lr=0.1)
    assert check_transfer_setup(toy_net, optimizer) == []


def test_freezing_after_the_swap_is_reported(toy_net):
    replace_head(toy_net, 5)
    freeze(toy_net).eval()
    [finding] = check_transfer_setup(toy_net)
    assert finding.code == "head_frozen"
    assert "model.fc" in finding.message and "requires_grad_(True)" in finding.fix


def test_an_unfrozen_backbone_is_reported_only_for_feature_extraction(toy_net):
    replace_head(toy_net, 5)
    assert _codes(check_transfer_setup(toy_net)) == ["backbone_not_frozen"]
    finding = check_transfer_setup(toy_net)[0]
    backbone = sum(p.numel() for p in toy_net.features.parameters())
    assert f"{backbone:,} backbone parameters" in finding.message
    assert check_transfer_setup(toy_net, mode="fine_tune") == []


def test_an_optimizer_built_before_the_swap_is_reported_twice(toy_net):
    optimizer = torch.optim.SGD(toy_net.parameters(), lr=0.1)
    replace_head(toy_net, 5, freeze_backbone=True)
    toy_net.eval()
    findings = check_transfer_setup(toy_net, optimizer)
    assert _codes(findings) == ["optimizer_missing_head", "optimizer_stale_params"]
    assert "fc.weight, fc.bias" in findings[0].message
    assert "(3, 8), (3,)" in findings[1].message  # the old head's weight and bias


def test_frozen_batchnorm_in_train_mode_is_reported(toy_net):
    replace_head(toy_net, 5, freeze_backbone=True)
    toy_net.train()
    [finding] = check_transfer_setup(toy_net)
    assert finding.code == "batchnorm_train_mode" and "features.1" in finding.message
    toy_net.features[1].eval()
    assert check_transfer_setup(toy_net) == []


def test_batchnorm_without_weights_follows_the_backbone(toy_net):
    toy_net.features[1] = nn.BatchNorm2d(8, affine=False)
    assert "batchnorm_train_mode" not in _codes(check_transfer_setup(toy_net, mode="fine_tune"))
    replace_head(toy_net, 5, freeze_backbone=True)
    assert _codes(check_transfer_setup(toy_net)) == ["batchnorm_train_mode"]


def test_every_code_at_once_on_a_torchvision_model(meta_model):
    model = meta_model("resnet18").train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    replace_head(model, 5)
    model.layer4.requires_grad_(False)
    model.fc.requires_grad_(False)
    assert _codes(check_transfer_setup(model, optimizer)) == [
        "head_frozen",
        "backbone_not_frozen",
        "optimizer_missing_head",
        "optimizer_stale_params",
        "batchnorm_train_mode",
    ]


def test_findings_print_their_code_and_fix():
    finding = Finding("head_frozen", "the head is frozen.", "unfreeze it.")
    assert str(finding) == "[head_frozen] the head is frozen.\n  Fix: unfreeze it."


def test_check_transfer_setup_refuses_bad_arguments(toy_net):
    with pytest.raises(ValueError, match="'head_only'"):
        check_transfer_setup(toy_net, mode="head_only")
    with pytest.raises(TypeError, match="torch.optim.Optimizer.*list"):
        check_transfer_setup(toy_net, [p for p in toy_net.parameters()])
    with pytest.raises(TypeError, match="torch.nn.Module"):
        check_transfer_setup(None)
