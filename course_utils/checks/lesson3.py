"""Checkers for lesson 3: output shapes, logits, probabilities, predictions.

A classifier answers with one row per image and one column per class:
shape (batch, classes). The checkers compare with real forward passes on
the ``meta`` device, so every expected shape is measured, never typed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from course_utils.checks._feedback import (
    GENERIC,
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
    model_changes,
    model_snapshot,
    outputs_of,
    plain_int,
)

S1 = "1. The output has one row per image and one column per class"
S2 = "2. Logits -> probabilities -> prediction"
S3 = "3. Predictions in practice: eval mode, no gradients, and a loss that takes logits"
EX = "the exercise's instructions"

MISCONCEPTIONS = registry(
    "lesson3",
    Misconception("input_as_output", "reading the input shape as the output shape", S1),
    Misconception("still_1000", "expecting 1000 outputs still", S1),
    Misconception("features_as_outputs", "feature size confused with output size", S1),
    Misconception("no_batch", "forgot the batch dimension", S1),
    Misconception("fixed_batch", "hard-coded batch size", S1),
    Misconception("axes_swapped", "axes swapped", S1),
    Misconception("typed_classes", "a class count that does not follow from the model's head", S1),
    Misconception("resnet_only", "code that works only for a ResNet's model.fc", S1),
    Misconception("device_assumed", "a device assumed instead of read from the model", S1),
    Misconception("not_a_shape", "a tuple of ints expected", EX),
    Misconception(
        "model_changed", "the caller's model changed (mode, BatchNorm statistics or head)", S3
    ),
    Misconception("not_a_number", "a whole number (int) expected", EX),
    Misconception("wrong_count", "a count that is not rows x columns of the output", S1),
    Misconception("softmax_over_batch", "softmax over the batch axis", S2),
    Misconception(
        "class_axis_hard_coded",
        "dim=1 taken as the class axis of every tensor (a 1-D has none)",
        S2,
    ),
    Misconception("sigmoid", "sigmoid instead of softmax", S2),
    Misconception("logits_as_probabilities", "logits used as probabilities", S2),
    Misconception("not_softmax", "not a softmax over classes", S2),
    Misconception("unstable_softmax", "numerically unstable softmax (exp overflows)", S2),
    Misconception("max_value_not_index", "the highest probability, not its index", S2),
    Misconception("not_indices", "not class indices", S2),
    Misconception("argmax_wrong_axis", "argmax over the wrong axis or of the wrong tensor", S2),
    Misconception("extra_dimension", "extra dimension in the predicted classes", S2),
    Misconception("modified_input", "modified the input", S2),
    Misconception("not_two_tensors", "a pair of tensors expected", EX),
    Misconception("argmax_needs_probabilities", "thinking argmax needs probabilities", S2),
    Misconception("softmax_reorders", "thinking softmax reorders the classes", S2),
    Misconception("softmax_before_loss", "a softmax before CrossEntropyLoss (it takes logits)", S3),
    Misconception("argmax_in_head", "an argmax inside the head (it has no gradient)", S3),
    Misconception("relu_on_logits", "a ReLU after the head (logits may be negative)", S3),
    Misconception("train_mode_inference", "predicting in train mode", S3),
    Misconception("no_grad_is_eval", "thinking torch.no_grad() switches to eval mode", S3),
    Misconception("eval_is_no_grad", "thinking model.eval() turns off gradients", S3),
)
M = MISCONCEPTIONS
# The hidden tests score multiple choice: checks.grade_choice(answer, checks.Q1, right, A=..., ...).
grade_choice = choice_grader(MISCONCEPTIONS)
GENERIC_ERROR = GENERIC["code_error"]

ShapeCase = tuple[str, int, tuple[int, ...]] | tuple[nn.Module, tuple[int, ...]]

_EXAMPLE_LOGITS = (
    (2.0, 1.0, 0.1, -1.0, 0.5),
    (0.0, 3.0, 0.2, 0.1, -2.0),
    (1.0, 1.5, 4.0, 0.3, 0.0),
)


def _as_shape(value: object) -> tuple[int, ...] | None:
    """A tuple of plain ints from a tuple/list/torch.Size of integers, else None."""
    # Exact types: a subclass could redefine iteration or equality.
    if type(value) not in (tuple, list, torch.Size) or not isinstance(value, tuple | list):
        return None
    ints = []
    for v in value:
        i = plain_int(v)
        if i is None:
            return None
        ints.append(i)
    return tuple(ints)


def _case(case: ShapeCase) -> tuple[nn.Module, tuple[int, ...], str]:
    if len(case) == 3:
        name, num_classes, shape = case
        return build(name, num_classes), tuple(shape), f"{name} with {num_classes} classes"
    model, shape = case
    return model, tuple(shape), type(model).__name__


def _measured_shape(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[int, ...]:
    device = next(model.parameters()).device
    return tuple(outputs_of(model.eval(), torch.zeros(input_shape, device=device))[0].shape)


def _shape_misconception(
    got: tuple[int, ...], want: tuple[int, ...], in_shape: tuple[int, ...], in_features: int
) -> tuple[str, Misconception]:
    batch, classes = want
    if got == in_shape:
        return "the input shape", M["input_as_output"]
    if got == (batch, 1000) and classes != 1000:
        return "1000 columns: ImageNet's class count", M["still_1000"]
    if got == (batch, in_features):
        return (
            f"{in_features} columns: the feature size that goes INTO the head",
            M["features_as_outputs"],
        )
    if got == (classes,):
        return "no batch dimension", M["no_batch"]
    if got == (classes, batch):
        return "(classes, batch): the two axes swapped", M["axes_swapped"]
    if len(got) == 2 and got[0] != batch:
        return f"a batch of {got[0]} whatever the input", M["fixed_batch"]
    if len(got) == 2 and got[0] == batch:
        return (
            f"{got[1]} columns, not the {classes} outputs of this model's head",
            M["typed_classes"],
        )
    return "a shape that does not follow from the model", M["not_a_shape"]


# --------------------------------------------------------------------------- exercise 1


# The visible cases: two families, two batch sizes, a meta model and (in the notebook) a CPU one.
VISIBLE_SHAPES: tuple[ShapeCase, ...] = (
    ("resnet18", 5, (1, 3, 224, 224)),
    ("vgg11", 3, (4, 3, 224, 224)),
)


def check_output_shape(predict_output_shape: Callable, *cases: ShapeCase) -> None:
    """``predict_output_shape(model, input_shape)`` returns (batch, classes) for any classifier."""
    from course_utils.heads import find_head

    labels = []
    for case in cases or VISIBLE_SHAPES:
        model, in_shape, label = _case(case)
        device = next(model.parameters()).device.type
        label = f"{label} on the {device} device"
        labels.append(f"{label}, input {in_shape}")
        want = _measured_shape(model, in_shape)
        in_features = find_head(model).in_features
        before = model_snapshot(model)
        try:
            result = predict_output_shape(model, in_shape)
        except NotImplementedError:
            raise  # the untouched stub: let nbgrader show it as "not answered yet"
        except Exception as exc:  # noqa: BLE001 - every student error becomes feedback
            text = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, AttributeError) and "'fc'" in str(exc):
                fail(
                    f"predict_output_shape on a {label} to run",
                    text,
                    "only ResNet-like models keep their head in model.fc; heads.find_head(model) "
                    "finds it anywhere.",
                    M["resnet_only"],
                )
            if isinstance(exc, (RuntimeError, NotImplementedError)) and (
                "meta" in str(exc) or "device" in str(exc)
            ):
                fail(
                    f"predict_output_shape on a {label} to run",
                    text,
                    "build any example tensor on the model's own device: "
                    "next(model.parameters()).device (or reason from the head, no tensor "
                    "needed).",
                    M["device_assumed"],
                )
            fail(
                f"predict_output_shape on a {label} to run",
                text,
                "read the answer from the model's head and the input shape.",
                GENERIC_ERROR,
            )
        got = _as_shape(result)
        if got is None:
            fail(
                "a tuple of ints such as (batch, classes)",
                f"{type(result).__name__}: {result!r:.80}",
                "return a tuple, e.g. (2, 7).",
                M["not_a_shape"],
            )
        if got != want:
            observed, misconception = _shape_misconception(got, want, in_shape, in_features)
            fail(
                f"{want} for a {label} on input {in_shape}",
                f"{got}: {observed}",
                "one row per image in the batch, one column per output of the head.",
                misconception,
            )
        changed = model_changes(model, before)
        if changed:
            fail(
                f"predict_output_shape to leave the {label} as it was",
                "; ".join(changed),
                "work on the model without changing it: remember model.training and restore "
                "it, or reason from the head without a forward pass; never swap its head.",
                M["model_changed"],
            )
    correct("(batch, classes) on " + "; ".join(labels) + ".")


# --------------------------------------------------------------------------- exercise 2


def _check_prediction(predict: Callable, logits: torch.Tensor) -> None:
    original = logits.clone()
    try:
        result = predict(logits)
    except NotImplementedError:
        raise  # the untouched stub: let nbgrader show it as "not answered yet"
    except Exception as exc:  # noqa: BLE001 - every student error becomes feedback
        if logits.ndim == 1 and isinstance(exc, IndexError) and "out of range" in str(exc):
            fail(
                f"predict on one image's logits, shape {tuple(logits.shape)}, to run",
                f"{type(exc).__name__}: {exc}",
                "a 1-D tensor has no dim=1: its class axis is its last axis, dim=-1, "
                "as in a (batch, classes) tensor.",
                M["class_axis_hard_coded"],
            )
        fail(
            f"predict on logits of shape {tuple(logits.shape)} to run",
            f"{type(exc).__name__}: {exc}",
            "try it on a small tensor in a cell of its own.",
            GENERIC_ERROR,
        )
    # Exact torch.Tensor only: a subclass could redefine the comparisons below.
    if not (
        isinstance(result, tuple)
        and len(result) == 2
        and all(type(t) is torch.Tensor for t in result)
    ):
        fail(
            "a pair of tensors (probabilities, predicted_class)",
            f"{type(result).__name__}: {result!r:.100}",
            "end with: return probabilities, predicted_class",
            M["not_two_tensors"],
        )
    if not torch.equal(logits, original):
        fail(
            "the logits left unchanged",
            "your function changed the logits in place",
            "use functions that return new tensors (torch.softmax), not in-place ones.",
            M["modified_input"],
        )
    probs, pred = result
    want = torch.softmax(logits.double(), dim=-1)  # the class axis is the last one
    if tuple(probs.shape) != tuple(logits.shape):
        fail(
            f"probabilities of shape {tuple(logits.shape)}, one per logit",
            f"shape {tuple(probs.shape)}",
            "softmax keeps the shape of the logits.",
            M["not_softmax"],
        )
    p = probs.detach().double().cpu()
    if not torch.isfinite(p).all():
        fail(
            "finite probabilities even for large logits",
            "nan or inf values",
            "exp() of a large logit overflows; torch.softmax subtracts the row maximum first.",
            M["unstable_softmax"],
        )
    if torch.allclose(p, logits.double()):
        fail(
            "probabilities (each row sums to 1)",
            "the logits, unchanged",
            "turn logits into probabilities with softmax.",
            M["logits_as_probabilities"],
        )
    if not torch.allclose(p, want, atol=1e-5):
        sums = f"row sums {p.sum(dim=-1).round(decimals=3).tolist()}"
        if (
            logits.ndim == 2
            and logits.shape[0] > 1
            and torch.allclose(p, torch.softmax(logits.double(), dim=0))
        ):
            observed, why = "each column sums to 1, not each row", M["softmax_over_batch"]
        elif torch.allclose(p, torch.sigmoid(logits.double()), atol=1e-5):
            observed, why = sums, M["sigmoid"]
        else:
            observed, why = sums, M["not_softmax"]
        fail(
            "softmax over the classes: every row sums to 1",
            observed,
            "the class axis is the last one: dim=1 of (batch, classes), dim=0 of (classes,).",
            why,
        )
    shape = tuple(logits.shape[:-1])  # (batch,) for a batch, () for one image
    batch = logits.shape[0] if logits.ndim == 2 else 1
    target = want.argmax(dim=-1)
    if pred.is_floating_point():
        why = (
            M["max_value_not_index"]
            if torch.allclose(
                pred.detach().double().cpu().flatten(), want.max(dim=-1).values.flatten()
            )
            else M["not_indices"]
        )
        fail(
            f"{batch} integer class indices",
            f"floating values {pred.flatten().tolist()[:6]}",
            "max() returns (values, indices); you want the indices: argmax.",
            why,
        )
    if tuple(pred.shape) != shape:
        fail(
            f"one class index per image: shape {shape}",
            f"shape {tuple(pred.shape)}",
            "argmax over the class axis gives one index per row.",
            M["argmax_wrong_axis"] if pred.numel() != batch else M["extra_dimension"],
        )
    if not torch.equal(pred.cpu(), target):
        fail(
            f"predicted classes {target.tolist()}",
            f"{pred.tolist()}",
            "the prediction is the column with the largest probability in each row.",
            M["argmax_wrong_axis"],
        )


# The visible cases: ordinary logits, logits large enough to overflow exp(), and one image's
# logits on their own (shape (classes,)), where a copied dim=1 has no axis to work on.
VISIBLE_LOGITS = (
    _EXAMPLE_LOGITS,
    ((1000.0, 0.0, -1000.0), (-50.0, 60.0, 0.0)),
    (0.3, 2.5, -1.0, 0.8),
)


def check_predict(predict: Callable, *logits: torch.Tensor | Sequence) -> None:
    """``predict(logits) -> (probabilities, predicted_class)`` for (batch, classes) logits and
    for one image's (classes,) logits (a 0-D class index then)."""
    if not callable(predict):
        fail("a function predict(logits)", f"{predict!r}", "define it with def.", GENERIC_ERROR)
    for item in logits or VISIBLE_LOGITS:
        tensor = torch.as_tensor(item, dtype=torch.float32)
        if tensor.ndim not in (1, 2):
            raise ValueError(
                f"logits must be (batch, classes) or (classes,), got shape {tuple(tensor.shape)}"
            )
        _check_prediction(predict, tensor)
    shapes = " and ".join(
        str(tuple(torch.as_tensor(item).shape)) for item in logits or VISIBLE_LOGITS
    )
    correct(
        f"softmax over the class axis, then argmax, on logits of shape {shapes}"
        + ("" if logits else ", small, very large and one image's alone")
        + "."
    )


