"""Checkers for lesson 2: finding the head.

Every torchvision family keeps its head somewhere else. The checkers build
real torchvision models on the ``meta`` device (shapes, no numbers: instant)
and run the student's code on several families, so an answer that memorised
one model (``model.fc``, 512, 2048) fails on the others.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from types import CodeType

import torch
from torch import nn

from course_utils.checks._feedback import call_student, check_choice, correct, fail

_AUX_FAMILIES = ("googlenet", "inception_v3")


def build(name: str, num_classes: int = 1000, *, device: str = "meta") -> nn.Module:
    """A torchvision classifier by name, random init, on ``device`` ("meta": shapes only).

    GoogLeNet and Inception-v3 are built with their auxiliary heads, as
    torchvision trains them.
    """
    import torchvision

    if not isinstance(name, str):
        raise TypeError(f"name must be a torchvision model name such as 'resnet50', got {name!r}")
    kwargs: dict = {"num_classes": num_classes}
    if name in _AUX_FAMILIES:
        kwargs.update(aux_logits=True, init_weights=False)
    try:
        with torch.device(device):
            return torchvision.models.get_model(name, weights=None, **kwargs)
    except NotImplementedError:
        # RegNet computes its block widths with tensors, which meta cannot read back.
        return torchvision.models.get_model(name, weights=None, **kwargs).to(device)


def example_input(model: nn.Module, batch: int = 2) -> torch.Tensor:
    """An input batch the model accepts, on its device (Inception-v3 wants 299 x 299)."""
    size = 299 if type(model).__name__ == "Inception3" else 224
    device = next(model.parameters()).device
    return torch.zeros(batch, 3, size, size, device=device)


def outputs_of(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Every output tensor of a forward pass (main and auxiliary logits)."""
    with torch.no_grad():
        out = model(x)
    if isinstance(out, torch.Tensor):
        return (out,)
    return tuple(t for t in out if isinstance(t, torch.Tensor))


def plain_int(value: object) -> int | None:
    """``value`` as a plain int when it is a Python or NumPy integer (not bool), else None.

    Exact types only: an int subclass could redefine ``==`` and pass any comparison.
    """
    if type(value) is int:
        return value
    if type(value).__module__ == "numpy" and isinstance(value, numbers.Integral):
        return int(value)
    return None


def _as_model(item: str | nn.Module, num_classes: int = 1000) -> nn.Module:
    if isinstance(item, nn.Module):
        return item
    return build(item, num_classes)


def _names_used(function: Callable) -> set[str]:
    code = getattr(function, "__code__", None)
    names: set[str] = set()
    stack = [code] if isinstance(code, CodeType) else []
    while stack:
        c = stack.pop()
        names |= set(c.co_names)
        stack += [k for k in c.co_consts if isinstance(k, CodeType)]
    return names


def _refuse_library(function: Callable, banned: tuple[str, ...]) -> None:
    used = sorted(_names_used(function) & set(banned))
    if used:
        fail(
            "your own search through the model, with plain PyTorch",
            f"your function calls course_utils.heads.{used[0]}, which does the exercise for you",
            "write it with plain PyTorch (model.named_modules(), nn.Linear); the library is "
            "for the lessons after this one.",
            "used the library's answer",
        )


def _explain_attribute_error(exc: Exception) -> tuple[str, str, str] | None:
    """The usual AttributeErrors of this lesson, named by their misconception."""
    if not isinstance(exc, AttributeError):
        return None
    text = str(exc)
    if "'fc'" in text:
        return (
            "a function that works for every family",
            "only some families keep their head in model.fc: search the modules instead.",
            "treating every model like a ResNet",
        )
    if "'classifier'" in text or "'head'" in text:
        return (
            "a function that finds the head where the model keeps it",
            "a ResNet keeps its head in model.fc; print(model) to see where a model keeps it.",
            "looking for model.classifier / model.head where there is none",
        )
    if "in_features" in text:
        return (
            "a function that also handles a 1x1-conv head",
            "SqueezeNet's head is a 1x1 nn.Conv2d: it has in_channels, not in_features.",
            "assuming every head is nn.Linear",
        )
    return None


def _call(function: Callable, *args, what: str):
    """Call the student's function; explain the usual AttributeErrors by their misconception."""
    return call_student(function, *args, what=what, explain=_explain_attribute_error)


# --------------------------------------------------------------------------- exercise 1


