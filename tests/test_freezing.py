import re

import pytest
import torch
from torch import nn

from course_utils.freezing import (
    ParameterCount,
    count_parameters,
    freeze,
    freeze_backbone,
    trainable_summary,
    unfreeze,
)


def _numel(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def trainable_parameter_names(model: nn.Module) -> list[str]:
    return [name for name, p in model.named_parameters() if p.requires_grad]


def test_resnet50_feature_extraction_trains_30735_parameters(meta_model):
    model = freeze(meta_model("resnet50"))
    with torch.device("meta"):
        model.fc = nn.Linear(model.fc.in_features, 15)  # freeze, then swap
    count = count_parameters(model)
    assert count.trainable == 2048 * 15 + 15 == 30_735
    assert count.total == _numel(model)
    assert count.frozen == count.total - 30_735
    assert trainable_parameter_names(model) == ["fc.weight", "fc.bias"]


def test_freezing_after_the_swap_leaves_nothing_to_train(meta_model):
    model = meta_model("resnet50")
    with torch.device("meta"):
        model.fc = nn.Linear(2048, 15)
    assert count_parameters(freeze(model)).trainable == 0


def test_freeze_and_unfreeze_touch_every_parameter_and_return_the_model(toy_net):
    assert freeze(toy_net) is toy_net
    assert trainable_parameter_names(toy_net) == []
    assert unfreeze(toy_net) is toy_net
    assert trainable_parameter_names(toy_net) == [n for n, _ in toy_net.named_parameters()]


def test_freeze_backbone_finds_the_head_and_its_aux_heads(meta_model):
    model = meta_model("googlenet")
    assert freeze_backbone(model) is model
    assert trainable_parameter_names(model) == [
        "aux1.fc2.weight",
        "aux1.fc2.bias",
        "aux2.fc2.weight",
        "aux2.fc2.bias",
        "fc.weight",
        "fc.bias",
    ]


def test_freeze_backbone_accepts_explicit_head_paths(toy_net):
    freeze_backbone(toy_net, "fc")
    assert trainable_parameter_names(toy_net) == ["fc.weight", "fc.bias"]
    freeze_backbone(toy_net, ["features.1", "fc"])
    assert trainable_parameter_names(toy_net) == [
        "features.1.weight",
        "features.1.bias",
        "fc.weight",
        "fc.bias",
    ]


def test_freeze_backbone_refuses_bad_paths_without_changing_anything(toy_net):
    with pytest.raises(ValueError, match="'classifier'"):
        freeze_backbone(toy_net, ["fc", "classifier"])
    assert count_parameters(toy_net).frozen == 0
    for empty in ("", []):
        with pytest.raises(
            ValueError, match=f"head_path must name the head.*{re.escape(repr(empty))}"
        ):
            freeze_backbone(toy_net, empty)
    with pytest.raises(TypeError, match="head_path.*3"):
        freeze_backbone(toy_net, 3)
    with pytest.raises(TypeError, match="head_path"):
        freeze_backbone(toy_net, ["fc", 1])


def test_parameter_count_properties():
    count = ParameterCount(trainable=25, total=100)
    assert (count.frozen, count.trainable_fraction) == (75, 0.25)
    assert ParameterCount(0, 0).trainable_fraction == 0.0


def test_shared_parameters_are_counted_once():
    layer = nn.Linear(4, 4)
    model = nn.Sequential(layer, nn.ReLU(), layer)
    assert count_parameters(model) == ParameterCount(trainable=20, total=20)


def test_trainable_summary_lists_each_child_then_the_totals(meta_model):
    model = freeze_backbone(meta_model("resnet18"))
    lines = trainable_summary(model).splitlines()
    assert lines[0] == "ResNet parameters"
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    assert list(rows) == ["conv1", "bn1", "layer1", "layer2", "layer3", "layer4", "fc", "total"]
    assert rows["layer4"] == ["0", f"{_numel(model.layer4):,}", "frozen"]
    assert rows["fc"] == [f"{_numel(model.fc):,}", f"{_numel(model.fc):,}", "trainable"]
    count = count_parameters(model)
    assert rows["total"][:2] == [f"{count.trainable:,}", f"{count.total:,}"]
    assert rows["total"][2] == f"{count.trainable_fraction:.2%}"


def test_trainable_summary_marks_partly_trainable_children(toy_net):
    toy_net.features[0].requires_grad_(False)
    summary = trainable_summary(toy_net)
    assert "features" in summary and "partly" in summary


@pytest.mark.parametrize(
    "function",
    [
        freeze,
        unfreeze,
        freeze_backbone,
        count_parameters,
        trainable_summary,
    ],
)
def test_non_modules_are_refused(function):
    with pytest.raises(TypeError, match="torch.nn.Module.*list"):
        function([nn.Linear(2, 2)])
