"""Checkers for lesson 2: finding the head.

Every torchvision family keeps its head somewhere else. The checkers build
real torchvision models on the ``meta`` device (shapes, no numbers: instant)
and run the student's code on several families, so an answer that memorised
one model (``model.fc``, 512, 2048) fails on the others.
"""

from __future__ import annotations

from collections.abc import Callable
from types import CodeType

import torch
from torch import nn

from course_utils.checks._feedback import (
    Choice,
    Misconception,
    call_student,
    choice_grader,
    correct,
    fail,
    record_choice,
    registry,
)
from course_utils.checks._toolkit import (
    build,
    example_input,
    get_module,
    linear_at,
    outputs_of,
    plain_int,
    set_module,
)

__all__ = [
    "Q1",
    "Q2",
    "grade_choice",
    "MISCONCEPTIONS",
    "build",
    "check_get_in_features",
    "check_make_head",
    "check_q1",
    "check_q2",
    "check_replace_resnet_head",
    "example_input",
    "outputs_of",
    "plain_int",
]

S1 = "1. ResNets keep their head in `model.fc`"
S2 = "2. Three ways to get a ResNet's head wrong"
S3 = "3. Where other families keep their head"
EX = "the exercise's instructions"

MISCONCEPTIONS = registry(
    "lesson2",
    Misconception("classifier_on_resnet", "model.classifier on a ResNet", S2),
    Misconception("head_on_resnet", "model.head on a ResNet", S2),
    Misconception("resnet18_size_on_resnet50", "512 for a ResNet-50", S2),
    Misconception("resnet_like_vgg", "treating a ResNet like a VGG", S3),
    Misconception("typed_in_features", "hard-coded in_features", S1),
    Misconception("typed_class_count", "hard-coded class count", EX),
    Misconception("resnet_only", "treating every model like a ResNet (model.fc)", S3),
    Misconception(
        "missing_attribute", "looking for model.classifier / model.head where there is none", S3
    ),
    Misconception(
        "linear_only", "assuming every head is nn.Linear (SqueezeNet's is a 1x1 Conv2d)", S3
    ),
    Misconception("out_for_in", "in_features vs out_features", S3),
    Misconception("earlier_layer", "an earlier layer, not the head", S3),
    Misconception("edited_old_layer", "edited the old layer instead of building a new one", S3),
    Misconception(
        "out_features_edited", "out_features edited in place: the weight keeps its old shape", S1
    ),
    Misconception("bias_not_copied", "bias setting not copied", S3),
    Misconception("aux_heads_left", "auxiliary heads left with the old sizes", "Auxiliary heads"),
    Misconception("used_library", "used the library's answer", EX),
    Misconception("not_a_model", "the model expected as return value", EX),
    Misconception("not_an_int", "an int expected", EX),
    Misconception("not_a_layer", "a layer of the old head's kind expected", S3),
    Misconception(
        "head_taken_for_linear", "in_features read from a head that is not one nn.Linear", S1
    ),
    Misconception(
        "inner_in_features", "in_features of a later layer of the head, not of the backbone", S1
    ),
)
M = MISCONCEPTIONS
# The hidden tests score multiple choice: checks.grade_choice(answer, checks.Q1, right, A=..., ...).
grade_choice = choice_grader(MISCONCEPTIONS)


# Exercise 1's heads: "resnet50+dropout" is a ResNet-50 whose head is already lesson 1's
# Sequential(Dropout, Linear); "+mlp" a two-layer head whose second Linear reads HIDDEN numbers.
HIDDEN = 256


def _as_model(item: str | nn.Module, num_classes: int = 1000) -> nn.Module:
    if isinstance(item, nn.Module):
        return item
    name, _, kind = item.partition("+")
    model = build(name, num_classes)
    if not kind:
        return model
    features = linear_at(model, "fc").in_features
    with torch.device(next(model.parameters()).device):
        if kind == "dropout":
            model.fc = nn.Sequential(nn.Dropout(0.2), nn.Linear(features, num_classes))
        elif kind == "mlp":
            model.fc = nn.Sequential(
                nn.Linear(features, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, num_classes)
            )
    return model


def _backbone_features(model: nn.Module) -> int:
    """What the backbone of ``model`` produces: the in_features of its head's first Linear."""
    head = model.get_submodule("fc")
    return next(m for m in head.modules() if isinstance(m, nn.Linear)).in_features


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
            M["used_library"],
        )