def check_replace_resnet_head(
    replace_resnet_head: Callable, *cases: tuple[str | nn.Module, int]
) -> None:
    """``replace_resnet_head(model, num_classes)`` puts a new ``fc`` on any ResNet."""
    _refuse_library(replace_resnet_head, ("replace_head", "find_head"))
    for item, num_classes in cases or (("resnet50", 10),):
        model = _as_model(item)
        label = item if isinstance(item, str) else type(model).__name__
        in_features, before = model.fc.in_features, set(model._modules)
        # New layers land on the model's device (meta here), as in the student's own session.
        with torch.device(next(model.parameters()).device):
            result = _call(replace_resnet_head, model, num_classes,
                           what=f"replace_resnet_head({label}, {num_classes})")
        if not isinstance(result, nn.Module):
            fail("the model, returned", f"{type(result).__name__}: {result!r:.80}",
                 "end the function with: return model", "wrong return type")
        added = sorted(set(result._modules) - before)
        if added:
            fail(f"the new head in model.fc of the {label}",
                 f"you added model.{added[0]}: a ResNet's forward never calls it, so the model "
                 "still answers with its old head", "a ResNet keeps its head in model.fc.",
                 f"model.{added[0]} on a ResNet")
        fc = getattr(result, "fc", None)
        if not isinstance(fc, nn.Linear):
            fail("model.fc to be an nn.Linear", f"model.fc = {fc!r:.80}",
                 "assign nn.Linear(in_features, num_classes) to model.fc.", "wrong head")
        if fc.in_features != in_features:
            memorised = fc.in_features == 512 and in_features == 2048
            fail(f"in_features = {in_features}, what this {label}'s backbone produces",
                 f"in_features = {fc.in_features}"
                 + (": ResNet-18/34's size on a deeper ResNet" if memorised else ""),
                 "read it from the model (model.fc.in_features) before replacing the head.",
                 "512 for a ResNet-50" if memorised else "hard-coded in_features")
        if fc.out_features != num_classes:
            fail(f"out_features = {num_classes}, one per class",
                 f"out_features = {fc.out_features}",
                 "use the num_classes argument; do not type a number.", "hard-coded class count")
        out = outputs_of(result.eval(), example_input(result))[0]
        if tuple(out.shape) != (2, num_classes):
            fail(f"output shape (2, {num_classes})", f"shape {tuple(out.shape)}",
                 "only model.fc should change.", "wrong output")
    correct("the new fc reads in_features from the model, on every ResNet.")


# --------------------------------------------------------------------------- exercise 2


def check_get_in_features(get_in_features: Callable, *models: str | nn.Module) -> None:
    """``get_in_features(model)`` finds the head of any family and returns its input size."""
    from course_utils.heads import find_head

    _refuse_library(get_in_features, ("find_head", "replace_head"))
    for item in models or ("resnet18", "resnet50", "vgg16"):
        model = _as_model(item)
        label = item if isinstance(item, str) else type(model).__name__
        info = find_head(model)
        result = _call(get_in_features, model, what=f"get_in_features({label})")
        got = plain_int(result)
        if got is None:
            fail("an int", f"{type(result).__name__}: {result!r:.80}",
                 "return the number itself, e.g. layer.in_features.", "wrong return type")
        if got == info.in_features:
            continue
        head_container = info.path.rsplit(".", 1)[0] if "." in info.path else None
        first_in = None
        if head_container:
            layers = [m for m in model.get_submodule(head_container).modules()
                      if isinstance(m, nn.Linear)]
            first_in = layers[0].in_features if layers else None
        if got == info.out_features:
            observed, why = f"{got}, the head's out_features", "in_features vs out_features"
        elif got == 512 and info.in_features == 2048:
            observed, why = f"{got}: ResNet-18/34's size", "512 for a ResNet-50"
        elif got == first_in:
            observed, why = (f"{got}: the first layer of model.{head_container}, not its last",
                             "an earlier layer, not the head")
        else:
            observed, why = f"{got}", "memorised or wrong layer"
        fail(f"{info.in_features}: in_features of the {label}'s head, model.{info.path}",
             observed, "find the layer that produces the class scores (the last one) and read "
             "its input size; never type a number.", why)
    correct("found the head and read its input size on every family.")


# --------------------------------------------------------------------------- exercise 3


