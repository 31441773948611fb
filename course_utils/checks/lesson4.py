"""Checkers for lesson 4: the feature-size mismatch error.

The checkers build their own models and error messages with real PyTorch
calls, so a hidden test can ask about any architecture, class count or batch
size, and an answer that only memorised the lesson's numbers fails. Every
visible check already uses at least two cases (two sizes, two families, a
message with text before it), so that a typed number or a ResNet-only answer
fails before submission, and each confirmation says what it checked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeGuard

import torch
from torch import nn

from course_utils.checks._feedback import (
    Choice,
    Misconception,
    choice_grader,
    correct,
    fail,
    record_choice,
    registry,
)
from course_utils.checks._toolkit import (
    build,
    call_student,
    fc_explainer,
    get_module,
    head_path,
    linear_at,
    model_changes,
    model_snapshot,
    set_module,
)

S2 = "2. Reading the message"
S6 = "6. The fix: read `in_features` from the model"
S7 = "7. Repairing a model whose head is already wrong"

MISCONCEPTIONS = registry(
    "lesson4",
    Misconception("output_size_blamed", "blaming the output size", "3. It is not the output size"),
    Misconception("mode_blamed", "blaming eval/train mode", "4. It is not eval or train mode"),
    Misconception(
        "no_fc_when_pretrained",
        "thinking pretrained models lack model.fc",
        "5. Pretrained models have a head too",
    ),
    Misconception("swapped_numbers", "produced and expected in the wrong order", S2),
    Misconception("batch_as_features", "the batch size read as a feature count", S2),
    Misconception("numbers_not_from_message", "numbers not read from this message", S2),
    Misconception(
        "anchored_pattern", "a parser that needs the message at the start of the text", S2
    ),
    Misconception("not_two_ints", "a tuple of two ints expected", S2),
    Misconception("not_a_function", "a function expected", "the exercise's instructions"),
    Misconception("shape_error_escapes", "the shape error is not caught", S6),
    Misconception("only_errors_checked", "a wrong output shape counted as fitting", S6),
    Misconception("no_forward_pass", "judged from the layer's attributes, not a forward pass", S6),
    Misconception("fixed_batch", "the batch size typed instead of read from the example", S6),
    Misconception("not_a_bool", "True or False expected", "the exercise's instructions"),
    Misconception(
        "model_changed", "the caller's model changed (mode, BatchNorm statistics or head)", S6
    ),
    Misconception("typed_in_features", "a feature size typed, not measured", S7),
    Misconception("broken_in_kept", "in_features read from the broken layer", S7),
    Misconception("counted_batch", "the feature count includes the batch (numel)", S7),
    Misconception("batch_dimension_read", "the batch dimension (shape[0]) read as features", S7),
    Misconception("out_for_in", "the old head's out_features used as in_features", S7),
    Misconception("resnet_only", "code that works only for a ResNet's model.fc", S7),
    Misconception("swapped_arguments", "nn.Linear's arguments in the wrong order", S7),
    Misconception("not_linear", "an nn.Linear head expected", S7),
    Misconception("nothing_returned", "the model is not returned", "the exercise's instructions"),
)
M = MISCONCEPTIONS
# The hidden tests score multiple choice: checks.grade_choice(answer, checks.Q1, right, A=..., ...).
grade_choice = choice_grader(MISCONCEPTIONS)

# (batch, produced, expected, out_features): the lesson's error first.
LESSON_ERROR = (1, 2048, 1024, 10)
# The visible check: the lesson's message, other sizes, and a pasted traceback line.
VISIBLE_ERRORS = [LESSON_ERROR, (32, 512, 2048, 5)]
VISIBLE_PREFIX = "RuntimeError: "


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
    """A randomly initialised torchvision classifier on the CPU (no download), in eval mode."""
    return build(arch, device="cpu")


def measured_features(model: nn.Module, example: torch.Tensor) -> int:
    """How many features arrive at the head for ``example`` (measured, never looked up)."""
    head = get_module(model, head_path(model))
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


_explain = fc_explainer(
    "a function that works for every family, not only ResNets",
    "only ResNet-like models keep their head in model.fc; heads.find_head(model) finds it anywhere.",
    M["resnet_only"],
)


def _call(function: Callable, *args, what: str):
    return call_student(function, *args, what=what, explain=_explain)


# --- exercise 1: read the numbers out of the message -------------------------------------------


def _parse_one(parse: Callable, message: str):
    return _call(parse, message, what=f"parse({message!r})")


def _two_ints(got: object) -> TypeGuard[tuple[int, int]]:
    return (
        isinstance(got, tuple) and len(got) == 2 and all(type(v) is int for v in got)
    )  # exact int: no bool, no str


def check_parse_shape_error(
    parse: Callable[[str], tuple[int, int]],
    cases: list[tuple[int, int, int, int]] | None = None,
    *,
    prefix: str | None = None,
) -> None:
    """``parse(message)`` must return ``(produced, expected)`` for every case.

    ``cases`` holds ``(batch, produced, expected, out_features)``; by default
    the lesson's ResNet-50 error and a second message with other sizes, each
    also with ``"RuntimeError: "`` before it (as when a traceback's last line
    is pasted). ``prefix`` replaces that second form's prefix.
    """
    if not callable(parse):
        fail(
            "a function parse(message) -> (produced, expected)",
            f"{type(parse).__name__}",
            "define it with def parse_shape_error(message): ...",
            M["not_a_function"],
        )
    prefixes = ["", VISIBLE_PREFIX if prefix is None else prefix]
    got: object  # what the student's parse returned (or raised)
    for batch, produced, expected, out in cases or VISIBLE_ERRORS:
        for before in dict.fromkeys(prefixes):
            message = before + shape_error_message(batch, produced, expected, out)
            if before:
                # The same message without the prefix was read right just before.
                try:
                    got = parse(message)
                except NotImplementedError:
                    raise
                except Exception as exc:  # noqa: BLE001 - becomes feedback
                    got = exc
                if got != (produced, expected):
                    shows = (
                        f"it raised {type(got).__name__}: {got}"
                        if isinstance(got, Exception)
                        else f"{got!r}"
                    )
                    fail(
                        f"{(produced, expected)} for {message!r}",
                        f"{shows}, although the same message without {before!r} works",
                        "search anywhere in the text (re.search, not re.match or a pattern "
                        "starting with ^), and do not count on where the numbers stand.",
                        M["anchored_pattern"],
                    )
            else:
                got = _parse_one(parse, message)
            if not _two_ints(got):
                fail(
                    f"a tuple of two ints (produced, expected) for {message!r}",
                    f"{got!r} ({type(got).__name__})",
                    "convert the digits you find with int(...) and return them as (a, b).",
                    M["not_two_ints"],
                )
            if got == (produced, expected):
                continue
            if got == (expected, produced):
                observed, name = f"{got}: the two numbers in the wrong order", "swapped_numbers"
                hint = "mat1 is the data arriving (batch x features produced); mat2 is the layer."
            elif batch in got and batch not in (produced, expected):
                observed = f"{got}: one of them is the batch size {batch}"
                name = "batch_as_features"
                hint = "mat1 is (batch x features): the features are its SECOND number."
            elif out in got and out not in (produced, expected):
                observed = f"{got}: one of them is the layer's out_features {out}"
                name = "output_size_blamed"
                hint = "mat2 is (in_features x out_features): the layer expects its FIRST number."
            else:
                observed, name = f"{got}", "numbers_not_from_message"
                hint = "find the numbers inside this message; do not keep the lesson's numbers."
            fail(f"{(produced, expected)} for {message!r}", observed, hint, M[name])
    sizes = ", ".join(f"({b}x{p} and {e}x{o})" for b, p, e, o in cases or VISIBLE_ERRORS)
    correct(
        f"you read (produced, expected) from {len(cases or VISIBLE_ERRORS)} messages "
        f"{sizes}, with and without text before them."
    )


# --- exercise 3: does the new head fit? -----------------------------------------------------------

# (architecture, what is done to it, num_classes asked, batch): the visible cases cover a fitting
# head, a mismatched one, a layer stored where the forward never calls it, and a second family.
FIT_CASES = [
    ("resnet18", "fits", 5, 2),
    ("resnet50", "typed_512", 10, 2),
    ("resnet18", "unused_classifier", 10, 3),
    ("mobilenet_v3_small", "fits", 4, 3),
]


def fit_case(arch: str, change: str, num_classes: int) -> tuple[nn.Module, bool]:
    """A model after one kind of head swap, and whether it now fits ``num_classes``."""
    model = build_model(arch)
    path = head_path(model)
    old = linear_at(model, path)
    if change == "fits":
        set_module(model, path, nn.Linear(old.in_features, num_classes))
        return model, True
    if change == "typed_512":  # ResNet-18's size on another backbone: the lesson's error
        set_module(model, path, nn.Linear(512 if old.in_features != 512 else 2048, num_classes))
        return model, False
    if change == "unused_classifier":  # lesson 2's silent mistake: forward never calls it
        model.classifier = nn.Linear(old.in_features, num_classes)
        return model, False
    if change == "wrong_classes":
        set_module(model, path, nn.Linear(old.in_features, num_classes + 1))
        return model, False
    raise ValueError(
        f"unknown change {change!r}: use fits, typed_512, unused_classifier or wrong_classes"
    )


def check_head_fits(
    head_fits: Callable[[nn.Module, torch.Tensor, int], bool],
    cases: list[tuple[str, str, int, int]] | None = None,
    size: int = 32,
) -> None:
    """``head_fits(model, example, num_classes)`` must say whether a swapped head really works.

    True exactly when ``model(example)`` runs and returns shape
    ``(len(example), num_classes)``; a shape error must be caught (False).
    """
    if not callable(head_fits):
        fail(
            "a function head_fits(model, example, num_classes) -> bool",
            f"{type(head_fits).__name__}",
            "define it with def head_fits(...): ...",
            M["not_a_function"],
        )
    changes: list[tuple[str, list[str]]] = []  # reported once every answer is right
    for i, (arch, change, num_classes, batch) in enumerate(cases or FIT_CASES):
        model, fits = fit_case(arch, change, num_classes)
        example = torch.zeros(batch, 3, size, size)
        what = f"head_fits({arch} after '{change}', a batch of {batch}, {num_classes})"
        model.train(i % 2 == 1)  # a caller's model may be in either mode
        before = model_snapshot(model)
        try:
            got = head_fits(model, example, num_classes)
        except NotImplementedError:
            raise
        except RuntimeError as exc:
            if "cannot be multiplied" in str(exc):
                fail(
                    f"False for {arch} with a head that does not fit",
                    f"the error escaped: {exc}",
                    "run the forward pass inside try: ... except RuntimeError: return False.",
                    M["shape_error_escapes"],
                )
            got = _call(head_fits, model, example, num_classes, what=what)
        except Exception:  # noqa: BLE001 - the usual feedback, with the ResNet-only story
            got = _call(head_fits, model, example, num_classes, what=what)
        changes.append((arch, model_changes(model, before)))
        if type(got) is not bool and not (
            type(got).__module__ == "numpy" and type(got).__name__ == "bool_"
        ):
            fail(
                f"True or False for {what}",
                f"{got!r} ({type(got).__name__})",
                "return a bool: a comparison such as tuple(out.shape) == (...) is one.",
                M["not_a_bool"],
            )
        if bool(got) == fits:
            continue
        if fits:
            fail(
                f"True: {arch} with its new head returns ({batch}, {num_classes})",
                f"False, for a batch of {batch}",
                "compare with len(example), not a batch size you typed.",
                M["fixed_batch"],
            )
        if change == "typed_512":
            fail(
                f"False: {arch}'s forward pass fails with a shape error",
                "True: the head's out_features looks right, but the features do not fit",
                "run the model on the example; the attributes of the new layer cannot tell.",
                M["no_forward_pass"],
            )
        with torch.no_grad():
            shape = tuple(model.eval()(example).shape)
        fail(
            f"False: {arch} returns {shape}, not ({batch}, {num_classes})",
            "True: the forward pass ran, but with the wrong number of scores",
            "a forward pass without an error is not enough: compare the output shape too.",
            M["only_errors_checked"],
        )
    for arch, changed in changes:
        if changed:
            fail(
                f"head_fits to leave the {arch} as it was",
                "; ".join(changed),
                "a check must not change what it checks: remember model.training, run the "
                "example under torch.no_grad() in eval mode, then restore the mode.",
                M["model_changed"],
            )
    checked = "; ".join(f"{a} ({c.replace('_', ' ')})" for a, c, _, _ in cases or FIT_CASES)
    correct(f"head_fits told a fitting head from a broken one on {checked}.")


# --- exercise 5: repair a broken model, any architecture ----------------------------------------

REPAIR_CASES = [("resnet50", 1024, 10), ("mobilenet_v3_small", 2048, 3)]


def broken_model(arch: str, wrong_in: int, num_classes: int) -> nn.Module:
    """A fresh ``arch`` whose head was replaced by ``nn.Linear(wrong_in, num_classes)``."""
    model = build_model(arch)
    set_module(model, head_path(model), nn.Linear(wrong_in, num_classes))
    return model


def _diagnose_head(
    head: nn.Module, features: int, num_classes: int, broken_in: int, batch: int
) -> None:
    if not isinstance(head, nn.Linear):
        fail(
            f"an nn.Linear({features}, {num_classes})",
            f"a {type(head).__name__}",
            "the new head is one nn.Linear layer.",
            M["not_linear"],
        )
    got = (head.in_features, head.out_features)
    if got == (features, num_classes):
        return
    if got == (num_classes, features):
        fail(
            f"nn.Linear({features}, {num_classes})",
            f"nn.Linear{got}",
            "nn.Linear takes (in_features, out_features), in that order.",
            M["swapped_arguments"],
        )
    if head.in_features == broken_in:
        fail(
            f"in_features={features}: what this backbone produces",
            f"in_features={head.in_features}, the broken layer's number, kept",
            "measure what arrives at the head (replace it by nn.Identity() and run the example).",
            M["broken_in_kept"],
        )
    if head.in_features == batch * features:
        fail(
            f"in_features={features}: the features of ONE sample",
            f"in_features={head.in_features} = {batch} samples x {features} features",
            "the output has shape (batch, features): read its last dimension, not numel().",
            M["counted_batch"],
        )
    if head.in_features == batch != num_classes:
        fail(
            f"in_features={features}: the features of ONE sample",
            f"in_features={head.in_features}, the number of images in the example",
            "the measured output has shape (batch, features): read shape[1], not shape[0].",
            M["batch_dimension_read"],
        )
    if head.in_features == num_classes != batch:
        fail(
            f"in_features={features}: what this backbone produces",
            f"in_features={head.in_features}, the broken layer's out_features (its class count)",
            "in_features is the input side: measure what arrives at the head; out_features is "
            "the number of classes.",
            M["out_for_in"],
        )
    if head.in_features != features:
        fail(
            f"in_features={features}: what this backbone produces",
            f"in_features={head.in_features}, not what arrives at the head",
            "measure it on the example (replace the head by nn.Identity()); never type it.",
            M["typed_in_features"],
        )
    fail(
        f"out_features={num_classes}, as the broken layer had",
        f"out_features={head.out_features}: the output size was changed",
        "the mismatch is on the input side; keep the number of classes.",
        M["output_size_blamed"],
    )


def check_repair_head(
    repair_head: Callable[[nn.Module, torch.Tensor], nn.Module],
    arch: str | None = None,
    wrong_in: int = 1024,
    num_classes: int = 10,
    size: int = 64,
) -> None:
    """``repair_head(model, example)`` must make a broken model run, keeping its class count.

    Without ``arch``, the visible cases: a ResNet-50 and a MobileNetV3 (head in
    ``classifier[3]``), so a ResNet-only answer fails before submission.
    """
    cases = [(arch, wrong_in, num_classes)] if arch is not None else REPAIR_CASES
    for name, wrong, classes in cases:
        model = broken_model(name, wrong, classes)
        example = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
        path = head_path(model)
        before = set(model._modules)
        # What arrives at the head is what torchvision's own head was built for (tested against
        # measured_features in tests/test_checks_lesson4.py); reading it saves a forward pass.
        features = linear_at(build(name), path).in_features  # a meta model: shapes only
        try:
            result = repair_head(model, example)
        except NotImplementedError:
            raise
        except Exception:  # noqa: BLE001 - named below, or the usual feedback on a fresh model
            if "fc" in set(model._modules) - before:
                fail(
                    f"the new head at model.{path} of the {name}",
                    "your code set model.fc, which this model's forward never calls, and then "
                    "failed",
                    "heads.find_head(model).path says where the head is; "
                    "heads.set_module puts a layer there.",
                    M["resnet_only"],
                )
            result = _call(
                repair_head,
                broken_model(name, wrong, classes),
                example,
                what=f"repair_head on a broken {name}",
            )
        if not isinstance(result, nn.Module):
            shows = "None" if result is None else type(result).__name__
            fail(
                "the repaired model, returned",
                shows,
                "end the function with return model.",
                M["nothing_returned"],
            )
        added = sorted(set(result._modules) - before)
        if added:
            fail(
                f"the new head at model.{path.replace('.3', '[3]')} of the {name}",
                f"a new attribute model.{added[0]}, which this model's forward never calls",
                "heads.find_head(model).path says where the head is; heads.set_module puts "
                "a layer there.",
                M["resnet_only"],
            )
        _diagnose_head(get_module(result, path), features, classes, wrong, len(example))
        try:
            with torch.no_grad():
                out = result.eval()(example)
        except RuntimeError as err:
            fail(
                "a model whose forward pass runs",
                f"the forward pass still fails: {err}",
                "the head's in_features must equal the features the layer before it produces.",
                M["typed_in_features"],
            )
        if tuple(out.shape) != (len(example), classes):
            fail(
                f"output shape {(len(example), classes)}",
                f"{tuple(out.shape)}",
                "one row per image, one score per class.",
                M["output_size_blamed"],
            )
    done = ", ".join(f"{n} (head at {head_path(build(n))!r}, {c} classes)" for n, _, c in cases)
    correct(f"measured the features and kept the class count on {done}.")


# --- multiple choice ------------------------------------------------------------------------------


Q1 = Choice(
    question="the cause of 'mat1 and mat2 shapes cannot be multiplied (1x2048 and 1024x10)'",
    options={
        "A": (
            "In '1x2048 and 1024x10' the numbers that must agree are 2048 and 1024; out_features is "
            "the 10."
        ),
        "B": (
            "The lesson ran the same forward pass in train mode and in eval mode and printed both "
            "messages."
        ),
        "C": (
            "'1x2048' is one image's features; '1024x10' is the new layer's weight, made for 1024 "
            "inputs."
        ),
        "D": (
            "Every torchvision ResNet, pretrained or not, has model.fc; the assignment itself ran "
            "without error."
        ),
    },
)


def check_cause(answer: object) -> None:
    """Exercise 2: what the message '(1x2048 and 1024x10)' says is wrong.

    Visible check: records the letter; the hidden test scores it.
    """
    record_choice(answer, Q1)


Q2 = Choice(
    question="the repair of a ResNet-18 broken by model.fc = nn.Linear(2048, 5)",
    options={
        "A": (
            "After the broken swap, model.fc is the new Linear(2048, 5), so its in_features reads "
            "2048."
        ),
        "B": "nn.Linear(2048, 512) takes 2048 features and gives 512 outputs.",
        "C": (
            "model.eval() changes BatchNorm and Dropout; the number of features reaching fc stays "
            "512."
        ),
        "D": "A rebuilt ResNet-18's fc is untouched: its in_features reads 512.",
    },
)


def check_fix(answer: object) -> None:
    """Exercise 4: which repair works after ``model.fc = nn.Linear(2048, 5)`` broke a ResNet-18.

    Visible check: records the letter; the hidden test scores it.
    """
    record_choice(answer, Q2)
