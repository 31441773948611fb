"""Checkers for lesson 4: the feature-size mismatch error.

The checkers build their own models and error messages with real PyTorch
calls, so a hidden test can ask about any architecture, class count or batch
size, and an answer that only memorised the lesson's numbers fails.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torchvision
from torch import nn

from course_utils.checks._feedback import call_student as _call
from course_utils.checks._feedback import check_choice, correct, fail

# (batch, produced, expected, out_features): the lesson's error first.
LESSON_ERROR = (1, 2048, 1024, 10)


def shape_error_message(batch: int, produced: int, expected: int, out_features: int) -> str:
    """PyTorch's own message when ``produced`` features meet ``Linear(expected, ...)``."""
    layer = nn.Linear(expected, out_features)
    try:
        with torch.no_grad():
            layer(torch.zeros(batch, produced))
    except RuntimeError as err:
        return str(err)
    raise ValueError(f"produced={produced} equals expected={expected}: that is no mismatch")


def build_model(arch: str) -> nn.Module:
    """A randomly initialised torchvision classifier (no download), in eval mode."""
    torch.manual_seed(0)
    return torchvision.models.get_model(arch, weights=None).eval()


def _head_path(model: nn.Module) -> str:
    # The last nn.Linear is the head for every architecture these checkers build.
    return [name for name, m in model.named_modules() if isinstance(m, nn.Linear)][-1]


def _get(model: nn.Module, path: str) -> nn.Module:
    return model.get_submodule(path)


def _set(model: nn.Module, path: str, module: nn.Module) -> None:
    parent, _, child = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def measured_features(model: nn.Module, example: torch.Tensor) -> int:
    """How many features arrive at the head for ``example`` (measured, never looked up)."""
    path = _head_path(model)
    head = _get(model, path)
    seen: list[int] = []
    hook = head.register_forward_pre_hook(lambda _m, args: seen.append(args[0].shape[-1]))
    try:
        with torch.no_grad():
            model.eval()(example)
    except RuntimeError:
        pass  # the hook ran before the head's matrix product failed
    finally:
        hook.remove()
    return seen[0]



# --- exercise 1: read the numbers out of the message -------------------------------------------


def check_parse_shape_error(
    parse: Callable[[str], tuple[int, int]],
    cases: list[tuple[int, int, int, int]] | None = None,
    *,
    prefix: str = "",
) -> None:
    """``parse(message)`` must return ``(produced, expected)`` for every case.

    ``cases`` holds ``(batch, produced, expected, out_features)``; the default
    is the lesson's ResNet-50 error. ``prefix`` goes before each message, as
    when a traceback's last line ("RuntimeError: ...") is pasted.
    """
    if not callable(parse):
        fail("a function parse(message) -> (produced, expected)", f"{type(parse).__name__}",
             "define it with def parse_shape_error(message): ...", "not a function")
    for batch, produced, expected, out in cases or [LESSON_ERROR]:
        message = prefix + shape_error_message(batch, produced, expected, out)
        got = _call(parse, message, what=f"parse({message!r})")
        if (
            not isinstance(got, tuple)
            or len(got) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in got)
        ):
            fail(f"a tuple of two ints (produced, expected) for {message!r}", repr(got),
                 "convert the digits you find with int(...) and return them as (a, b).",
                 "wrong type")
        if got == (produced, expected):
            continue
        if got == (expected, produced):
            observed, name = f"{got}: the two numbers in the wrong order", "swapped order"
            hint = "mat1 is the data arriving (batch x features produced); mat2 is the layer."
        elif batch in got and batch not in (produced, expected):
            observed = f"{got}: one of them is the batch size {batch}"
            name = "batch size read as features"
            hint = "mat1 is (batch x features): the features are its SECOND number."
        elif out in got and out not in (produced, expected):
            observed = f"{got}: one of them is the layer's out_features {out}"
            name = "blaming the output size"
            hint = "mat2 is (in_features x out_features): the layer expects its FIRST number."
        else:
            observed, name = f"{got}", "numbers not read from this message"
            hint = "find the numbers inside this message; do not keep the lesson's numbers."
        fail(f"{(produced, expected)} for {message!r}", observed, hint, name)
    correct("you read the features produced (mat1's second number) and the in_features the "
            "layer expects (mat2's first number).")


# --- exercise 2: the fix, for any ResNet -------------------------------------------------------


_KNOWN_FEATURES = {
    512: "ResNet-18/34",
    2048: "ResNet-50/101/152",
    1024: "the lesson's broken layer",
}


def _diagnose_head(
    head: nn.Module, features: int, num_classes: int, broken_in: int | None = None
) -> None:
    if not isinstance(head, nn.Linear):
        fail(f"an nn.Linear({features}, {num_classes})", f"a {type(head).__name__}",
             "the new head is one nn.Linear layer.", "not a linear head")
    got = (head.in_features, head.out_features)
    if got == (features, num_classes):
        return
    if got == (num_classes, features):
        fail(f"nn.Linear({features}, {num_classes})", f"nn.Linear{got}",
             "nn.Linear takes (in_features, out_features), in that order.", "swapped arguments")
    if broken_in is not None and head.in_features == broken_in:
        fail(f"in_features={features}: what this backbone produces",
             f"in_features={head.in_features}, the broken layer's number, kept",
             "measure what arrives at the head (replace it by nn.Identity() and run the example).",
             "broken in_features kept")
    if head.in_features != features:
        source = _KNOWN_FEATURES.get(head.in_features)
        shows = f"in_features={head.in_features}" + (f", the number of {source}" if source else "")
        fail(f"in_features={features}: what this backbone produces", shows,
             "read in_features from the model before you replace the layer; never type it.",
             "typed feature size")
    if broken_in is not None:  # repairing: the class count was never the problem
        fail(f"out_features={num_classes}, as the broken layer had",
             f"out_features={head.out_features}: the output size was changed",
             "the mismatch is on the input side; keep the number of classes.",
             "blaming the output size")
    fail(f"out_features={num_classes}: one score per class", f"out_features={head.out_features}",
         "out_features is the number of classes of the new task.", "wrong output size")