def _check_new_head(new: object, old: nn.Module, num_classes: int, where: str) -> None:
    if new is old:
        fail(f"a new layer for {where}", "the old layer, returned",
             "setting out_features on an existing layer does not resize its weight; "
             "build a new layer instead.", "edited the old layer")
    if isinstance(old, nn.Conv2d):
        ok = (isinstance(new, nn.Conv2d) and new.kernel_size == (1, 1)
              and new.in_channels == old.in_channels and new.out_channels == num_classes)
        if not ok:
            fail(f"nn.Conv2d({old.in_channels}, {num_classes}, kernel_size=1) for {where}",
                 f"{new!r:.100}", "a 1x1-convolution head needs a 1x1-convolution replacement: "
                 "read in_channels from the old one.", "assuming every head is nn.Linear")
    else:
        if not isinstance(new, nn.Linear):
            fail(f"an nn.Linear for {where}", f"{new!r:.100}", "match the old head's kind.",
                 "wrong kind of layer")
        if tuple(new.weight.shape) != (new.out_features, new.in_features):
            fail(f"a new layer for {where}, its weight shaped (out_features, in_features)",
                 f"out_features = {new.out_features} but a weight of shape "
                 f"{tuple(new.weight.shape)}: a copy of the old layer with its attribute changed",
                 "setting out_features does not resize the weight; build a new nn.Linear.",
                 "edited the old layer")
        if new.in_features != old.in_features:
            fail(f"in_features = {old.in_features} for {where}", f"in_features = {new.in_features}",
                 "read in_features from the old head; never type it.", "hard-coded in_features")
        if new.out_features != num_classes:
            fail(f"out_features = {num_classes} for {where}", f"out_features = {new.out_features}",
                 "use the num_classes argument.", "hard-coded class count")
    if (new.bias is None) != (old.bias is None):
        fail(f"bias={old.bias is not None}, like the old head at {where}",
             f"bias={new.bias is not None}",
             "some heads (MaxViT's) have no bias; copy the old head's choice: "
             "old.bias is not None.",
             "bias setting not copied")


def check_make_head(make_head: Callable, *cases: tuple[str | nn.Module, int]) -> None:
    """``make_head(old_head, num_classes)`` builds a replacement for any head, aux heads included.

    For each model the checker swaps every head (main and auxiliary) with
    ``make_head`` and runs a forward pass, in training mode where a model
    has auxiliary heads, so every output must have ``num_classes`` scores.
    """
    from course_utils.heads import find_head, get_module, set_module

    for item, num_classes in cases or (("resnet18", 5), ("vgg16", 10)):
        model = _as_model(item)
        label = item if isinstance(item, str) else type(model).__name__
        info = find_head(model)
        for path in (info.path, *info.aux_paths):
            old = get_module(model, path)
            with torch.device(old.weight.device):
                new = _call(make_head, old, num_classes,
                            what=f"make_head(model.{path}, {num_classes})")
            _check_new_head(new, old, num_classes, f"model.{path} of the {label}")
            set_module(model, path, new)
        model.train(bool(info.aux_paths))
        try:
            outs = outputs_of(model, example_input(model))
        except RuntimeError as exc:
            fail(f"the {label} to run with its new heads", f"RuntimeError: {exc}",
                 "the new head must accept exactly what the old one received.", "wrong head")
        shapes = [tuple(o.shape) for o in outs]
        if any(s != (2, num_classes) for s in shapes):
            fail(f"every output of shape (2, {num_classes})", f"shapes {shapes}",
                 "replace the auxiliary heads too.", "wrong output")
    correct("one make_head fits every family: Linear or 1x1 Conv2d, with or without bias.")


# --------------------------------------------------------------------------- multiple choice


def check_q1(answer: object) -> None:
    """Assigning model.classifier on a ResNet adds an unused layer."""
    check_choice(
        answer,
        "B",
        {
            "A": "reading model.classifier on a ResNet raises AttributeError, but assigning to it "
            "just creates a new attribute [model.classifier on a ResNet]",
            "C": "the ResNet's forward only calls model.fc; a layer stored elsewhere is never run "
            "[model.classifier on a ResNet]",
            "D": "the new layer is never called, so its sizes are never checked: nothing fails, "
            "which is what makes the mistake dangerous",
        },
        question="what does model.classifier = nn.Linear(512, 10) do to a ResNet-18?",
        confirmation="nothing fails, the model still gives its old outputs, and the new layer "
        "sits unused. Always check the output shape after a swap.",
    )


def check_q2(answer: object) -> None:
    """The right head for a 10-class ResNet-50."""
    check_choice(
        answer,
        "C",
        {
            "A": "512 is ResNet-18/34's feature size; a ResNet-50 produces 2048 "
            "[512 for a ResNet-50]",
            "B": "classifier[6] is where VGG keeps its head; a ResNet has no model.classifier "
            "[treating a ResNet like a VGG]",
            "D": "model.head is where Swin keeps its head; on a ResNet the assignment adds an "
            "unused layer [model.head on a ResNet]",
        },
        question="which line gives a ResNet-50 a correct 10-class head?",
        confirmation="model.fc, with in_features read from the model: right for every ResNet.",
    )