def _explain_attribute_error(exc: Exception) -> tuple[str, str, Misconception] | None:
    """The usual AttributeErrors of this lesson, named by their misconception."""
    if not isinstance(exc, AttributeError):
        return None
    text = str(exc)
    if "'fc'" in text:
        return (
            "a function that works for every family",
            "only some families keep their head in model.fc: search the modules instead.",
            M["resnet_only"],
        )
    if ("'Sequential'" in text or "'Dropout'" in text) and (
        "in_features" in text or "weight" in text
    ):
        return (
            "the feature size of the backbone, whatever the current head is made of",
            "model.fc may be several layers; the backbone's features enter its first nn.Linear "
            "(or measure them).",
            M["head_taken_for_linear"],
        )
    if "'classifier'" in text or "'head'" in text:
        return (
            "a function that finds the head where the model keeps it",
            "a ResNet keeps its head in model.fc; print(model) to see where a model keeps it.",
            M["missing_attribute"],
        )
    if "in_features" in text:
        return (
            "a function that also handles a 1x1-conv head",
            "SqueezeNet's head is a 1x1 nn.Conv2d: it has in_channels, not in_features.",
            M["linear_only"],
        )
    return None


def _call(function: Callable, *args, what: str):
    """Call the student's function; explain the usual AttributeErrors by their misconception."""
    return call_student(function, *args, what=what, explain=_explain_attribute_error)


# --------------------------------------------------------------------------- exercise 1


def check_replace_resnet_head(
    replace_resnet_head: Callable, *cases: tuple[str | nn.Module, int]
) -> None:
    """``replace_resnet_head(model, num_classes)`` puts a new plain ``fc`` on any ResNet.

    The ResNet's current head may already be several layers ("resnet50+dropout",
    "resnet34+mlp"): the new ``nn.Linear`` must read the backbone's feature size.
    """
    _refuse_library(replace_resnet_head, ("replace_head", "find_head"))
    cases = cases or (("resnet18", 5), ("resnet50+dropout", 10), ("resnet34+mlp", 4))
    for item, num_classes in cases:
        model = _as_model(item)
        label = item if isinstance(item, str) else type(model).__name__
        in_features, before = _backbone_features(model), set(model._modules)
        # New layers land on the model's device (meta here), as in the student's own session.
        with torch.device(next(model.parameters()).device):
            result = _call(
                replace_resnet_head,
                model,
                num_classes,
                what=f"replace_resnet_head({label}, {num_classes})",
            )
        if not isinstance(result, nn.Module):
            fail(
                "the model, returned",
                f"{type(result).__name__}: {result!r:.80}",
                "end the function with: return model",
                M["not_a_model"],
            )
        added = sorted(set(result._modules) - before)
        if added:
            fail(
                f"the new head in model.fc of the {label}",
                f"you added model.{added[0]}: a ResNet's forward never calls it, so the model "
                "still answers with its old head",
                "a ResNet keeps its head in model.fc.",
                M["head_on_resnet"] if added[0] == "head" else M["classifier_on_resnet"],
            )
        fc = getattr(result, "fc", None)
        if not isinstance(fc, nn.Linear):
            fail(
                "model.fc to be an nn.Linear",
                f"model.fc = {fc!r:.80}",
                "assign nn.Linear(in_features, num_classes) to model.fc.",
                M["not_a_layer"],
            )
        if fc.in_features != in_features and fc.in_features == HIDDEN and "+mlp" in label:
            fail(
                f"in_features = {in_features}, what this {label}'s backbone produces",
                f"in_features = {HIDDEN}, what the old head's second Linear reads",
                "the backbone's features enter the FIRST Linear of a multi-layer head.",
                M["inner_in_features"],
            )
        if fc.in_features != in_features:
            memorised = fc.in_features == 512 and in_features == 2048
            fail(
                f"in_features = {in_features}, what this {label}'s backbone produces",
                f"in_features = {fc.in_features}"
                + (": ResNet-18/34's size on a deeper ResNet" if memorised else ""),
                "read it from the model (model.fc.in_features) before replacing the head.",
                M["resnet18_size_on_resnet50"] if memorised else M["typed_in_features"],
            )
        if fc.out_features != num_classes:
            fail(
                f"out_features = {num_classes}, one per class",
                f"out_features = {fc.out_features}",
                "use the num_classes argument; do not type a number.",
                M["typed_class_count"],
            )
        if tuple(fc.weight.shape) != (fc.out_features, fc.in_features):
            fail(
                f"a new nn.Linear in model.fc of the {label}, its weight shaped "
                f"({num_classes}, {in_features})",
                f"model.fc.out_features = {fc.out_features} but its weight is still "
                f"{tuple(fc.weight.shape)}: the old layer with one attribute changed",
                "setting out_features does not resize the weight; assign a new nn.Linear "
                "to model.fc.",
                M["out_features_edited"],
            )
        out = outputs_of(result.eval(), example_input(result))[0]
        if tuple(out.shape) != (2, num_classes):
            fail(
                f"output shape (2, {num_classes})",
                f"shape {tuple(out.shape)}",
                "only model.fc should change.",
                M["not_a_layer"],
            )
    names = " and ".join(
        item if isinstance(item, str) else type(item).__name__ for item, _ in cases
    )
    correct(f"a plain nn.Linear head with the backbone's feature size on {names}.")


