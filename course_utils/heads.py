"""Find and replace the classifier head of a model.

The head is the last layer: it turns the backbone's feature vector into one
score per class. torchvision keeps it in a different place in every family,
so :func:`find_head` looks the place up by model class (``_HEADS``) and,
for any other model, takes the last ``nn.Linear`` (or 1x1 ``nn.Conv2d``)
when nothing with parameters comes after it.

>>> import torchvision
>>> model = torchvision.models.resnet50()
>>> find_head(model).path, find_head(model).in_features
('fc', 2048)
>>> replace_head(model, 10, freeze_backbone=True).fc
Linear(in_features=2048, out_features=10, bias=True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torchvision.models as tvm
from torch import nn

from course_utils._validate import check_model, check_positive_int

__all__ = ["HeadInfo", "find_head", "get_module", "replace_head", "set_module"]

HeadKind = Literal["linear", "conv1x1"]

# Where each torchvision family keeps its head, and its auxiliary heads (used in
# training mode only). Measured on torchvision 0.29; subclasses (the quantizable
# variants, a user's own ResNet subclass) are found through the class's MRO.
_HEADS: dict[type[nn.Module], tuple[str, tuple[str, ...]]] = {
    tvm.AlexNet: ("classifier.6", ()),
    tvm.ConvNeXt: ("classifier.2", ()),
    tvm.DenseNet: ("classifier", ()),
    tvm.EfficientNet: ("classifier.1", ()),
    tvm.GoogLeNet: ("fc", ("aux1.fc2", "aux2.fc2")),
    tvm.Inception3: ("fc", ("AuxLogits.fc",)),
    tvm.MaxVit: ("classifier.5", ()),
    tvm.MNASNet: ("classifier.1", ()),
    tvm.MobileNetV2: ("classifier.1", ()),
    tvm.MobileNetV3: ("classifier.3", ()),
    tvm.RegNet: ("fc", ()),
    tvm.ResNet: ("fc", ()),
    tvm.ShuffleNetV2: ("fc", ()),
    tvm.SqueezeNet: ("classifier.1", ()),
    tvm.SwinTransformer: ("head", ()),
    tvm.VGG: ("classifier.6", ()),
    tvm.VisionTransformer: ("heads.head", ()),
}


@dataclass(frozen=True)
class HeadInfo:
    """Where a model's head is and what it looks like."""

    path: str  # dotted, as in named_modules(): "fc", "classifier.6", "heads.head"
    module: nn.Module
    in_features: int  # in_channels for a 1x1 convolution
    out_features: int
    aux_paths: tuple[str, ...]
    kind: HeadKind
    bias: bool


def _check_model(model: object) -> nn.Module:
    return check_model(model)


def _check_path(path: object) -> str:
    if not isinstance(path, str):
        raise TypeError(f"path must be a dotted string such as 'classifier.6', got {path!r}")
    return path


def get_module(model: nn.Module, path: str) -> nn.Module:
    """The submodule at dotted ``path`` ("classifier.6" is ``model.classifier[6]``)."""
    module = _check_model(model)
    if not _check_path(path):
        return module
    for depth, name in enumerate(path.split(".")):
        child = module._modules.get(name)
        if child is None:
            where = ".".join(path.split(".")[:depth]) or type(model).__name__
            raise ValueError(
                f"{type(model).__name__} has no submodule {path!r}: {where} has no child "
                f"{name!r}; its children are {list(module._modules)}"
            )
        module = child
    return module


def set_module(model: nn.Module, path: str, module: nn.Module) -> None:
    """Replace the existing submodule at dotted ``path`` with ``module``.

    Only existing paths are accepted: assigning a new name (``model.classifier``
    on a ResNet) would add a layer that ``forward`` never calls.
    """
    _check_model(model)
    if not _check_path(path):
        raise ValueError("path is empty: give the dotted path of a submodule, e.g. 'fc'")
    check_model(module, "module")
    get_module(model, path)  # raises if there is nothing to replace
    parent, _, name = path.rpartition(".")
    setattr(get_module(model, parent), name, module)


def _kind(module: nn.Module) -> HeadKind | None:
    if isinstance(module, nn.Linear):
        return "linear"
    if isinstance(module, nn.Conv2d) and module.kernel_size == (1, 1):
        return "conv1x1"
    return None


def _info(path: str, module: nn.Module, aux_paths: tuple[str, ...]) -> HeadInfo:
    if isinstance(module, nn.modules.lazy.LazyModuleMixin) and module.has_uninitialized_params():
        raise ValueError(f"the head {path!r} is a lazy layer with no size yet: run one forward "
                         "pass before looking for the head")
    bias = module.bias is not None
    if isinstance(module, nn.Linear):
        return HeadInfo(path, module, module.in_features, module.out_features, aux_paths,
                        "linear", bias)
    if isinstance(module, nn.Conv2d) and _kind(module) == "conv1x1":
        return HeadInfo(path, module, module.in_channels, module.out_channels, aux_paths,
                        "conv1x1", bias)
    raise ValueError(f"the head {path!r} is {type(module).__name__}, not an nn.Linear or a 1x1 "
                     "nn.Conv2d: replace it yourself with set_module(model, path, layer)")