# --------------------------------------------------------------------------- short answers


Q1 = Choice(
    question="the shape of model(x) for x of shape (16, 3, 224, 224) and fc = Linear(512, 5)",
    options={
        "A": "1000 was the out_features of the ImageNet head; this model's fc is Linear(512, 5).",
        "B": "512 is the fc layer's in_features: what goes into the head, not what comes out.",
        "C": "The output has one row per image (16) and one column per out_features of fc (5).",
        "D": "(16, 3, 224, 224) is the input: 16 images of 3 channels, 224 x 224 pixels.",
    },
)


def check_q1(answer: object) -> None:
    """Output shape of a 5-class ResNet-18 on a batch of 16.

    Visible check: records the letter; the hidden test scores it.
    """
    record_choice(answer, Q1)


Q2 = Choice(
    question="which tensor gives the predicted class with argmax(dim=1)?",
    options={
        "A": (
            "Softmax is monotonic in each row: the order of the scores is kept, so is the index of "
            "the largest."
        ),
        "B": "Softmax rescales each row to sum to 1 and keeps the order of its scores.",
        "C": (
            "The 512 features describe the image; there is one feature per position, not one per "
            "class."
        ),
        "D": "Logits and probabilities have the same order in every row, because softmax is monotonic.",
    },
)