# --------------------------------------------------------------------------- exercise 2


def check_get_in_features(get_in_features: Callable, *models: str | nn.Module) -> None:
    """``get_in_features(model)`` finds the head of any family and returns its input size."""
    from course_utils.heads import find_head

    _refuse_library(get_in_features, ("find_head", "replace_head"))
    models = models or ("resnet18", "resnet50", "vgg16", "squeezenet1_1")
    for item in models:
        model = _as_model(item)
        label = item if isinstance(item, str) else type(model).__name__
        info = find_head(model)
        if isinstance(info.module, nn.Conv2d):
            try:
                get_in_features(model)
            except NotImplementedError:
                raise
            except Exception as exc:  # noqa: BLE001 - a Linear-only search fails on a conv head
                fail(
                    f"{info.in_features}: in_channels of the {label}'s head, model.{info.path}",
                    f"it raised {type(exc).__name__}: {exc}",
                    "SqueezeNet's head is a 1x1 nn.Conv2d: look for it too, and read its "
                    "in_channels.",
                    M["linear_only"],
                )
        result = _call(get_in_features, model, what=f"get_in_features({label})")
        got = plain_int(result)
        if got is None:
            fail(
                "an int",
                f"{type(result).__name__}: {result!r:.80}",
                "return the number itself, e.g. layer.in_features.",
                M["not_an_int"],
            )
        if got == info.in_features:
            continue
        head_container = info.path.rsplit(".", 1)[0] if "." in info.path else None
        first_in = None
        if head_container:
            layers = [
                m for m in model.get_submodule(head_container).modules() if isinstance(m, nn.Linear)
            ]
            first_in = layers[0].in_features if layers else None
        if got == info.out_features:
            observed, why = f"{got}, the head's out_features", M["out_for_in"]
        elif got == 512 and info.in_features == 2048:
            observed, why = f"{got}: ResNet-18/34's size", M["resnet18_size_on_resnet50"]
        elif got == first_in:
            observed, why = (
                f"{got}: the first layer of model.{head_container}, not its last",
                M["earlier_layer"],
            )
        else:
            observed, why = f"{got}, not the head's input size", M["typed_in_features"]
        fail(
            f"{info.in_features}: in_features of the {label}'s head, model.{info.path}",
            observed,
            "find the layer that produces the class scores (the last one) and read "
            "its input size; never type a number.",
            why,
        )
    names = ", ".join(item if isinstance(item, str) else type(item).__name__ for item in models)
    correct(f"found the head and read its input size on {names}.")


# --------------------------------------------------------------------------- exercise 3


def _check_new_head(new: object, old: nn.Module, num_classes: int, where: str) -> None:
    if new is old:
        fail(
            f"a new layer for {where}",
            "the old layer, returned",
            "setting out_features on an existing layer does not resize its weight; "
            "build a new layer instead.",
            M["edited_old_layer"],
        )
    if isinstance(old, nn.Conv2d):
        if not (
            isinstance(new, nn.Conv2d)
            and new.kernel_size == (1, 1)
            and new.in_channels == old.in_channels
            and new.out_channels == num_classes
        ):
            fail(
                f"nn.Conv2d({old.in_channels}, {num_classes}, kernel_size=1) for {where}",
                f"{new!r:.100}",
                "a 1x1-convolution head needs a 1x1-convolution replacement: "
                "read in_channels from the old one.",
                M["linear_only"],
            )
    else:
        if not isinstance(new, nn.Linear):
            fail(
                f"an nn.Linear for {where}",
                f"{new!r:.100}",
                "match the old head's kind.",
                M["not_a_layer"],
            )
        if tuple(new.weight.shape) != (new.out_features, new.in_features):
            fail(
                f"a new layer for {where}, its weight shaped (out_features, in_features)",
                f"out_features = {new.out_features} but a weight of shape "
                f"{tuple(new.weight.shape)}: a copy of the old layer with its attribute changed",
                "setting out_features does not resize the weight; build a new nn.Linear.",
                M["edited_old_layer"],
            )
        if new.in_features != old.in_features:
            fail(
                f"in_features = {old.in_features} for {where}",
                f"in_features = {new.in_features}",
                "read in_features from the old head; never type it.",
                M["typed_in_features"],
            )
        if new.out_features != num_classes:
            fail(
                f"out_features = {num_classes} for {where}",
                f"out_features = {new.out_features}",
                "use the num_classes argument.",
                M["typed_class_count"],
            )
    if (new.bias is None) != (old.bias is None):
        fail(
            f"bias={old.bias is not None}, like the old head at {where}",
            f"bias={new.bias is not None}",
            "some heads (MaxViT's) have no bias; copy the old head's choice: old.bias is not None.",
            M["bias_not_copied"],
        )