def _last_layer(model: nn.Module, path: str = "") -> tuple[str, nn.Module]:
    """The last Linear/1x1-conv registered under ``path``, if no parameterised layer follows it.

    Registration order is a cheap stand-in for execution order; a parameterised
    layer registered later makes the answer doubtful, so that is an error.
    """
    found: tuple[str, nn.Module] | None = None
    after: list[str] = []  # parameterised layers registered after the candidate
    for name, module in get_module(model, path).named_modules(prefix=path):
        if _kind(module):
            found, after = (name, module), []
        elif found and any(True for _ in module.parameters(recurse=False)):
            after.append(f"{name} ({type(module).__name__})")
    if found and not after:
        return found
    where = f"its {path!r} is {type(get_module(model, path)).__name__} and " if path else ""
    why = (f"its last nn.Linear, {found[0]!r}, is followed by {', '.join(after[:3])}"
           if found else "it has no nn.Linear or 1x1 nn.Conv2d layer")
    leaves = [f"{name} ({type(m).__name__})" for name, m in model.named_modules()
              if not m._modules][-4:]
    raise ValueError(
        f"cannot find the classifier head of {type(model).__name__}: {where}{why}. Last layers: "
        f"{', '.join(leaves) or 'none'}. Replace the layer that produces the class scores "
        "yourself with set_module(model, path, layer)."
    )


def _table_entry(model: nn.Module) -> tuple[str, tuple[str, ...]] | None:
    for cls in type(model).__mro__:
        if cls in _HEADS:
            return _HEADS[cls]
    return None


def find_head(model: nn.Module) -> HeadInfo:
    """Locate the classifier head of ``model`` (torchvision or a user's own model).

    Raises ``ValueError`` naming the model's last layers when no head is found.
    """
    if _kind(_check_model(model)):
        raise ValueError(f"{type(model).__name__} is a single layer with no backbone: build a new "
                         "layer instead of replacing its head")
    entry = _table_entry(model)
    if entry is None:
        return _info(*_last_layer(model), ())
    path, aux_candidates = entry
    head = get_module(model, path)
    if _kind(head) is None:
        # e.g. model.fc = nn.Sequential(nn.Linear(2048, 256), nn.ReLU(), nn.Linear(256, 10))
        path, head = _last_layer(model, path)
    # Auxiliary heads exist only when built with aux_logits=True.
    aux_paths = tuple(p for p in aux_candidates if _exists_as_head(model, p))
    return _info(path, head, aux_paths)


def _exists_as_head(model: nn.Module, path: str) -> bool:
    try:
        return _kind(get_module(model, path)) is not None
    except ValueError:
        return False


def _check_num_classes(num_classes: object) -> int:
    return check_positive_int("num_classes", num_classes)


def _new_head(old: nn.Module, num_classes: int) -> nn.Module:
    """A freshly initialised layer like ``old`` with ``num_classes`` outputs, same device/dtype."""
    info = _info("", old, ())
    weight = old.get_parameter("weight")
    new: nn.Module
    if info.kind == "linear":
        new = nn.Linear(info.in_features, num_classes, bias=info.bias, device=weight.device,
                        dtype=weight.dtype)
    else:
        new = nn.Conv2d(info.in_features, num_classes, kernel_size=1, bias=info.bias,
                        device=weight.device, dtype=weight.dtype)
    return new.train(old.training)


def replace_head(model: nn.Module, num_classes: int, *,
                 freeze_backbone: bool = False) -> nn.Module:
    """Give ``model`` a new head (and new auxiliary heads) with ``num_classes`` outputs.

    In place; returns ``model``. The new layers keep the old head's kind,
    bias, device and dtype, with PyTorch's default initialisation. With
    ``freeze_backbone=True`` every existing parameter is frozen *before* the
    swap, so exactly the new head(s) are trainable.
    """
    _check_model(model)
    num_classes = _check_num_classes(num_classes)
    info = find_head(model)
    if freeze_backbone:
        model.requires_grad_(False)  # new layers are created trainable
    for path in (info.path, *info.aux_paths):
        set_module(model, path, _new_head(get_module(model, path), num_classes))
    # SqueezeNet, ViT and Swin record their class count; keep it truthful.
    if isinstance(getattr(model, "num_classes", None), int):
        setattr(model, "num_classes", num_classes)  # noqa: B010 (a plain int attribute)
    return model