def check_q2(answer: object) -> None:
    """argmax of logits and of probabilities agree.

    Visible check: records the letter; the hidden test scores it.
    """
    record_choice(answer, Q2)


def check_output_count(answer: object, *, batch: int = 8, num_classes: int = 24) -> None:
    """How many numbers the course backbone returns for a batch (measured on the meta device)."""
    model = build("resnet18", num_classes)
    shape = _measured_shape(model, (batch, 3, 32, 32))
    want = shape[0] * shape[1]
    given = plain_int(answer)
    if given is None:
        kind = type(answer).__name__
        fail(
            "a whole number (an int), such as 8 * 24",
            f"{answer!r:.80}, a {kind}",
            "write the number or the product without quotes or a decimal point: "
            "answer_q3 = 2 * 3, not '6' or 6.0.",
            M["not_a_number"],
        )
    answer = given
    if answer == want:
        correct(f"{shape[0]} rows x {shape[1]} columns = {want} scores.")
        return
    known = {
        batch * 512: ("the features (batch x 512), not the scores", M["features_as_outputs"]),
        num_classes: ("one image's scores: the batch is missing", M["no_batch"]),
        batch * 1000: ("1000 scores per image", M["still_1000"]),
        batch * 3 * 32 * 32: ("the number of input pixel values", M["input_as_output"]),
        batch * 5: (
            "5 scores per image: the flower head, not the 24-shape head",
            M["typed_classes"],
        ),
    }
    observed, misconception = known.get(answer, (f"{answer}", M["wrong_count"]))
    fail(
        "rows x columns of the output: (batch, classes)",
        observed,
        "write down the output shape first, then multiply.",
        misconception,
    )


