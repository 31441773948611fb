"""Checkers for lesson 1: what the head is for.

A classifier is a backbone (image -> feature vector) followed by a head
(feature vector -> one score per class). The checkers run the student's code
on several models, so an answer that only fits the lesson's ResNet-18 fails.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from course_utils.checks._feedback import (
    Choice,
    Misconception,
    NotAnswered,
    choice_grader,
    correct,
    fail,
    record_choice,
    registry,
)
from course_utils.checks._toolkit import call_student as _run
from course_utils.checks._toolkit import example_input, fc_explainer, get_module, head_path

S1 = "1. Backbone and head"
S2 = "2. A new task needs a new head"
EX = "the exercise's instructions"

MISCONCEPTIONS = registry(
    "lesson1",
    Misconception(
        "input_size_changes",
        "replacing the head changes the input size",
        'Claim 1: "the new head changes the input size the model accepts"',
    ),
    Misconception(
        "much_smaller",
        "it makes the model much smaller",
        'Claim 2: "replacing the head makes the model much smaller"',
    ),
    Misconception(
        "faster_training",
        "it speeds up training because layers are removed",
        'Claim 3: "replacing the head speeds up training because layers are removed"',
    ),
    Misconception(
        "grows",
        "thinking a head with fewer classes makes the model larger",
        'Claim 2: "replacing the head makes the model much smaller"',
    ),
    Misconception(
        "slower_init",
        "thinking the new head's initialisation slows training",
        'Claim 3: "replacing the head speeds up training because layers are removed"',
    ),
    Misconception("not_a_function", "a function expected", EX),
    Misconception("not_a_pair", "a pair (backbone, head) of modules expected", EX),
    Misconception("earlier_linear", "an earlier Linear, not the head", S1),
    Misconception("head_copied", "a copy or a new layer returned instead of the head itself", S1),
    Misconception("resnet_only", "code that works only for a ResNet's model.fc", S1),
    Misconception("modified_in_place", "modified the model in place", S1),
    Misconception("head_left_in_backbone", "backbone still contains the head", S1),
    Misconception("not_flattened", "features not flattened", S1),
    Misconception("wrong_backbone", "the backbone is not everything but the head", S1),
    Misconception("not_a_sequential", "one nn.Sequential of a Dropout and a Linear expected", S2),
    Misconception(
        "dropout_after_linear", "dropout after the Linear layer (it drops class scores)", S2
    ),
    Misconception("softmax_in_head", "a softmax in the head (the loss takes logits)", S2),
    Misconception("p_as_percent", "the dropout probability given as a percentage", S2),
    Misconception("typed_in_features", "a typed feature size instead of the in_features given", S2),
    Misconception("typed_class_count", "a typed class count instead of num_classes", S2),
    Misconception("p_ignored", "the dropout probability p not used", S2),
)
M = MISCONCEPTIONS
# The hidden tests score multiple choice: checks.grade_choice(answer, checks.Q1, right, A=..., ...).
grade_choice = choice_grader(MISCONCEPTIONS)

ModelCase = nn.Module | tuple[nn.Module, torch.Tensor]


def _example_input(model: nn.Module, batch: int = 2, size: int = 32) -> torch.Tensor:
    """A seeded random batch on the model's device (meta stays meta: shapes only)."""
    x = example_input(model, batch, size)
    if x.device.type == "meta":
        return x
    generator = torch.Generator().manual_seed(0)
    return torch.randn(x.shape, generator=generator).to(x.device)


def _cases(models: Sequence[ModelCase], default: Callable[[], list[nn.Module]]) -> list:
    items = list(models) or default()
    cases = []
    for item in items:
        model, x = item if isinstance(item, tuple) else (item, None)
        if not isinstance(model, nn.Module):
            raise TypeError(f"checker cases must be nn.Module or (module, input), got {item!r}")
        cases.append((model, _example_input(model) if x is None else x))
    return cases


