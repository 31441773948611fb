import dataclasses
import re

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from course_utils.heads import HeadInfo, find_head, get_module, replace_head, set_module

pytestmark = pytest.mark.long(74)

ALL_MODELS = torchvision.models.list_models(module=torchvision.models)


def test_torchvision_still_has_80_classifiers():
    # A new family may keep its head somewhere new: check it, then update this number.
    assert len(ALL_MODELS) == 80


def _last_layer(model: nn.Module) -> tuple[str, nn.Module]:
    """The last Linear/Conv2d registered: worked out here without course_utils."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))][-1]


def _outputs(model: nn.Module, x: torch.Tensor) -> list[tuple[int, ...]]:
    out = model(x)
    return [tuple(o.shape) for o in (out if isinstance(out, tuple) else (out,))]


@pytest.mark.parametrize("name", ALL_MODELS)
def test_every_torchvision_head_is_found_and_replaced(name, meta_model):
    model = meta_model(name)
    info = find_head(model)
    path, layer = _last_layer(model)
    assert (info.path, info.module) == (path, layer)
    assert get_module(model, info.path) is layer
    linear = isinstance(layer, nn.Linear)
    assert info.kind == ("linear" if linear else "conv1x1")
    assert info.in_features == (layer.in_features if linear else layer.in_channels)
    assert info.out_features == 1000
    assert info.bias == (layer.bias is not None)

    assert replace_head(model, 7) is model
    new = find_head(model)
    assert (new.path, new.in_features, new.out_features, new.bias) == (
        path,
        info.in_features,
        7,
        info.bias,
    )
    assert new.module is not layer and new.module.weight.is_meta
    # Meta tensors carry shapes, so this forward proves the head feeds the output;
    # in training mode the auxiliary heads must give 7 scores as well.
    model.train(bool(info.aux_paths))
    size = 299 if name == "inception_v3" else 224
    with torch.no_grad():
        shapes = _outputs(model, torch.empty(2, 3, size, size, device="meta"))
    assert shapes == [(2, 7)] * (1 + len(info.aux_paths))


@pytest.mark.parametrize(
    ("name", "path", "in_features"),
    [
        ("resnet18", "fc", 512),
        ("resnet34", "fc", 512),
        ("resnet50", "fc", 2048),
        ("resnet101", "fc", 2048),
        ("resnet152", "fc", 2048),
        ("vgg16", "classifier.6", 4096),
        ("vgg11_bn", "classifier.6", 4096),
        ("alexnet", "classifier.6", 4096),
        ("densenet121", "classifier", None),
        ("mobilenet_v2", "classifier.1", None),
        ("efficientnet_b0", "classifier.1", None),
        ("efficientnet_v2_s", "classifier.1", None),
        ("mnasnet1_0", "classifier.1", None),
        ("mobilenet_v3_small", "classifier.3", None),
        ("convnext_tiny", "classifier.2", None),
        ("maxvit_t", "classifier.5", None),
        ("vit_b_16", "heads.head", None),
        ("swin_t", "head", None),
        ("swin_v2_t", "head", None),
        ("regnet_y_400mf", "fc", None),
        ("shufflenet_v2_x1_0", "fc", None),
        ("googlenet", "fc", None),
        ("inception_v3", "fc", None),
        ("squeezenet1_0", "classifier.1", None),
    ],
)
def test_curriculum_head_locations(name, path, in_features, meta_model):
    info = find_head(meta_model(name))
    assert info.path == path
    if in_features is not None:
        assert info.in_features == in_features


def test_curriculum_special_heads(meta_model):
    assert find_head(meta_model("maxvit_t")).bias is False
    assert find_head(meta_model("squeezenet1_1")).kind == "conv1x1"
    assert find_head(meta_model("googlenet")).aux_paths == ("aux1.fc2", "aux2.fc2")
    assert find_head(meta_model("inception_v3")).aux_paths == ("AuxLogits.fc",)
    # Without auxiliary heads there is nothing extra to replace.
    assert find_head(meta_model("googlenet", aux_logits=False)).aux_paths == ()
    assert find_head(meta_model("inception_v3", aux_logits=False)).aux_paths == ()


def test_head_info_is_frozen(meta_model):
    info = find_head(meta_model("resnet18"))
    assert isinstance(info, HeadInfo)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.path = "classifier"


@pytest.mark.parametrize(
    ("name", "size", "kwargs"),
    [
        ("resnet18", 32, {}),
        ("mobilenet_v3_small", 32, {}),
        ("squeezenet1_0", 64, {}),
        # Training mode, three outputs; the meta test above already checks their shapes.
        pytest.param("googlenet", 64, {"init_weights": False}, marks=pytest.mark.slow),
    ],
)
def test_replaced_heads_give_real_outputs_on_cpu(name, size, kwargs):
    torch.manual_seed(0)
    model = torchvision.models.get_model(name, weights=None, **kwargs)
    aux = find_head(model).aux_paths
    replace_head(model, 5).train(bool(aux))
    with torch.no_grad():
        assert _outputs(model, torch.randn(2, 3, size, size)) == [(2, 5)] * (1 + len(aux))


def test_squeezenet_gets_a_new_1x1_conv_and_a_truthful_num_classes(meta_model):
    model = replace_head(meta_model("squeezenet1_0"), 4)
    head = model.classifier[1]
    assert isinstance(head, nn.Conv2d)
    assert (head.in_channels, head.out_channels, head.kernel_size) == (512, 4, (1, 1))
    assert model.num_classes == 4


def test_maxvit_head_stays_without_bias(meta_model):
    model = replace_head(meta_model("maxvit_t"), 3)
    assert model.classifier[5].bias is None


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_replace_head_keeps_dtype_and_mode(toy_net, dtype):
    model = toy_net.to(dtype).eval()
    replace_head(model, 6)
    assert model.fc.weight.dtype == dtype
    assert model.fc.weight.device == model.features[0].weight.device
    assert not model.fc.training
    assert model(torch.randn(2, 3, 8, 8, dtype=dtype)).shape == (2, 6)


def test_replace_head_with_freeze_backbone_trains_exactly_the_new_heads(meta_model):
    model = replace_head(meta_model("googlenet"), 5, freeze_backbone=True)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == [
        "aux1.fc2.weight",
        "aux1.fc2.bias",
        "aux2.fc2.weight",
        "aux2.fc2.bias",
        "fc.weight",
        "fc.bias",
    ]


def test_replace_head_without_freezing_leaves_requires_grad_alone(toy_net):
    toy_net.features[0].weight.requires_grad_(False)
    replace_head(toy_net, 2)
    assert not toy_net.features[0].weight.requires_grad
    assert toy_net.features[1].weight.requires_grad and toy_net.fc.weight.requires_grad


def test_user_models_use_their_last_linear(toy_net, toy_sequential):
    assert find_head(toy_net).path == "fc"
    info = find_head(toy_sequential)  # Dropout after the Linear has no parameters: still the head
    assert (info.path, info.in_features, info.out_features, info.aux_paths) == ("5", 4, 5, ())
    replace_head(toy_sequential, 9)
    assert toy_sequential.eval()(torch.randn(2, 3, 6, 6)).shape == (2, 9)


def test_a_sequential_head_inside_a_known_family_is_searched(meta_model):
    model = meta_model("resnet50")
    with torch.device("meta"):
        model.fc = nn.Sequential(nn.Linear(2048, 256), nn.ReLU(), nn.Linear(256, 10))
    info = find_head(model)
    assert (info.path, info.in_features, info.out_features) == ("fc.2", 256, 10)


def test_a_subclass_of_a_torchvision_family_uses_its_table_row():
    class MyResNet(torchvision.models.ResNet):
        pass

    with torch.device("meta"):
        model = MyResNet(torchvision.models.resnet.BasicBlock, [1, 1, 1, 1], num_classes=3)
    assert find_head(model).path == "fc"


def test_no_head_names_the_model_and_its_last_layers(meta_model):
    with pytest.raises(ValueError, match=r"Sequential.*no nn\.Linear.*1 \(ReLU\), 2 \(Flatten\)"):
        find_head(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten()))
    model = meta_model("resnet18")
    model.fc = nn.Identity()  # a feature extractor has no head
    with pytest.raises(ValueError, match=r"ResNet.*'fc' is Identity.*fc \(Identity\)"):
        find_head(model)


def test_a_linear_followed_by_parameterised_layers_is_not_taken_for_the_head():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)
            self.norm = nn.LayerNorm(2)

    with pytest.raises(ValueError, match=r"Odd.*'fc', is followed by norm \(LayerNorm\)"):
        find_head(Odd())


def test_a_single_layer_has_no_head_to_replace():
    with pytest.raises(ValueError, match="Linear is a single layer"):
        find_head(nn.Linear(4, 2))


def test_a_lazy_head_must_be_materialised_first():
    with pytest.raises(ValueError, match="lazy"):
        find_head(nn.Sequential(nn.Flatten(), nn.LazyLinear(3)))


@pytest.mark.parametrize("bad", [None, "resnet18", torch.zeros(3)])
def test_non_modules_are_refused(bad):
    with pytest.raises(TypeError, match="torch.nn.Module"):
        find_head(bad)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        replace_head(bad, 3)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        get_module(bad, "fc")


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (0, ValueError),
        (-3, ValueError),
        (True, TypeError),
        (2.0, TypeError),
        ("5", TypeError),
        (None, TypeError),
    ],
)
def test_bad_num_classes_are_quoted(toy_net, bad, error):
    with pytest.raises(error, match=f"num_classes.*{re.escape(repr(bad))}"):
        replace_head(toy_net, bad)
    assert toy_net.fc.out_features == 3  # nothing changed


def test_numpy_integers_are_class_counts(toy_net):
    assert replace_head(toy_net, np.int64(4)).fc.out_features == 4


def test_get_module_follows_dotted_paths(meta_model):
    model = meta_model("vgg16")
    assert get_module(model, "classifier.6") is model.classifier[6]
    assert get_module(model, "") is model
    with pytest.raises(ValueError, match=r"'classifier\.9'.*children are \['0', .*'6'\]"):
        get_module(model, "classifier.9")
    with pytest.raises(ValueError, match=r"no submodule 'fc'"):
        get_module(model, "fc")
    with pytest.raises(TypeError, match="dotted string"):
        get_module(model, 6)


def test_set_module_replaces_only_existing_layers(toy_sequential):
    new = nn.Linear(4, 2)
    set_module(toy_sequential, "5", new)
    assert toy_sequential[5] is new
    with pytest.raises(ValueError, match="no submodule 'classifier'"):
        set_module(toy_sequential, "classifier", nn.Linear(4, 2))
    assert not hasattr(toy_sequential, "classifier")
    with pytest.raises(ValueError, match="empty"):
        set_module(toy_sequential, "", new)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        set_module(toy_sequential, "5", torch.zeros(2, 4))
