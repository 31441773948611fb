"""Checkers for lesson 3: output shapes, logits, probabilities, predictions.

A classifier answers with one row per image and one column per class:
shape (batch, classes). The checkers compare with real forward passes on
the ``meta`` device, so every expected shape is measured, never typed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from course_utils.checks._feedback import check_choice, correct, fail
from course_utils.checks.lesson2 import build, outputs_of, plain_int

ShapeCase = tuple[str, int, tuple[int, ...]] | tuple[nn.Module, tuple[int, ...]]

_EXAMPLE_LOGITS = (
    (2.0, 1.0, 0.1, -1.0, 0.5),
    (0.0, 3.0, 0.2, 0.1, -2.0),
    (1.0, 1.5, 4.0, 0.3, 0.0),
)


def _as_shape(value: object) -> tuple[int, ...] | None:
    """A tuple of plain ints from a tuple/list/torch.Size of integers, else None."""
    if type(value) not in (tuple, list, torch.Size):
        return None
    ints = tuple(plain_int(v) for v in value)
    return None if None in ints else ints


def _case(case: ShapeCase) -> tuple[nn.Module, tuple[int, ...], str]:
    if len(case) == 3:
        name, num_classes, shape = case
        return build(name, num_classes), tuple(shape), f"{name} with {num_classes} classes"
    model, shape = case
    return model, tuple(shape), type(model).__name__


def _measured_shape(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[int, ...]:
    device = next(model.parameters()).device
    return tuple(outputs_of(model.eval(), torch.zeros(input_shape, device=device))[0].shape)


def _shape_misconception(got: tuple[int, ...], want: tuple[int, ...], in_shape: tuple[int, ...],
                         in_features: int) -> tuple[str, str]:
    batch, classes = want
    if got == in_shape:
        return "the input shape", "reading the input shape as the output shape"
    if got == (batch, 1000) and classes != 1000:
        return "1000 columns: ImageNet's class count", "expecting 1000 outputs still"
    if got == (batch, in_features):
        return (f"{in_features} columns: the feature size that goes INTO the head",
                "feature size confused with output size")
    if got == (classes,):
        return "no batch dimension", "forgot the batch dimension"
    if got == (1, classes) and batch != 1:
        return "a batch of 1 whatever the input", "hard-coded batch size"
    if got == (classes, batch):
        return "(classes, batch): the two axes swapped", "axes swapped"
    return "a shape that does not follow from the model", "wrong shape"


# --------------------------------------------------------------------------- exercise 1


def check_output_shape(predict_output_shape: Callable, *cases: ShapeCase) -> None:
    """``predict_output_shape(model, input_shape)`` returns (batch, classes) for any classifier."""
    from course_utils.heads import find_head

    for case in cases or (("resnet18", 5, (1, 3, 224, 224)),):
        model, in_shape, label = _case(case)
        want = _measured_shape(model, in_shape)
        in_features = find_head(model).in_features
        try:
            result = predict_output_shape(model, in_shape)
        except NotImplementedError:
            raise  # the untouched stub: let nbgrader show it as "not answered yet"
        except Exception as exc:  # noqa: BLE001 - every student error becomes feedback
            fail(f"predict_output_shape on a {label} to run", f"{type(exc).__name__}: {exc}",
                 "the model lives on the meta device (shapes, no numbers): read the answer from "
                 "its head and the input shape.", "the code does not run")
        got = _as_shape(result)
        if got is None:
            fail("a tuple of ints such as (batch, classes)", f"{type(result).__name__}: "
                 f"{result!r:.80}", "return a tuple, e.g. (2, 7).", "wrong return type")
        if got != want:
            observed, misconception = _shape_misconception(got, want, in_shape, in_features)
            fail(f"{want} for a {label} on input {in_shape}", f"{got}: {observed}",
                 "one row per image in the batch, one column per output of the head.",
                 misconception)
    correct("(batch, classes): rows are images, columns are the head's outputs.")


# --------------------------------------------------------------------------- exercise 2


def _check_prediction(predict: Callable, logits: torch.Tensor) -> None:
    original = logits.clone()
    try:
        result = predict(logits)
    except NotImplementedError:
        raise  # the untouched stub: let nbgrader show it as "not answered yet"
    except Exception as exc:  # noqa: BLE001 - every student error becomes feedback
        fail(f"predict on logits of shape {tuple(logits.shape)} to run",
             f"{type(exc).__name__}: {exc}", "try it on a small tensor in a cell of its own.",
             "the code does not run")
    # Exact torch.Tensor only: a subclass could redefine the comparisons below.
    if not (isinstance(result, tuple) and len(result) == 2
            and all(type(t) is torch.Tensor for t in result)):
        fail("a pair of tensors (probabilities, predicted_class)",
             f"{type(result).__name__}: {result!r:.100}",
             "end with: return probabilities, predicted_class", "wrong return type")
    if not torch.equal(logits, original):
        fail("the logits left unchanged", "your function changed the logits in place",
             "use functions that return new tensors (torch.softmax), not in-place ones.",
             "modified the input")
    probs, pred = result
    want = torch.softmax(logits.double(), dim=1)
    if tuple(probs.shape) != tuple(logits.shape):
        fail(f"probabilities of shape {tuple(logits.shape)}, one per logit",
             f"shape {tuple(probs.shape)}", "softmax keeps the shape of the logits.", "wrong shape")
    p = probs.detach().double().cpu()
    if not torch.isfinite(p).all():
        fail("finite probabilities even for large logits", "nan or inf values",
             "exp() of a large logit overflows; torch.softmax subtracts the row maximum first.",
             "numerically unstable softmax")
    if torch.allclose(p, logits.double()):
        fail("probabilities (each row sums to 1)", "the logits, unchanged",
             "turn logits into probabilities with softmax.", "logits used as probabilities")
    if not torch.allclose(p, want, atol=1e-5):
        sums = f"row sums {p.sum(dim=1).round(decimals=3).tolist()}"
        if logits.shape[0] > 1 and torch.allclose(p, torch.softmax(logits.double(), dim=0)):
            observed, why = "each column sums to 1, not each row", "softmax over the batch axis"
        elif torch.allclose(p, torch.sigmoid(logits.double()), atol=1e-5):
            observed, why = sums, "sigmoid instead of softmax"
        else:
            observed, why = sums, "not a softmax over classes"
        fail("softmax over the classes: every row sums to 1", observed,
             "dim=1 is the class axis of a (batch, classes) tensor.", why)
    batch = logits.shape[0]
    target = want.argmax(dim=1)
    if pred.is_floating_point():
        why = ("the highest probability, not its index"
               if torch.allclose(pred.detach().double().cpu().flatten(), want.max(dim=1).values)
               else "not class indices")
        fail(f"{batch} integer class indices", f"floating values {pred.flatten().tolist()[:6]}",
             "max() returns (values, indices); you want the indices: argmax.", why)
    if tuple(pred.shape) != (batch,):
        fail(f"one class index per image: shape ({batch},)", f"shape {tuple(pred.shape)}",
             "argmax over the class axis gives one index per row.",
             "argmax over the wrong axis" if pred.numel() != batch else "extra dimension")
    if not torch.equal(pred.cpu(), target):
        fail(f"predicted classes {target.tolist()}", f"{pred.tolist()}",
             "the prediction is the column with the largest probability in each row.",
             "argmax over the wrong axis or of the wrong tensor")


def check_predict(predict: Callable, *logits: torch.Tensor | Sequence) -> None:
    """``predict(logits) -> (probabilities, predicted_class)`` for any (batch, classes) logits."""
    if not callable(predict):
        fail("a function predict(logits)", f"{predict!r}", "define it with def.", "not a function")
    for item in logits or (_EXAMPLE_LOGITS,):
        tensor = torch.as_tensor(item, dtype=torch.float32)
        if tensor.ndim != 2:
            raise ValueError(
                f"logits must be 2-D (batch, classes), got shape {tuple(tensor.shape)}"
            )
        _check_prediction(predict, tensor)
    correct("softmax over the class axis, then argmax: rows are images, columns are classes.")


# --------------------------------------------------------------------------- short answers


def check_q1(answer: object) -> None:
    """Output shape of a 5-class ResNet-18 on a batch of 16."""
    check_choice(
        answer,
        "C",
        {
            "A": "the new head has 5 outputs; 1000 belonged to the ImageNet head that was "
            "replaced [expecting 1000 outputs still]",
            "B": "512 is what goes INTO the head (its in_features); the head turns it into 5 "
            "scores [feature size confused with output size]",
            "D": "that is the input: the output has one row per image and one column per class "
            "[reading the input shape as the output shape]",
        },
        question="the shape of model(x) for x of shape (16, 3, 224, 224) and fc = Linear(512, 5)",
        confirmation="(16, 5): 16 images, 5 scores each.",
    )


def check_q2(answer: object) -> None:
    """argmax of logits and of probabilities agree."""
    check_choice(
        answer,
        "D",
        {
            "A": "softmax keeps the order of the scores in each row, so the largest logit is "
            "also the largest probability",
            "B": "the logits already rank the classes; softmax only rescales them",
            "C": "the 512 features describe the image, not the classes: there is nothing to "
            "pick a class from [feature size confused with output size]",
        },
        question="which tensor gives the predicted class with argmax(dim=1)?",
        confirmation="softmax never changes which score is the largest: either tensor works.",
    )


def check_output_count(answer: object, *, batch: int = 8, num_classes: int = 24) -> None:
    """How many numbers the course backbone returns for a batch (measured on the meta device)."""
    model = build("resnet18", num_classes)
    shape = _measured_shape(model, (batch, 3, 32, 32))
    want = shape[0] * shape[1]
    given = plain_int(answer)
    if given is None:
        fail("a whole number", f"{answer!r:.80}", "count the numbers: rows times columns.",
             "wrong type")
    answer = given
    if answer == want:
        correct(f"{shape[0]} rows x {shape[1]} columns = {want} scores.")
        return
    known = {
        batch * 512: ("the features (batch x 512), not the scores",
                      "feature size confused with output size"),
        num_classes: ("one image's scores: the batch is missing", "forgot the batch dimension"),
        batch * 1000: ("1000 scores per image", "expecting 1000 outputs still"),
        batch * 3 * 32 * 32: ("the number of input pixel values",
                              "reading the input shape as the output shape"),
    }
    observed, misconception = known.get(answer, (f"{answer}", "wrong count"))
    fail("rows x columns of the output: (batch, classes)", observed,
         "write down the output shape first, then multiply.", misconception)