def _run(model: nn.Module, example: torch.Tensor, num_classes: int) -> None:
    try:
        with torch.no_grad():
            out = model.eval()(example)
    except RuntimeError as err:
        fail("a model whose forward pass runs", f"the forward pass still fails: {err}",
             "the head's in_features must equal the features the layer before it produces.",
             "mismatch remains")
    if tuple(out.shape) != (len(example), num_classes):
        fail(f"output shape {(len(example), num_classes)}", f"{tuple(out.shape)}",
             "one row per image, one score per class.", "wrong output shape")


def check_swap_head(
    swap_head: Callable[[nn.Module, int], nn.Module], arch: str = "resnet50", num_classes: int = 10
) -> None:
    """``swap_head(model, num_classes)`` must give a fresh ResNet a working ``num_classes`` head."""
    model = build_model(arch)
    features = model.fc.in_features
    old = model.fc
    result = _call(swap_head, model, num_classes, what=f"swap_head({arch}, {num_classes})")
    if result is None:
        fail("the model, returned", "None", "end the function with return model.",
             "nothing returned")
    if not isinstance(result, nn.Module) or not hasattr(result, "fc"):
        fail("the whole model, with its new head", f"a {type(result).__name__}",
             "replace model.fc, then return model (not only the new layer).", "wrong return value")
    if result.fc is old:
        fail(f"a new fc with {num_classes} outputs", "model.fc is still the original layer",
             "assign a new layer: model.fc = nn.Linear(...).", "head not replaced")
    _diagnose_head(result.fc, features, num_classes)
    _run(result, torch.zeros(2, 3, 64, 64), num_classes)
    correct(f"{arch}: fc = Linear({features}, {num_classes}), read from the model.")


# --- exercise 3: repair a broken model, any architecture ----------------------------------------


def broken_model(arch: str, wrong_in: int, num_classes: int) -> nn.Module:
    """A fresh ``arch`` whose head was replaced by ``nn.Linear(wrong_in, num_classes)``."""
    model = build_model(arch)
    _set(model, _head_path(model), nn.Linear(wrong_in, num_classes))
    return model


def check_repair_head(
    repair_head: Callable[[nn.Module, torch.Tensor], nn.Module],
    arch: str = "resnet50",
    wrong_in: int = 1024,
    num_classes: int = 10,
    size: int = 64,
) -> None:
    """``repair_head(model, example)`` must make a broken model run, keeping its class count."""
    model = broken_model(arch, wrong_in, num_classes)
    example = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    path = _head_path(model)
    # What arrives at the head is what torchvision's own head was built for (tested against
    # measured_features in tests/test_checks_lesson4.py); reading it saves a forward pass.
    features = _get(build_model(arch), path).in_features
    result = _call(repair_head, model, example, what=f"repair_head on a broken {arch}")
    if not isinstance(result, nn.Module):
        shows = "None" if result is None else type(result).__name__
        fail("the repaired model, returned", shows, "end the function with return model.",
             "nothing returned")
    _diagnose_head(_get(result, path), features, num_classes, broken_in=wrong_in)
    _run(result, example, num_classes)
    correct(f"{arch}: head at {path!r} now Linear({features}, {num_classes}), measured from the "
            "backbone; the class count was kept.")


# --- multiple choice ------------------------------------------------------------------------------


def check_cause(answer: object) -> None:
    """Q1: what the message '(1x2048 and 1024x10)' says is wrong."""
    check_choice(
        answer, "C",
        {
            "A": "blaming the output size. 10 is out_features; the message's mismatch is between "
                 "2048 and 1024, and any out_features gives the same error.",
            "B": "blaming eval/train mode. The lesson ran the model in both modes: same error.",
            "D": "thinking pretrained models lack model.fc. Every torchvision ResNet, pretrained "
                 "or not, has fc; the assignment worked and only the forward pass failed.",
        },
        question="the cause of 'mat1 and mat2 shapes cannot be multiplied (1x2048 and 1024x10)'",
        confirmation="2048 features arrive, the new layer expects 1024: in_features is wrong.",
    )


def check_fix(answer: object) -> None:
    """Q2: which repair works after ``model.fc = nn.Linear(2048, 5)`` broke a ResNet-18."""
    check_choice(
        answer, "D",
        {
            "A": "reading in_features from the broken layer. model.fc is now your Linear(2048, 5), "
                 "so model.fc.in_features is 2048 again and the error stays.",
            "B": "copying the numbers from the message into the wrong places: Linear(2048, 512) "
                 "expects 2048 features and gives 512 outputs instead of 5.",
            "C": "blaming eval/train mode: the mode does not change how many features arrive.",
        },
        question="the repair of a ResNet-18 broken by model.fc = nn.Linear(2048, 5)",
        confirmation="read in_features from an untouched head (or measure it), then build "
                     "the layer.",
    )