def _last_linear(model: nn.Module) -> tuple[str, nn.Module]:
    """The head's dotted path and module, as ``course_utils.heads`` finds it."""
    path = head_path(model)
    return path, get_module(model, path)


def _forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(x)


def _same_values(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.device.type == "meta" or b.device.type == "meta":
        return a.shape == b.shape
    return a.shape == b.shape and torch.allclose(a, b, atol=1e-5, rtol=1e-4)


def _default_models() -> list[nn.Module]:
    """The visible check: a ResNet-18 (head at fc) and a MobileNetV3 (head at classifier[3])."""
    import torchvision

    torch.manual_seed(0)
    return [
        torchvision.models.resnet18(num_classes=24).eval(),
        torchvision.models.mobilenet_v3_small(num_classes=5).eval(),
    ]


_explain = fc_explainer(
    "a function that works for any classifier, not only a ResNet",
    "search model.named_modules() for the last nn.Linear instead of using model.fc.",
    M["resnet_only"],
)


# --------------------------------------------------------------------------- exercise 1


def check_split_model(split_model: Callable, *models: ModelCase) -> None:
    """``split_model(model) -> (backbone, head)``: head(backbone(x)) reproduces model(x).

    The head is the model's last ``nn.Linear`` (the very module, not a copy),
    the backbone returns one flat feature vector per image (``head.in_features``
    numbers), and ``model`` itself is left unchanged.
    """
    if not callable(split_model):
        fail(
            "a function split_model(model)",
            f"{split_model!r}",
            "define it with def.",
            M["not_a_function"],
        )
    names = []
    for model, x in _cases(models, _default_models):
        name = type(model).__name__
        head_name, true_head = _last_linear(model)
        expected = _forward(model, x)
        names.append(f"{name} (head at {head_name})")
        result = _run(split_model, model, what=f"split_model on a {name}", explain=_explain)
        if not (
            isinstance(result, tuple)
            and len(result) == 2
            and all(isinstance(m, nn.Module) for m in result)
        ):
            fail(
                "a pair (backbone, head) of nn.Module objects",
                f"{type(result).__name__}: {result!r:.120}",
                "end with: return backbone, head",
                M["not_a_pair"],
            )
        backbone, head = result
        if head is not true_head:
            linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
            if any(head is m for _, m in linears):
                found = next(n for n, m in linears if head is m)
                fail(
                    f"the head of this {name}: its last nn.Linear, model.{head_name}",
                    f"you returned model.{found}, an earlier Linear layer",
                    "a model may hold several Linear layers; the head is the one that "
                    "produces the class scores, at the very end.",
                    M["earlier_linear"],
                )
            fail(
                f"the head of this {name}: the module model.{head_name} itself",
                f"head = {head!r:.120}",
                "return the module object you found in model.named_modules(); the checker "
                "compares identity, so a new layer or a copy does not count.",
                M["head_copied"],
            )
        if not _same_values(_forward(model, x), expected):
            fail(
                f"model unchanged after split_model (still {tuple(expected.shape)} scores)",
                "model now gives different outputs: you changed it in place",
                "work on copy.deepcopy(model) and replace the head in the copy.",
                M["modified_in_place"],
            )
        features = _run(_forward, backbone, x, what=f"backbone(x) for a {name}")
        # Exact torch.Tensor only: a subclass could redefine the comparisons below.
        if type(features) is not torch.Tensor:
            fail(
                "backbone(x) to return a plain torch.Tensor",
                f"{type(features).__name__}",
                "the backbone must be a module whose forward returns features.",
                M["wrong_backbone"],
            )
        if "fc" in set(backbone._modules) - set(model._modules):
            fail(
                f"the backbone of this {name} without its head at model.{head_name}",
                "your backbone has a new attribute .fc, which this model's forward "
                "never calls: its head is elsewhere",
                "find the head in model.named_modules() (the last nn.Linear), not by name.",
                M["resnet_only"],
            )
        want = (x.shape[0], true_head.in_features)
        if tuple(features.shape) == tuple(expected.shape):
            fail(
                f"features of shape {want} (batch, head.in_features)",
                f"shape {tuple(features.shape)}: the class scores, so the backbone still "
                "contains the head",
                "inside the backbone copy, swap the head for nn.Identity().",
                M["head_left_in_backbone"],
            )
        if features.ndim == 4 and tuple(features.shape[:2]) == want:
            fail(
                f"features of shape {want}: one flat vector per image",
                f"shape {tuple(features.shape)}: the pooled maps were never flattened",
                "nn.Sequential(*model.children()) loses the torch.flatten of the model's "
                "forward; keep the model and replace only its head.",
                M["not_flattened"],
            )
        if tuple(features.shape) != want:
            fail(
                f"features of shape {want} (batch, head.in_features)",
                f"shape {tuple(features.shape)}",
                "the backbone is everything but the head.",
                M["wrong_backbone"],
            )
        if not _same_values(_forward(head, features), expected):
            fail(
                "head(backbone(x)) equal to model(x)",
                "different scores: the backbone skips or repeats some layer",
                "keep every layer but the head in the backbone, in its original order.",
                M["wrong_backbone"],
            )
    correct(
        f"backbone -> features, head -> one score per class, model untouched, on "
        f"{' and '.join(names)}."
    )


# --------------------------------------------------------------------------- exercise 2

# (in_features, num_classes, p): the course backbone's flower head, and a ResNet-50-sized one.
DROPOUT_CASES = ((512, 5, 0.2), (2048, 3, 0.5))


def check_dropout_head(dropout_head: Callable, *cases: tuple[int, int, float]) -> None:
    """``dropout_head(in_features, num_classes, p)`` is ``Sequential(Dropout(p), Linear(...))``.

    The dropout acts on the features (before the Linear layer), and the head
    ends with logits: no softmax, because ``nn.CrossEntropyLoss`` applies it.
    """
    if not callable(dropout_head):
        fail(
            "a function dropout_head(in_features, num_classes, p)",
            f"{dropout_head!r}",
            "define it with def.",
            M["not_a_function"],
        )
    for in_features, num_classes, p in cases or DROPOUT_CASES:
        call = f"dropout_head({in_features}, {num_classes}, {p})"
        try:
            head = dropout_head(in_features, num_classes, p)
        except NotAnswered:
            raise
        except NotImplementedError as exc:  # the untouched stub: said short, as by call_student
            raise NotAnswered(call) from exc
        except ValueError as exc:
            if "dropout probability" in str(exc):
                fail(
                    f"{call} to build a head",
                    f"it raised ValueError: {exc}",
                    "p is a probability between 0 and 1: 0.2, not 20.",
                    M["p_as_percent"],
                )
            head = _run(dropout_head, in_features, num_classes, p, what=call)
        except Exception:  # noqa: BLE001 - the usual feedback
            head = _run(dropout_head, in_features, num_classes, p, what=call)
        if not isinstance(head, nn.Sequential):
            fail(
                f"{call} to return one nn.Sequential holding an nn.Dropout and an nn.Linear",
                f"{type(head).__name__}: {head!r:.100}",
                "put both layers in one nn.Sequential, in the order that lets dropout act on "
                "what the head receives.",
                M["not_a_sequential"],
            )
        layers = list(head)
        kinds = [type(layer).__name__ for layer in layers]
        if any(isinstance(layer, (nn.Softmax, nn.LogSoftmax)) for layer in layers):
            fail(
                f"a head for {call} that ends with the Linear layer's logits",
                f"layers {kinds}: the head ends with a softmax",
                "nn.CrossEntropyLoss applies log-softmax itself; the head outputs logits.",
                M["softmax_in_head"],
            )
        if kinds == ["Linear", "Dropout"]:
            fail(
                "the dropout before the Linear layer",
                f"layers {kinds}",
                "dropout regularises the head by dropping features it receives; after the "
                "Linear it would drop class scores.",
                M["dropout_after_linear"],
            )
        if kinds != ["Dropout", "Linear"]:
            fail(
                f"exactly two layers for {call}: an nn.Dropout and an nn.Linear",
                f"layers {kinds}",
                "no other layer: dropout on what the head receives, and the Linear layer that "
                "gives one logit per class.",
                M["not_a_sequential"],
            )
        dropout, linear = layers
        if dropout.p != p:
            fail(
                f"nn.Dropout(p={p})",
                f"nn.Dropout(p={dropout.p})",
                "use the p argument you are given.",
                M["p_ignored"],
            )
        if linear.in_features != in_features:
            fail(
                f"nn.Linear({in_features}, {num_classes}) for {call}",
                f"nn.Linear({linear.in_features}, {linear.out_features})",
                "use the in_features argument; never type a feature size.",
                M["typed_in_features"],
            )
        if linear.out_features != num_classes:
            fail(
                f"nn.Linear({in_features}, {num_classes}) for {call}",
                f"nn.Linear({linear.in_features}, {linear.out_features})",
                "use the num_classes argument: one output per class.",
                M["typed_class_count"],
            )
    checked = " and ".join(f"dropout_head{case}" for case in cases or DROPOUT_CASES)
    correct(f"Dropout on the features, then a Linear layer to logits, for {checked}.")


# --------------------------------------------------------------------------- multiple choice


Q1 = Choice(
    question="which images does a ViT-B/16 accept after its head is replaced?",
    options={
        "A": "ViT's patch and position embeddings read the image; the swap leaves them as they were.",
        "B": (
            "The old head read only the feature vector; the layers that read the image set what size "
            "they take."
        ),
        "C": (
            "nn.Linear maps in_features numbers to out_features numbers; nothing in it refers to an "
            "image size."
        ),
        "D": (
            "The class count is the head's out_features; the first layer's in_channels (3 for RGB) is"
            " the backbone's."
        ),
    },
)


def check_q1(answer: object) -> None:
    """Replacing the head does not change the input size the model accepts.

    Visible check: records the letter; the hidden test scores it.
    """
    record_choice(answer, Q1)


Q2 = Choice(
    question="how much smaller is a ResNet-50 whose 1000-class head becomes a 10-class head?",
    options={
        "A": "The change is (1000 - 10) x (2048 + 1) parameters out of the printed total.",
        "B": "1000 to 10 is the ratio of the heads' outputs; the backbone keeps all its parameters.",
        "C": "The head is one Linear layer, (2048 + 1) x 1000 numbers; the backbone holds the rest.",
        "D": "A head with fewer outputs has fewer weights: 10 x (2048 + 1) against 1000 x (2048 + 1).",
    },
)


def check_q2(answer: object) -> None:
    """Replacing the head barely changes the parameter count.

    Visible check: records the letter; the hidden test scores it.
    """
    record_choice(answer, Q2)


Q3 = Choice(
    question="is each full fine-tuning step of the ResNet-50 faster with a 10-class head?",
    options={
        "A": (
            "Almost all the work of a step is in the backbone, which runs unchanged; the head is one "
            "product."
        ),
        "B": (
            "The parameter count falls by the head's share (Exercise 4), the backbone's work not at "
            "all."
        ),
        "C": (
            "Count the layers: one nn.Linear is replaced by another nn.Linear, so the same layers "
            "run."
        ),
        "D": (
            "nn.Linear is built once, in microseconds; the cost of each training step does not "
            "include it."
        ),
    },
)


def check_q3(answer: object) -> None:
    """Replacing the head does not speed up training by removing layers.

    Visible check: records the letter; the hidden test scores it.
    """
    record_choice(answer, Q3)