# The visible cases: a Linear head, a 1x1 Conv2d head, a head without bias, auxiliary heads.
VISIBLE_MAKE_HEAD = (("resnet18", 5), ("squeezenet1_1", 3), ("maxvit_t", 4), ("googlenet", 7))


def check_make_head(make_head: Callable, *cases: tuple[str | nn.Module, int]) -> None:
    """``make_head(old_head, num_classes)`` builds a replacement for any head, aux heads included.

    For each model the checker swaps every head (main and auxiliary) with
    ``make_head`` and runs a forward pass, in training mode where a model
    has auxiliary heads, so every output must have ``num_classes`` scores.
    """
    from course_utils.heads import find_head

    cases = cases or VISIBLE_MAKE_HEAD
    for item, num_classes in cases:
        model = _as_model(item)
        label = item if isinstance(item, str) else type(model).__name__
        info = find_head(model)
        for path in (info.path, *info.aux_paths):
            old = get_module(model, path)
            if not isinstance(old, nn.Linear | nn.Conv2d):  # find_head accepts no other kind
                raise TypeError(f"model.{path} of the {label} is {type(old).__name__}, not a head")
            with torch.device(old.weight.device):
                new = _call(
                    make_head, old, num_classes, what=f"make_head(model.{path}, {num_classes})"
                )
            size = "out_channels" if isinstance(old, nn.Conv2d) else "out_features"
            if getattr(old, size) != old.weight.shape[0]:
                fail(
                    f"a new layer for model.{path} of the {label}, the old one left alone",
                    f"model.{path}.{size} was set to {getattr(old, size)} in place; its "
                    f"weight is still {tuple(old.weight.shape)}",
                    f"setting {size} does not resize the weight; build and return a new layer.",
                    M["edited_old_layer"],
                )
            _check_new_head(new, old, num_classes, f"model.{path} of the {label}")
            set_module(model, path, new)
        model.train(bool(info.aux_paths))
        try:
            outs = outputs_of(model, example_input(model))
        except RuntimeError as exc:
            fail(
                f"the {label} to run with its new heads",
                f"RuntimeError: {exc}",
                "the new head must accept exactly what the old one received.",
                M["aux_heads_left"] if info.aux_paths else M["typed_in_features"],
            )
        shapes = [tuple(o.shape) for o in outs]
        if any(s != (2, num_classes) for s in shapes):
            fail(
                f"every output of shape (2, {num_classes})",
                f"shapes {shapes}",
                "replace the auxiliary heads too.",
                M["aux_heads_left"],
            )
    names = ", ".join(item if isinstance(item, str) else type(item).__name__ for item, _ in cases)
    correct(f"make_head built working heads (auxiliary heads included) on {names}.")


# --------------------------------------------------------------------------- multiple choice


Q1 = Choice(
    question="what does model.classifier = nn.Linear(512, 10) do to a ResNet-18?",
    options={
        "A": (
            "Reading model.classifier on a ResNet raises AttributeError; assigning to it creates a "
            "new attribute."
        ),
        "B": (
            "A ResNet's forward calls model.fc only; a module stored under another name is kept but "
            "never called."
        ),
        "C": (
            "The number of outputs comes from the layers forward() calls, and a ResNet's forward() "
            "calls model.fc."
        ),
        "D": (
            "A Linear layer's sizes are checked only when it is called, in a forward pass that uses "
            "it."
        ),
    },
)


def check_q1(answer: object) -> None:
    """Assigning model.classifier on a ResNet adds an unused layer.

    Visible check: records the letter; the hidden test scores it.
    """
    record_choice(answer, Q1)


Q2 = Choice(
    question="which line gives a ResNet-50 a correct 10-class head?",
    options={
        "A": "512 is the feature size of ResNet-18 and -34; a ResNet-50's fc has in_features 2048.",
        "B": "classifier[6] is where VGG keeps its head; a ResNet-50 has no model.classifier to read.",
        "C": "model.fc.in_features reads the feature size from the model, whatever its depth.",
        "D": "model.head is where Swin keeps its head; a ResNet's forward calls model.fc.",
    },
)


def check_q2(answer: object) -> None:
    """The right head for a 10-class ResNet-50.

    Visible check: records the letter; the hidden test scores it.
    """
    record_choice(answer, Q2)
