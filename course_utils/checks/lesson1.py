"""Checkers for lesson 1: what the head is for.

A classifier is a backbone (image -> feature vector) followed by a head
(feature vector -> one score per class). The checkers run the student's code
on several models, so an answer that only fits the lesson's ResNet-18 fails.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from course_utils.checks._feedback import call_student as _run
from course_utils.checks._feedback import check_choice, correct, fail

ModelCase = nn.Module | tuple[nn.Module, torch.Tensor]


def _example_input(model: nn.Module, batch: int = 2, size: int = 32) -> torch.Tensor:
    """A seeded batch of images on the model's device (meta stays meta: shapes only)."""
    device = next(model.parameters()).device
    if device.type == "meta":
        return torch.empty(batch, 3, size, size, device="meta")
    generator = torch.Generator().manual_seed(0)
    return torch.randn(batch, 3, size, size, generator=generator).to(device)


def _cases(models: Sequence[ModelCase], default: Callable[[], nn.Module]) -> list:
    items = list(models) or [default()]
    cases = []
    for item in items:
        model, x = item if isinstance(item, tuple) else (item, None)
        if not isinstance(model, nn.Module):
            raise TypeError(f"checker cases must be nn.Module or (module, input), got {item!r}")
        cases.append((model, _example_input(model) if x is None else x))
    return cases


def _last_linear(model: nn.Module) -> tuple[str, nn.Linear]:
    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer: no head to check")
    return linears[-1]



def _forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(x)


