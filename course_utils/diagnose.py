"""Explain the usual mistakes of head replacement in plain words.

:func:`explain_shape_error` turns PyTorch's shape errors ("mat1 and mat2
shapes cannot be multiplied (1x2048 and 1024x10)") into what went wrong and
how to fix it; :func:`check_forward` runs a model and does that for you;
:func:`check_transfer_setup` spots the slips of the freeze -> swap -> train
recipe before any training time is spent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from course_utils._validate import check_model, shown
from course_utils.heads import find_head, get_module

__all__ = ["Finding", "check_forward", "check_transfer_setup", "explain_shape_error"]

# PyTorch's messages (torch 2.4-2.14), on real tensors and on the meta device.
_LINEAR_ERRORS = (
    re.compile(r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)"),
    re.compile(r"same reduction dim, but got \[(\d+), (\d+)\] X \[(\d+), (\d+)\]"),  # meta
)
_CONV_ERROR = re.compile(
    r"weight of size \[(\d+), \d+[^\]]*\], expected input\[[^\]]*\] "
    r"to have (\d+) channels, but got (\d+) channels"
)
_MODES = ("feature_extraction", "fine_tune")


@dataclass(frozen=True)
class _Mismatch:
    kind: Literal["linear", "conv"]
    produced: int  # features (channels) that reach the layer
    expected: int  # the layer's in_features (in_channels)
    out: int  # the layer's out_features (out_channels)


def _check_model(model: object) -> nn.Module:
    return check_model(model)


def _expr(path: str) -> str:
    """Python for a dotted path: "classifier.6" -> "model.classifier[6]"."""
    return "model" + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in path.split("."))


def _parse(message: str) -> _Mismatch | None:
    for pattern in _LINEAR_ERRORS:
        if match := pattern.search(message):
            _, produced, expected, out = map(int, match.groups())
            return _Mismatch("linear", produced, expected, out)
    if match := _CONV_ERROR.search(message):
        out, expected, produced = map(int, match.groups())
        return _Mismatch("conv", produced, expected, out)
    return None


def _fits(module: nn.Module, mismatch: _Mismatch) -> bool:
    if mismatch.kind == "linear" and isinstance(module, nn.Linear):
        return (module.in_features, module.out_features) == (mismatch.expected, mismatch.out)
    if mismatch.kind == "conv" and isinstance(module, nn.Conv2d):
        return (module.in_channels, module.out_channels) == (mismatch.expected, mismatch.out)
    return False


def _head_path(model: nn.Module | None) -> str | None:
    try:
        return find_head(model).path if model is not None else None
    except ValueError:
        return None


def _locate(model: nn.Module | None, mismatch: _Mismatch) -> str | None:
    """The layer that raised: the head if its sizes fit, else the only layer that fits."""
    if model is None:
        return None
    head = _head_path(model)
    if head is not None and _fits(get_module(model, head), mismatch):
        return head
    paths = [name for name, module in model.named_modules() if _fits(module, mismatch)]
    return paths[0] if len(paths) == 1 else None


def _explain_linear(m: _Mismatch, path: str | None, is_head: bool) -> str:
    layer = f"`{_expr(path)}`" if path else "a linear layer (most likely the head you replaced)"
    source = "the backbone" if is_head or not path else "the layer before it"
    target = _expr(path) if path else "model.fc"
    where = "" if path else " (shown for a ResNet, whose head is model.fc)"
    return (
        f"Feature-size mismatch: {layer} is nn.Linear({m.expected}, {m.out}), so it expects "
        f"{m.expected} features per sample, but {source} produces {m.produced}. "
        f"In PyTorch's message mat1 is the batch of features (N x {m.produced}) and mat2 is the "
        f"layer's weight, transposed ({m.expected} x {m.out}). The output size ({m.out}) is "
        f"fine; the new layer's input size must equal the features that reach it.\n"
        f"Fix{where}: {target} = nn.Linear({m.produced}, {m.out}). In code, read the size from the "
        f"original layer before replacing it: {target} = nn.Linear({target}.in_features, {m.out})."
    )


def _explain_conv(m: _Mismatch, path: str | None, is_head: bool) -> str:
    layer = f"`{_expr(path)}`" if path else "a convolution (perhaps the 1x1-convolution head)"
    if m.expected == 3 and m.produced in (1, 4) and not is_head:
        convert = (
            "repeat the grey channel: x.expand(-1, 3, -1, -1), or "
            "transforms.Grayscale(num_output_channels=3)"
            if m.produced == 1
            else "drop the alpha channel: x[:, :3], or image.convert('RGB')"
        )
        return (
            f"Channel mismatch: {layer} expects 3-channel (RGB) images but the input has "
            f"{m.produced} channel{'s' if m.produced > 1 else ''}. This is about the input, "
            "not the head.\n"
            f"Fix: {convert}."
        )
    target = _expr(path) if path else "model.classifier[1]"
    where = "" if path else " (shown for a SqueezeNet, whose head is model.classifier[1])"
    source = "the backbone" if is_head else "the layer before it"
    return (
        f"Channel mismatch: {layer} is nn.Conv2d({m.expected}, {m.out}, ...), so it expects "
        f"{m.expected} input channels, but {source} produces {m.produced}. The output size "
        f"({m.out}) is fine; the input channels must equal what reaches the layer.\n"
        f"Fix{where}: {target} = nn.Conv2d({m.produced}, {m.out}, kernel_size=1). In code, "
        "read the size from the original layer before replacing it: "
        f"nn.Conv2d({target}.in_channels, {m.out}, kernel_size=1)."
    )


def _explain(m: _Mismatch, model: nn.Module | None, path: str | None) -> str:
    is_head = path is not None and path == _head_path(model)
    return (_explain_linear if m.kind == "linear" else _explain_conv)(m, path, is_head)


def explain_shape_error(error: BaseException | str, model: nn.Module | None = None) -> str:
    """Explain a PyTorch shape error (or its message) in words, with the fix.

    With ``model`` the explanation names the layer, e.g. ``model.fc``.
    Messages that are no feature-size or channel mismatch get an answer saying so.
    """
    if isinstance(error, BaseException):
        message = str(error)
    elif isinstance(error, str):
        message = error
    else:
        raise TypeError(
            f"error must be an exception or its message (str), got "
            f"{type(error).__name__}: {shown(error)}. Pass the caught exception."
        )
    if model is not None:
        _check_model(model)
    mismatch = _parse(message)
    if mismatch is None:
        return (
            "Not a head-size mismatch: this error is neither PyTorch's 'mat1 and mat2 shapes "
            "cannot be multiplied' nor a channel mismatch, so the head's size is not the "
            f"cause. PyTorch said: {message}"
        )
    return _explain(mismatch, model, _locate(model, mismatch))


def _as_args(example: object) -> tuple[torch.Tensor, ...]:
    if isinstance(example, torch.Tensor):
        return (example,)
    if isinstance(example, (tuple, list)) and all(isinstance(x, torch.Tensor) for x in example):
        return tuple(example)
    raise TypeError(
        f"example must be a tensor (or a tuple of tensors), got "
        f"{type(example).__name__}: {shown(example)}"
    )


def _mismatch_at(module: nn.Module, shape: torch.Size) -> _Mismatch | None:
    """The mismatch between ``module`` and an input of ``shape``, if there is one."""
    if isinstance(module, nn.Linear) and shape and shape[-1] != module.in_features:
        return _Mismatch("linear", shape[-1], module.in_features, module.out_features)
    if isinstance(module, nn.Conv2d) and len(shape) >= 3 and shape[-3] != module.in_channels:
        return _Mismatch("conv", shape[-3], module.in_channels, module.out_channels)
    return None


def check_forward(model: nn.Module, example: torch.Tensor | tuple[torch.Tensor, ...]) -> str | None:
    """Run ``model(example)``; ``None`` if it works, else the explanation of its shape error.

    Runs in eval mode without gradients and restores every module's mode.
    Errors that are no shape mismatch are raised as they are.
    """
    _check_model(model)
    args = _as_args(example)
    # The last Linear/Conv2d entered is the one that raised; on the meta device
    # this is the only way to learn the sizes ("Invalid channel dimensions").
    last: list[tuple[str, nn.Module, torch.Size]] = []

    def record(name: str):
        def hook(module: nn.Module, inputs: tuple) -> None:
            if inputs and isinstance(inputs[0], torch.Tensor):
                last[:] = [(name, module, inputs[0].shape)]

        return hook

    hooks = [
        module.register_forward_pre_hook(record(name))
        for name, module in model.named_modules()
        if isinstance(module, (nn.Linear, nn.Conv2d))
    ]
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            model(*args)
    except RuntimeError as exc:
        found = _mismatch_at(*last[0][1:]) if last else None
        if found is not None:
            return _explain(found, model, last[0][0])
        mismatch = _parse(str(exc))
        if mismatch is None:
            raise
        return _explain(mismatch, model, _locate(model, mismatch))
    finally:
        for hook in hooks:
            hook.remove()
        for module, training in modes.items():
            module.training = training
    return None


@dataclass(frozen=True)
class Finding:
    """One problem in a transfer-learning set-up: a stable ``code``, what is wrong, the fix."""

    code: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}\n  Fix: {self.fix}"


def _named_head_params(model: nn.Module) -> dict[str, nn.Parameter]:
    info = find_head(model)
    return {
        name: p
        for path in (info.path, *info.aux_paths)
        for name, p in get_module(model, path).named_parameters(prefix=path)
    }


def _frozen_batchnorms(model: nn.Module, backbone_frozen: bool) -> list[str]:
    """BatchNorm layers in train mode whose weights do not learn (affine=False: the backbone's)."""
    names = []
    for name, m in model.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training and m.track_running_stats:
            params = list(m.parameters())
            if not any(p.requires_grad for p in params) if params else backbone_frozen:
                names.append(name)
    return names


def check_transfer_setup(
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    mode: str = "feature_extraction",
) -> list[Finding]:
    """Check the freeze -> swap -> train recipe; an empty list means no problem found.

    ``mode="feature_extraction"`` expects a frozen backbone and a trainable
    head; ``mode="fine_tune"`` lets the backbone train. With ``optimizer``,
    also checks that it holds the current head and nothing stale.
    """
    _check_model(model)
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer or None, got "
            f"{type(optimizer).__name__}: {shown(optimizer)}"
        )
    head = _expr(find_head(model).path)
    head_params = _named_head_params(model)
    head_ids = {id(p) for p in head_params.values()}
    backbone = [(n, p) for n, p in model.named_parameters() if id(p) not in head_ids]
    trainable_backbone = [n for n, p in backbone if p.requires_grad]
    findings = []

    frozen_head = [n for n, p in head_params.items() if not p.requires_grad]
    if frozen_head:
        findings.append(
            Finding(
                "head_frozen",
                f"the head {head} has requires_grad=False ({', '.join(frozen_head)}), so nothing "
                "learns: the model was frozen after the head was replaced.",
                f"freeze first, then replace the head (a new layer is trainable by default); "
                f"to repair this model: {head}.requires_grad_(True).",
            )
        )
    if mode == "feature_extraction" and trainable_backbone:
        count = sum(p.numel() for n, p in backbone if p.requires_grad)
        findings.append(
            Finding(
                "backbone_not_frozen",
                f"feature extraction trains only the head, but {count:,} backbone parameters are "
                f"trainable ({', '.join(trainable_backbone[:3])}"
                f"{', ...' if len(trainable_backbone) > 3 else ''}).",
                "freeze every parameter before replacing the head: "
                "for p in model.parameters(): p.requires_grad = False.",
            )
        )
    if optimizer is not None:
        held = {id(p) for group in optimizer.param_groups for p in group["params"]}
        missing = [n for n, p in head_params.items() if id(p) not in held]
        if missing:
            findings.append(
                Finding(
                    "optimizer_missing_head",
                    f"the optimizer does not hold the head's parameters ({', '.join(missing)}): "
                    "it was built before the head was replaced, so the new head never changes.",
                    "build the optimizer after replacing the head, from "
                    "[p for p in model.parameters() if p.requires_grad].",
                )
            )
        in_model = {id(p) for p in model.parameters()}
        stale = [
            tuple(p.shape)
            for group in optimizer.param_groups
            for p in group["params"]
            if id(p) not in in_model
        ]
        if stale:
            findings.append(
                Finding(
                    "optimizer_stale_params",
                    f"the optimizer holds {len(stale)} parameter tensor(s) that are no longer in the "
                    f"model (shapes {', '.join(map(str, stale[:3]))}), such as the old head's.",
                    "rebuild the optimizer after replacing the head, from the model's parameters.",
                )
            )
    batchnorms = _frozen_batchnorms(model, backbone_frozen=not trainable_backbone)
    if batchnorms:
        findings.append(
            Finding(
                "batchnorm_train_mode",
                f"{len(batchnorms)} BatchNorm layer(s) in the frozen backbone are in training mode "
                f"({', '.join(batchnorms[:3])}{', ...' if len(batchnorms) > 3 else ''}): their "
                "running mean and variance still change with every batch, though their weights "
                "are frozen.",
                "after model.train(), put them back in eval mode: for m in model.modules(): "
                "if isinstance(m, nn.BatchNorm2d): m.eval().",
            )
        )
    return findings
