"""Find and replace the classifier head of a model.

The head is the layer that turns the backbone's feature vector into one score
per class. :func:`find_head` asks, in this order:

1. the model itself, when it comes from a model zoo that knows its own head:
   timm (``pretrained_cfg["classifier"]``, ``get_classifier()``) and Hugging
   Face transformers (the layers that give ``config.num_labels`` scores);
2. the torchvision table below (``_HEADS``), by model class;
3. the generic rule: the last ``nn.Linear`` (or 1x1 ``nn.Conv2d``) when nothing
   with parameters comes after it and it is not part of a block, an MLP, a
   pooling layer or a projector.

Some models have more than one layer that gives class scores (auxiliary,
distillation or per-branch heads); :class:`HeadInfo` lists them all and
:func:`replace_head` replaces them all. A model with no head (a feature
extractor) is refused with a message that says how to add one.

>>> import torchvision
>>> model = torchvision.models.resnet50()
>>> find_head(model).path, find_head(model).in_features
('fc', 2048)
>>> replace_head(model, 10, freeze_backbone=True).fc
Linear(in_features=2048, out_features=10, bias=True)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import torch
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

# transformers classes whose head lives inside the base model (measured on
# transformers 5.24); every other image-classification class keeps its head(s)
# next to the base model, where _transformers_heads finds them.
_TRANSFORMERS_HEADS: dict[str, tuple[str, ...]] = {
    "PerceiverForImageClassificationLearned": ("perceiver.decoder.decoder.final_layer",),
    "PerceiverForImageClassificationFourier": ("perceiver.decoder.decoder.final_layer",),
    "PerceiverForImageClassificationConvProcessing": ("perceiver.decoder.decoder.final_layer",),
}

# Words in layer names and classes that mark a part of the backbone (a block, an
# MLP, attention, pooling, a projector). The generic rule never takes a Linear
# inside one of them for the head: it would give per-token features of the new
# size, or a pooled embedding that a head still has to read.
_BLOCK_WORDS = frozenset(
    {
        "block",
        "blocks",
        "mlp",
        "ffn",
        "feedforward",
        "attn",
        "attention",
        "pool",
        "pooler",
        "pooling",
        "proj",
        "projection",
        "projector",
        "projections",
        "merger",
        "aligner",
        "adapter",
        "connector",
        "resampler",
        "residual",
        "qkv",
        "embed",
        "embeds",
        "embedding",
        "embeddings",
        "mixer",
        "neck",
    }
)
_HEAD_WORDS = frozenset({"head", "heads", "classifier", "classif", "logits", "score", "scores"})
_BLOCK_CLASS = re.compile(
    r"Block|Mlp|MLP|FeedForward|FFN|Attention|Pool|Projector|Projection|"
    r"Merger|Aligner|Adapter|Connector|Resampler|Residual|Embed|"
    r"Layer(?!Norm)|Encoder|Stage"
)
_HEAD_CLASS = re.compile(r"Head$|Classifier|Classification")


@dataclass(frozen=True)
class HeadInfo:
    """Where a model's head is and what it looks like.

    ``path`` is the main head; ``aux_paths`` are the other layers that give
    class scores: auxiliary heads (GoogLeNet, Inception, VOLO), distillation
    heads (DeiT, LeViT), per-branch or per-stage heads (CrossViT, EfficientViM).
    """

    path: str  # dotted, as in named_modules(): "fc", "classifier.6", "heads.head"
    module: nn.Module
    in_features: int  # in_channels for a 1x1 convolution
    out_features: int
    aux_paths: tuple[str, ...]
    kind: HeadKind
    bias: bool

    @property
    def paths(self) -> tuple[str, ...]:
        """Every layer that gives class scores: the head, then ``aux_paths``."""
        return (self.path, *self.aux_paths)


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


def _out(module: nn.Module) -> int:
    """The output width of a head layer (one that ``_kind`` recognises)."""
    if isinstance(module, nn.Linear):
        return module.out_features
    if isinstance(module, nn.Conv2d):
        return module.out_channels
    raise TypeError(f"expected an nn.Linear or nn.Conv2d head layer, got {type(module).__name__}")


def _info(path: str, module: nn.Module, aux_paths: tuple[str, ...]) -> HeadInfo:
    if isinstance(module, nn.modules.lazy.LazyModuleMixin) and module.has_uninitialized_params():
        raise ValueError(
            f"the head {path!r} is a lazy layer with no size yet: run one forward "
            "pass before looking for the head"
        )
    bias = module.bias is not None
    if isinstance(module, nn.Linear):
        return HeadInfo(
            path, module, module.in_features, module.out_features, aux_paths, "linear", bias
        )
    if isinstance(module, nn.Conv2d) and _kind(module) == "conv1x1":
        return HeadInfo(
            path, module, module.in_channels, module.out_channels, aux_paths, "conv1x1", bias
        )
    raise ValueError(
        f"the head {path!r} is {type(module).__name__}, not an nn.Linear or a 1x1 "
        "nn.Conv2d: replace it yourself with set_module(model, path, layer)"
    )


def _features(model: nn.Module) -> int | None:
    """The width of the last layer with parameters: what a feature extractor puts out."""
    for _, module in reversed(list(model.named_modules())):
        if isinstance(module, nn.Linear):
            return module.out_features
        if isinstance(module, nn.modules.conv._ConvNd):
            return module.out_channels
        if isinstance(module, nn.modules.batchnorm._NormBase):
            return module.num_features
        if isinstance(module, nn.GroupNorm):
            return module.num_channels
        if isinstance(module, nn.LayerNorm | nn.RMSNorm) and module.normalized_shape:
            return module.normalized_shape[-1]
        weight = getattr(module, "weight", None)
        if not module._modules and isinstance(weight, torch.Tensor) and weight.ndim == 1:
            return int(weight.shape[0])  # a norm layer of a model zoo's own making
    return None


def _feature_extractor(model: nn.Module, why: str, features: int | None, how: str) -> ValueError:
    size = f"its output is {features} features" if features else "its output is features"
    return ValueError(
        f"{type(model).__name__} is a feature extractor: {size}, not class scores ({why}). "
        f"It has no head to find or replace. To add one, {how}"
    )


_GENERIC_HOW = (
    "put a new layer on top of its (pooled) output, e.g. "
    "nn.Sequential(model, nn.Linear({n}, num_classes))."
)


def _words(name: str) -> set[str]:
    return {w for w in re.split(r"[_\W\d]+", name.lower()) if w}


def _inside_backbone(model: nn.Module, path: str) -> str | None:
    """Why the layer at ``path`` is part of the backbone, or None if it may be a head.

    The innermost name that says anything decides: ``mlp_head.1`` is a head,
    ``head.mlp.fc2`` (SigLIP's attention pooling) is an MLP inside a pooling head.
    """
    parts = path.split(".")
    for depth in range(len(parts), 0, -1):
        name, prefix = parts[depth - 1], ".".join(parts[:depth])
        words = _words(name)
        if words & _HEAD_WORDS or name == "fc":
            return None
        if words & _BLOCK_WORDS:
            return f"{path!r} is inside {prefix!r}, part of the backbone"
        if depth < len(parts):  # the layer itself is a Linear/Conv2d; look at its containers
            cls = type(get_module(model, prefix)).__name__
            if _HEAD_CLASS.search(cls):
                return None
            if _BLOCK_CLASS.search(cls):
                return f"{path!r} is inside {prefix!r} ({cls}), part of the backbone"
    return None


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
    why = (
        f"its last nn.Linear, {found[0]!r}, is followed by {', '.join(after[:3])}"
        if found
        else "it has no nn.Linear or 1x1 nn.Conv2d layer"
    )
    leaves = [
        f"{name} ({type(m).__name__})" for name, m in model.named_modules() if not m._modules
    ][-4:]
    extractor = ""
    if path and not found and (features := _features(model)):
        # A known family whose head was taken off (model.fc = nn.Identity()).
        extractor = (
            f" {type(model).__name__} is a feature extractor: its output is {features} "
            f"features; put a head back with set_module(model, {path!r}, "
            f"nn.Linear({features}, num_classes))."
        )
    raise ValueError(
        f"cannot find the classifier head of {type(model).__name__}: {where}{why}. Last layers: "
        f"{', '.join(leaves) or 'none'}.{extractor} Replace the layer that produces the class "
        "scores yourself with set_module(model, path, layer)."
    )


def _generic_head(model: nn.Module) -> HeadInfo:
    path, layer = _last_layer(model)
    why = _inside_backbone(model, path)
    if why:
        features = _features(model)
        raise _feature_extractor(
            model,
            f"its last layer {why}",
            features,
            _GENERIC_HOW.format(n=features or "num_features"),
        )
    return _info(path, layer, ())


# --- model zoos that know their own head -------------------------------------------------


def _is_timm(model: nn.Module) -> bool:
    return callable(getattr(model, "get_classifier", None)) and callable(
        getattr(model, "reset_classifier", None)
    )


def _is_timm_encoder(model: nn.Module) -> bool:
    """A timm encoder without the classifier protocol, built with no head (``num_classes=0``).

    Such models (timm's ``*_enc`` vision towers, e.g. Gemma 4's and MobileNetV5's)
    accept ``num_classes`` but never build a classifier.
    """
    return (
        type(model).__module__.startswith("timm.")
        and getattr(model, "num_classes", None) == 0
        and isinstance(getattr(model, "num_features", None), int)
    )


def _is_transformers(model: nn.Module) -> bool:
    return hasattr(model, "config") and any(
        cls.__module__.startswith("transformers.") for cls in type(model).__mro__
    )


def _paths_of(model: nn.Module, modules: object) -> list[str]:
    """Dotted paths of the modules that ``get_classifier()`` returned (one, or a tuple)."""
    wanted = modules if isinstance(modules, tuple | list) else (modules,)
    ids = {id(m) for m in wanted if isinstance(m, nn.Module)}
    return [name for name, m in model.named_modules() if id(m) in ids]


def _score_layers(model: nn.Module, path: str, num_classes: int) -> list[str]:
    """The Linear/1x1-conv layers at or under ``path`` that give ``num_classes`` scores.

    A wrapper such as LeViT's BatchNorm+Linear or MetaFormer's MLP head is
    searched: only its last, class-scoring layer is the head.
    """
    return [
        name
        for name, m in get_module(model, path).named_modules(prefix=path)
        if _kind(m) and _out(m) == num_classes
    ]


def _timm_heads(model: nn.Module, prefix: str = "") -> list[str] | ValueError:
    """The head paths timm declares for ``model``, or the refusal for a feature extractor."""
    num_classes = getattr(model, "num_classes", None)
    cfg = getattr(model, "pretrained_cfg", None) or {}
    names = cfg.get("classifier") or ()
    names = (names,) if isinstance(names, str) else tuple(names)
    if isinstance(num_classes, int) and num_classes > 0:
        found: list[str] = []
        candidates = [n for n in names if _exists(model, n)]
        # timm's method, which _is_timm checked is there; nn.Module's __getattr__ types it
        # as Tensor | Module.
        candidates += _paths_of(model, model.get_classifier())  # type: ignore[operator]
        for name in candidates:
            found += [p for p in _score_layers(model, name, num_classes) if p not in found]
        if found:
            return [f"{prefix}{p}" for p in found]
    features = getattr(model, "head_hidden_size", None) or getattr(model, "num_features", None)
    why = (
        f"timm built it with num_classes={num_classes}"
        if num_classes == 0
        else f"its classifier {names or 'get_classifier()'} gives no class scores"
    )
    return _feature_extractor(
        model,
        why,
        features,
        f"call model{'.' + prefix[:-1] if prefix else ''}.reset_classifier(num_classes), or build "
        "it with timm.create_model(name, num_classes=num_classes).",
    )


def _transformers_heads(model: nn.Module) -> list[str] | ValueError:
    config = model.config
    num_labels = getattr(config, "num_labels", None)
    for name, child in model.named_children():
        if _is_timm(child):  # TimmWrapperForImageClassification: timm knows the head
            return _timm_heads(child, prefix=f"{name}.")
    base = getattr(model, "base_model_prefix", "") or ""
    found: list[str] = []
    if isinstance(num_labels, int) and num_labels > 0:
        table = _TRANSFORMERS_HEADS.get(type(model).__name__, ())
        # Heads sit next to the base model (CLIP's is `vision_model`, a model with its own
        # config); the base model's own layers are never heads.
        outside = [
            n for n, child in model.named_children() if n != base and not hasattr(child, "config")
        ]
        outside += [p for p in table if _exists(model, p)]
        for name in outside:
            found += [p for p in _score_layers(model, name, num_labels) if p not in found]
    if found:
        return found
    if not type(model).__name__.endswith(("ForImageClassification", "WithTeacher")):
        kind = type(model).__name__
        why = f"{kind} has no classification head"
    else:
        why = f"config.num_labels is {num_labels} and no layer gives {num_labels} scores"
    if "ShieldGemma2" in type(model).__name__:
        raise ValueError(
            f"{type(model).__name__} scores its classes with its language model's vocabulary "
            "(the probabilities of the 'Yes' and 'No' tokens): it has no classifier layer to "
            "find or replace. Ask a different question through its prompt instead."
        )
    features = _features(model)
    return _feature_extractor(
        model,
        why,
        features,
        "build its ...ForImageClassification class with num_labels=num_classes (e.g. "
        "AutoModelForImageClassification.from_pretrained(name, num_labels=num_classes)), or "
        + _GENERIC_HOW.format(n=features or "config.hidden_size"),
    )


def _exists(model: nn.Module, path: str) -> bool:
    try:
        get_module(model, path)
    except ValueError:
        return False
    return True


def _table_entry(model: nn.Module) -> tuple[str, tuple[str, ...]] | None:
    for cls in type(model).__mro__:
        if cls in _HEADS:
            return _HEADS[cls]
    return None


def find_head(model: nn.Module) -> HeadInfo:
    """Locate the classifier head(s) of ``model``: timm, transformers, torchvision or a user's own.

    Raises ``ValueError`` for a model without a head (a feature extractor: the
    message gives its output size and how to add a head), or naming the
    model's last layers when no head is found.
    """
    if _kind(_check_model(model)):
        raise ValueError(
            f"{type(model).__name__} is a single layer with no backbone: build a new "
            "layer instead of replacing its head"
        )
    if _is_timm_encoder(model) and not _is_timm(model):
        try:
            _generic_head(model)
        except ValueError as exc:
            if "is a feature extractor" in str(exc):
                raise  # it names the layer that looked like a head (a projector, say)
        # _is_timm_encoder checked that num_features is an int (nn.Module types it as Module).
        features: int = getattr(model, "head_hidden_size", None) or model.num_features  # type: ignore[assignment]
        raise _feature_extractor(
            model,
            f"timm's {type(model).__name__} is an encoder: it builds no classifier",
            features,
            _GENERIC_HOW.format(n=features),
        )
    if _is_transformers(model) or _is_timm(model):
        paths = _transformers_heads(model) if _is_transformers(model) else _timm_heads(model)
        if isinstance(paths, ValueError):
            raise paths
        return _info(paths[0], get_module(model, paths[0]), tuple(paths[1:]))
    entry = _table_entry(model)
    if entry is None:
        return _generic_head(model)
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
        new = nn.Linear(
            info.in_features, num_classes, bias=info.bias, device=weight.device, dtype=weight.dtype
        )
    else:
        new = nn.Conv2d(
            info.in_features,
            num_classes,
            kernel_size=1,
            bias=info.bias,
            device=weight.device,
            dtype=weight.dtype,
        )
    return new.train(old.training)


def _record_class_count(model: nn.Module, paths: tuple[str, ...], old: int, new: int) -> None:
    """Keep the class counts that models record (and read in forward or loss) truthful."""
    owners = {""} | {".".join(p.split(".")[:i]) for p in paths for i in range(1, p.count(".") + 1)}
    for owner in sorted(owners):
        module = get_module(model, owner)
        for attr in ("num_classes", "num_labels"):
            value = getattr(module, attr, None)
            # The model's own count always follows its head (as before); inner ones if they agreed.
            if (
                isinstance(value, int)
                and not isinstance(value, bool)
                and (value == old or (owner == "" and attr == "num_classes"))
            ):
                setattr(module, attr, new)
    config = getattr(model, "config", None)
    if (
        _is_transformers(model)
        and config is not None
        and getattr(config, "num_labels", None) != new
    ):
        # transformers renames id2label/label2id to LABEL_0..LABEL_{n-1} for the new count.
        config.num_labels = new


def replace_head(model: nn.Module, num_classes: int, *, freeze_backbone: bool = False) -> nn.Module:
    """Give ``model`` a new head (and new auxiliary/distillation heads) with ``num_classes`` outputs.

    In place; returns ``model``. The new layers keep each old layer's kind,
    bias, device, dtype and mode, with PyTorch's default initialisation; a
    wrapper around a head (LeViT's BatchNorm+Linear) keeps its other layers.
    With ``freeze_backbone=True`` every existing parameter is frozen *before*
    the swap, so exactly the new head(s) are trainable.
    """
    _check_model(model)
    num_classes = _check_num_classes(num_classes)
    info = find_head(model)
    if freeze_backbone:
        model.requires_grad_(False)  # new layers are created trainable
    for path in info.paths:
        set_module(model, path, _new_head(get_module(model, path), num_classes))
    # SqueezeNet, ViT, Swin, timm and transformers record their class count.
    _record_class_count(model, info.paths, info.out_features, num_classes)
    return model