def _same_values(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.device.type == "meta" or b.device.type == "meta":
        return a.shape == b.shape
    return a.shape == b.shape and torch.allclose(a, b, atol=1e-5, rtol=1e-4)


def _identical(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.device.type == "meta" or b.device.type == "meta":
        return a.shape == b.shape
    return torch.equal(a, b)


def _default_resnet() -> nn.Module:
    import torchvision

    torch.manual_seed(0)
    return torchvision.models.resnet18(num_classes=24).eval()


# --------------------------------------------------------------------------- exercise 1


def check_split_model(split_model: Callable, *models: ModelCase) -> None:
    """``split_model(model) -> (backbone, head)``: head(backbone(x)) reproduces model(x).

    The head is the model's last ``nn.Linear`` (the very module, not a copy),
    the backbone returns one flat feature vector per image (``head.in_features``
    numbers), and ``model`` itself is left unchanged.
    """
    if not callable(split_model):
        fail("a function split_model(model)", f"{split_model!r}", "define it with def.",
             "not a function")
    for model, x in _cases(models, _default_resnet):
        name = type(model).__name__
        head_name, true_head = _last_linear(model)
        expected = _forward(model, x)
        result = _run(split_model, model, what=f"split_model on a {name}")
        if not (isinstance(result, tuple) and len(result) == 2
                and all(isinstance(m, nn.Module) for m in result)):
            fail("a pair (backbone, head) of nn.Module objects",
                 f"{type(result).__name__}: {result!r:.120}",
                 "end with: return backbone, head", "wrong return type")
        backbone, head = result
        if head is not true_head:
            linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
            if any(head is m for _, m in linears):
                found = next(n for n, m in linears if head is m)
                fail(f"the head of this {name}: its last nn.Linear, model.{head_name}",
                     f"you returned model.{found}, an earlier Linear layer",
                     "a model may hold several Linear layers; the head is the one that "
                     "produces the class scores, at the very end.",
                     "an earlier Linear, not the head")
            fail(f"the head of this {name}: the module model.{head_name} itself",
                 f"head = {head!r:.120}",
                 "return the module object you found in model.named_modules(); the checker "
                 "compares identity, so a new layer or a copy does not count.", "wrong head")
        if not _same_values(_forward(model, x), expected):
            fail(f"model unchanged after split_model (still {tuple(expected.shape)} scores)",
                 "model now gives different outputs: you changed it in place",
                 "work on copy.deepcopy(model) and replace the head in the copy.",
                 "modified the model in place")
        features = _run(_forward, backbone, x, what=f"backbone(x) for a {name}")
        # Exact torch.Tensor only: a subclass could redefine the comparisons below.
        if type(features) is not torch.Tensor:
            fail("backbone(x) to return a plain torch.Tensor", f"{type(features).__name__}",
                 "the backbone must be a module whose forward returns features.",
                 "wrong backbone")
        want = (x.shape[0], true_head.in_features)
        if tuple(features.shape) == tuple(expected.shape):
            fail(f"features of shape {want} (batch, head.in_features)",
                 f"shape {tuple(features.shape)}: the class scores, so the backbone still "
                 "contains the head", "inside the backbone copy, swap the head for nn.Identity().",
                 "backbone still contains the head")
        if features.ndim == 4 and tuple(features.shape[:2]) == want:
            fail(f"features of shape {want}: one flat vector per image",
                 f"shape {tuple(features.shape)}: the pooled maps were never flattened",
                 "nn.Sequential(*model.children()) loses the torch.flatten of the model's "
                 "forward; keep the model and replace only its head.", "features not flattened")
        if tuple(features.shape) != want:
            fail(f"features of shape {want} (batch, head.in_features)",
                 f"shape {tuple(features.shape)}", "the backbone is everything but the head.",
                 "wrong backbone")
        if not _same_values(_forward(head, features), expected):
            fail("head(backbone(x)) equal to model(x)",
                 "different scores: the backbone skips or repeats some layer",
                 "keep every layer but the head in the backbone, in its original order.",
                 "backbone and head do not make the model")
    correct("backbone -> features, head -> one score per class, and the model is untouched.")


# --------------------------------------------------------------------------- exercise 2


def check_adapt_head(
    adapt_head: Callable,
    *models: ModelCase,
    class_names: Sequence[str] = ("trillium", "clover", "primrose", "lily", "daisy"),
) -> None:
    """``adapt_head(model, class_names)``: one output per class, same pretrained backbone."""
    if not callable(adapt_head):
        fail("a function adapt_head(model, class_names)", f"{adapt_head!r}", "define it with def.",
             "not a function")
    classes = list(class_names)
    for model, x in _cases(models, _default_resnet):
        old_fc, in_features = model.fc, model.fc.in_features
        backbone = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("fc.")}
        # New layers land on the model's device, as they would in the student's own session.
        with torch.device(next(model.parameters()).device):
            result = _run(adapt_head, model, list(classes), what="adapt_head(model, class_names)")
        if not isinstance(result, nn.Module):
            fail("the adapted model (an nn.Module)", f"{type(result).__name__}: {result!r:.80}",
                 "end the function with: return model", "wrong return type")
        fc = getattr(result, "fc", None)
        if fc is old_fc:
            fail(f"a new head in model.fc with {len(classes)} outputs",
                 f"model.fc is still the old head ({old_fc})",
                 "assign a new nn.Linear to model.fc inside the function.", "head not replaced")
        if not isinstance(fc, nn.Linear):
            fail("model.fc to be an nn.Linear layer", f"model.fc is {fc!r:.80}",
                 "a ResNet keeps its head in model.fc; assign a new nn.Linear to it.",
                 "head not replaced")
        if fc.out_features != len(classes):
            guess = " (1000 is ImageNet's count)" if fc.out_features == 1000 else ""
            fail(f"{len(classes)} outputs, one per class name in {classes}",
                 f"model.fc.out_features = {fc.out_features}{guess}",
                 "count the class names you are given; do not type a number.",
                 "hard-coded the class count")
        if fc.in_features != in_features:
            fail(f"in_features = {in_features}, the size of the feature vector this backbone gives",
                 f"in_features = {fc.in_features}",
                 "read it from the old head before you replace it: model.fc.in_features.",
                 "hard-coded the feature size")
        state = result.state_dict()
        kept = all(k in state and _identical(state[k], v) for k, v in backbone.items())
        if not kept:
            fail("the pretrained backbone kept as it was",
                 "the backbone's weights changed: you built a new model, which throws away "
                 "what pretraining learned", "start from the model you are given and replace "
                 "model.fc only.", "rebuilt the model instead of swapping the head")
        out = _run(_forward, result, x, what=f"the adapted model on an input {tuple(x.shape)}")
        if tuple(out.shape) != (x.shape[0], len(classes)):
            fail(f"output of shape {(x.shape[0], len(classes))} on the same input as before",
                 f"shape {tuple(out.shape)}", "only the head should change.", "wrong output")
    correct("a new head with one output per class, on top of the same pretrained backbone.")


# --------------------------------------------------------------------------- multiple choice


def check_q1(answer: object) -> None:
    """Replacing the head does not change the input size the model accepts."""
    check_choice(
        answer,
        "B",
        {
            "A": "tempting, because the head is 'the model's size', but the head only ever sees "
            "the feature vector; the layers that read the image are untouched "
            "[replacing the head changes the input size]",
            "C": "nn.Linear knows nothing about image size: it maps in_features numbers to "
            "out_features numbers [replacing the head changes the input size]",
            "D": "the number of classes is the number of outputs, not of input channels; "
            "the first convolution still expects 3 channels",
        },
        question="which inputs does the model accept after its head is replaced?",
        confirmation="the backbone reads the image, and it did not change: same inputs as before.",
    )


def check_q2(answer: object) -> None:
    """Replacing the head barely changes the parameter count."""
    check_choice(
        answer,
        "C",
        {
            "A": "the head is one Linear layer; almost all parameters live in the backbone "
            "[it makes the model much smaller]",
            "B": "5/24 is the ratio of the heads' outputs, not of the models: the backbone, "
            "which does not change, holds nearly every parameter [it makes the model much smaller]",
            "D": "fewer classes means fewer head parameters, so the model cannot grow here",
        },
        question="how much smaller is the model after a 24-class head becomes a 5-class head?",
        confirmation="the parameter count changes by a small fraction of a percent.",
    )


def check_q3(answer: object) -> None:
    """Replacing the head does not speed up training by removing layers."""
    check_choice(
        answer,
        "C",
        {
            "A": "no layer is removed: the old head is replaced by a new one of the same kind, "
            "so the forward pass runs the same layers [it speeds up training because layers "
            "are removed]",
            "B": "the parameter count barely moves (you measured it), so the work per image "
            "barely moves either [it speeds up training]",
            "D": "building a Linear layer takes microseconds once; it does not slow each step",
        },
        question="does replacing the head by itself make training faster?",
        confirmation="same layers, same cost; freezing the backbone (lesson 5) is what saves work.",
    )