Q4 = Choice(
    question="the head for a 5-class model trained with nn.CrossEntropyLoss",
    options={
        "A": (
            "nn.CrossEntropyLoss applies log-softmax itself; a softmax before it squashes the scores "
            "twice."
        ),
        "B": (
            "nn.CrossEntropyLoss takes raw scores (logits) of any sign and applies log-softmax "
            "itself."
        ),
        "C": "A ReLU sets every negative score to 0, so the unlikely classes can no longer be ranked.",
        "D": "argmax returns class indices; an index has no gradient for the loss to follow.",
    },
)


def check_loss_head(answer: object) -> None:
    """Exercise 4: the head to train with nn.CrossEntropyLoss.

    Visible check: records the letter; the hidden test scores it.
    """
    record_choice(answer, Q4)


Q5 = Choice(
    question="which code predicts without batch-dependent results and without recording gradients?",
    options={
        "A": (
            "In train mode BatchNorm normalises with the batch's own statistics, and autograd records"
            " every operation."
        ),
        "B": (
            "torch.no_grad() stops recording gradients; it does not change the mode of BatchNorm or "
            "Dropout."
        ),
        "C": (
            "model.eval() sets BatchNorm and Dropout to eval behaviour; torch.no_grad() stops "
            "recording gradients."
        ),
        "D": (
            "model.eval() sets BatchNorm and Dropout to eval behaviour; autograd still records every "
            "operation."
        ),
    },
)


def check_inference(answer: object) -> None:
    """Exercise 5: predictions that do not depend on the batch and store no gradients.

    Visible check: records the letter; the hidden test scores it.
    """
    record_choice(answer, Q5)
