"""Checkers for lesson 5: freeze, then swap, then fine-tune.

Feature extraction trains exactly the new head. The checkers build fresh
models of several families (``_toolkit.build``, random init, no download),
run the student's code on them and compare ``requires_grad`` and the
optimizer's parameters with what the recipe gives. Visible checks already
use two families (a ResNet and a MobileNet), so an answer that only fits
the lesson's ResNet-50 fails before it is submitted; hidden tests use others.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:  # for the annotations only: _accuracy imports training where it is used
    from course_utils.training import DataLike

from course_utils.checks._feedback import (
    Choice,
    Misconception,
    choice_grader,
    correct,
    fail,
    record_choice,
    registry,
)
from course_utils.checks._feedback import grade_choice as _grade_choice
from course_utils.checks._toolkit import (
    build,
    call_student,
    fc_explainer,
    get_module,
    head_path,
    linear_at,
    set_module,
)

MISCONCEPTIONS = registry(
    "lesson5",
    Misconception("head_not_replaced", "head not replaced", "2. The recipe: freeze, then swap"),
    Misconception(
        "typed_in_features",
        "in_features typed, not read from the model",
        "2. The recipe: freeze, then swap",
    ),
    Misconception(
        "wrong_out_features",
        "out_features is not the class count",
        "2. The recipe: freeze, then swap",
    ),
    Misconception(
        "froze_after_replacing",
        "froze after replacing: the new head is frozen too",
        "Slip 1: freezing after replacing",
    ),
    Misconception("not_frozen", "not freezing at all", "Slip 2: not freezing at all"),
    Misconception(
        "partly_frozen", "backbone only partly frozen", "2. The recipe: freeze, then swap"
    ),
    Misconception("not_returned", "the model is not returned", "Exercise 1"),
    Misconception(
        "resnet_only",
        "code that works only for a ResNet (model.fc)",
        "2. The recipe: freeze, then swap",
    ),
    Misconception(
        "count_forgot_bias", "the bias forgotten in the count", "2. The recipe: freeze, then swap"
    ),
    Misconception(
        "count_all_parameters",
        "every parameter of the model counted, as if nothing were frozen",
        "Slip 2: not freezing at all",
    ),
    Misconception(
        "count_typed",
        "a count typed for one model, not computed from the model",
        "2. The recipe: freeze, then swap",
    ),
    Misconception(
        "count_not_from_head",
        "count not computed from this model's head",
        "2. The recipe: freeze, then swap",
    ),
    Misconception("number_as_string", "a number given as a string", "Exercise 2"),
    Misconception("not_an_int", "not a whole number", "Exercise 2"),
    Misconception(
        "optimizer_too_early",
        "optimizer built before the head was replaced",
        "Slip 3: building the optimizer before replacing the head",
    ),
    Misconception(
        "optimizer_misses_head",
        "the optimizer does not hold the new head",
        "Slip 3: building the optimizer before replacing the head",
    ),
    Misconception(
        "frozen_in_optimizer",
        "frozen parameters handed to the optimizer",
        "Slip 3: building the optimizer before replacing the head",
    ),
    Misconception("not_an_optimizer", "no optimizer returned", "Exercise 3"),
    Misconception(
        "wrong_optimizer", "an optimizer of another kind than the recipe's", "Exercise 3"
    ),
    Misconception("wrong_lr", "the learning rate asked for is not used", "Exercise 3"),
    Misconception(
        "requires_grad_protects_all",
        "requires_grad=False taken to freeze buffers too",
        "Slip 4: BatchNorm in train mode",
    ),
    Misconception(
        "eval_stops_learning",
        "eval mode taken to stop gradients",
        "Slip 4: BatchNorm in train mode",
    ),
    Misconception(
        "freezing_resets_stats",
        "freezing taken to reset BatchNorm statistics",
        "Slip 4: BatchNorm in train mode",
    ),
    Misconception(
        "head_does_the_work",
        "the head credited with what the features do",
        "4. Three set-ups, chosen on validation",
    ),
    Misconception(
        "random_memorises",
        "fitting the training images taken for learning the task",
        "4. Three set-ups, chosen on validation",
    ),
    Misconception(
        "random_is_better_start",
        "random initialisation taken as the better start",
        "4. Three set-ups, chosen on validation",
    ),
    Misconception(
        "chose_on_test",
        "set-up chosen on test accuracy instead of validation",
        "4. Three set-ups, chosen on validation",
    ),
    Misconception(
        "cost_ignored",
        "the most accurate set-up taken, not the cheapest within the tolerance",
        "4. Three set-ups, chosen on validation",
    ),
    Misconception(
        "rule_misread",
        "the team's rule not applied to the validation numbers",
        "4. Three set-ups, chosen on validation",
    ),
    Misconception(
        "rates_swapped",
        "backbone and head learning rates swapped",
        "5. Learning rates for fine-tuning",
    ),
    Misconception(
        "one_rate", "one learning rate for every layer", "5. Learning rates for fine-tuning"
    ),
    Misconception(
        "head_in_both_groups",
        "the head put in both parameter groups",
        "5. Learning rates for fine-tuning",
    ),
    Misconception(
        "backbone_left_out",
        "backbone left out of the optimizer (that is feature extraction)",
        "5. Learning rates for fine-tuning",
    ),
    Misconception(
        "count_one_layer_recipe",
        "the one-layer count of section 2 reused for a head of two layers",
        "2. The recipe: freeze, then swap",
    ),
    Misconception(
        "count_one_new_layer",
        "only one of the new layers counted: every newly created layer trains",
        "2. The recipe: freeze, then swap",
    ),
    Misconception(
        "block_still_frozen",
        "the block to fine-tune left frozen",
        "Slip 3: building the optimizer before replacing the head",
    ),
    Misconception(
        "unfroze_too_much",
        "more of the backbone unfrozen than the block asked for",
        "Slip 2: not freezing at all",
    ),
    Misconception(
        "head_refrozen",
        "the head frozen again while the block was unfrozen",
        "Slip 1: freezing after replacing",
    ),
    Misconception(
        "optimizer_before_unfreeze",
        "optimizer built before the block was unfrozen: it cannot update the block",
        "Slip 3: building the optimizer before replacing the head",
    ),
    Misconception(
        "augment_eval_data",
        "augmentation applied to validation or test data",
        "6. Data augmentation for few images",
    ),
    Misconception(
        "augment_changes_label",
        "a transform that can change the label",
        "6. Data augmentation for few images",
    ),
    Misconception(
        "augment_adds_information",
        "augmented copies taken as new independent data",
        "6. Data augmentation for few images",
    ),
)
M = MISCONCEPTIONS
# The hidden tests score multiple choice: checks.grade_choice(answer, checks.Q1, right, A=..., ...).
grade_choice = choice_grader(MISCONCEPTIONS)


def build_model(arch: str, device: str = "cpu") -> nn.Module:
    """A randomly initialised classifier (no download): a torchvision name, or "mlp"."""
    if arch == "mlp":  # a backbone that itself contains nn.Linear layers
        torch.manual_seed(0)
        with torch.device(device):
            return nn.Sequential(
                nn.Flatten(),
                nn.Linear(3 * 8 * 8, 32),
                nn.BatchNorm1d(32),
                nn.ReLU(),
                nn.Linear(32, 10),
            )
    return build(arch, device=device)


def _example(arch: str) -> torch.Tensor:
    size = 8 if arch == "mlp" else 64
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))


_explain_fc = fc_explainer(
    "code that finds the head of any classifier",
    "only ResNets keep their head in model.fc; ask heads.find_head(model) where the "
    "head is (.path) and what it takes (.in_features).",
    M["resnet_only"],
)


def _trainable(model: nn.Module) -> list[str]:
    return [name for name, p in model.named_parameters() if p.requires_grad]


def _swap(model: nn.Module, num_classes: int) -> nn.Module:
    path = head_path(model)
    set_module(model, path, nn.Linear(linear_at(model, path).in_features, num_classes))
    return model


# --- exercise 1: prepare_feature_extractor -------------------------------------------------------


def check_feature_extractor(
    model: nn.Module,
    path: str,
    in_features: int,
    num_classes: int,
    old_head: nn.Module | None = None,
) -> None:
    """Exactly a fresh, trainable ``Linear(in_features, num_classes)`` at ``path`` may train."""
    head = model.get_submodule(path)
    head_names = {f"{path}.{n}" for n, _ in head.named_parameters()}
    trainable = _trainable(model)
    total = sum(1 for _ in model.parameters())
    if head is old_head:
        fail(
            f"a new head at {path!r}",
            "the original head is still there",
            "replace the head after freezing: set a new nn.Linear at the head's place.",
            M["head_not_replaced"],
        )
    if not isinstance(head, nn.Linear):
        fail(
            f"nn.Linear({in_features}, {num_classes}) at {path!r}",
            f"{head}",
            "put one nn.Linear where find_head found the head.",
            M["head_not_replaced"],
        )
    if head.in_features != in_features:
        fail(
            f"nn.Linear({in_features}, {num_classes}) at {path!r}",
            f"in_features={head.in_features} on a model whose features have {in_features}",
            "read in_features from the model (heads.find_head(model).in_features); never type it.",
            M["typed_in_features"],
        )
    if head.out_features != num_classes:
        fail(
            f"nn.Linear({in_features}, {num_classes}) at {path!r}",
            f"out_features={head.out_features}",
            "out_features is the num_classes argument.",
            M["wrong_out_features"],
        )
    if not trainable:
        fail(
            "the new head trainable (requires_grad=True), the backbone frozen",
            "no parameter is trainable: the new head was frozen too, nothing can learn",
            "freeze FIRST, then create the head: a new layer is trainable by default.",
            M["froze_after_replacing"],
        )
    if len(trainable) == total:
        fail(
            "only the head trainable",
            f"all {total} parameter tensors trainable",
            "set requires_grad = False on every existing parameter before the swap.",
            M["not_frozen"],
        )
    extra = [n for n in trainable if n not in head_names]
    if extra:
        fail(
            "only the head trainable",
            f"backbone parameters still trainable, e.g. {extra[:3]}",
            "loop over model.parameters() (all of them), not over some layers.",
            M["partly_frozen"],
        )
    missing = sorted(head_names - set(trainable))
    if missing:
        fail(
            "every head parameter trainable",
            f"frozen head parameters {missing}",
            "do not freeze the new head; it is trainable when created.",
            M["froze_after_replacing"],
        )


def _prepare_one(
    prepare: Callable[[nn.Module, int], nn.Module], arch: str, num_classes: int
) -> int:
    model = build_model(arch)
    path = head_path(model)
    old_head = linear_at(model, path)
    in_features = old_head.in_features
    result = call_student(
        prepare,
        model,
        num_classes,
        explain=_explain_fc,
        what=f"prepare_feature_extractor({arch}, {num_classes})",
    )
    if not isinstance(result, nn.Module):
        shows = "None" if result is None else f"a {type(result).__name__}"
        fail("the model, returned", shows, "end the function with return model.", M["not_returned"])
    if result is not model:
        fail(
            "the same model, changed in place and returned",
            f"a different {type(result).__name__}",
            "change the model you were given and return it.",
            M["not_returned"],
        )
    check_feature_extractor(result, path, in_features, num_classes, old_head)
    with torch.no_grad():
        out = result.eval()(_example(arch))
    if tuple(out.shape) != (2, num_classes):
        fail(
            f"output shape (2, {num_classes})",
            f"{tuple(out.shape)}",
            "one score per class for each image.",
            M["head_not_replaced"],
        )
    return sum(p.numel() for p in result.parameters() if p.requires_grad)


def check_prepare_feature_extractor(
    prepare: Callable[[nn.Module, int], nn.Module],
    arch: str | None = None,
    num_classes: int = 15,
) -> None:
    """``prepare(model, num_classes)`` must freeze the backbone and give a trainable new head.

    Without ``arch``: the visible check, on a ResNet-50 (15 classes) and a
    MobileNetV3-Small (3 classes, head at ``classifier.3``).
    """
    cases = [(arch, num_classes)] if arch else [("resnet50", 15), ("mobilenet_v3_small", 3)]
    done = [f"{a} ({n} classes): {_prepare_one(prepare, a, n):,} trainable" for a, n in cases]
    correct(f"only the new head trains on {' and on '.join(done)}.")


# --- exercise 2: the trainable count under a two-layer head --------------------------------


def expected_hidden_layer_count(arch: str, hidden: int, num_classes: int) -> int:
    """Trainable parameters after freezing ``arch`` and putting Linear-ReLU-Linear at its head."""
    model = build_model(arch, device="meta")
    model.requires_grad_(False)
    path = head_path(model)
    in_features = linear_at(model, path).in_features
    with torch.device("meta"):
        set_module(
            model,
            path,
            nn.Sequential(
                nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes)
            ),
        )
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _as_count(got: object) -> int:
    """The student's count as an int, or a failure that names the form it came in."""
    if isinstance(got, torch.Tensor) and got.numel() == 1 and not got.is_floating_point():
        got = got.item()
    if isinstance(got, str):
        fail(
            "a number (int)",
            f"the string {got!r}",
            "give a number, not a string: return the int itself, without quotes or formatting.",
            M["number_as_string"],
        )
    if type(got).__module__ == "numpy" and hasattr(got, "item"):
        got = got.item()
    if isinstance(got, float) and got.is_integer():
        got = int(got)
    if isinstance(got, bool) or not isinstance(got, int):
        fail(
            "a whole number (int)",
            f"a {type(got).__name__}: {got!r:.60}",
            "return an int, e.g. int(...).",
            M["not_an_int"],
        )
    return got


def _hidden_one(
    count: Callable[[nn.Module, int, int], int], arch: str, hidden: int, num_classes: int
) -> int:
    model = build_model(arch, device="meta")
    head = linear_at(model, head_path(model))
    total = sum(p.numel() for p in model.parameters())
    got = _as_count(
        call_student(
            count,
            model,
            hidden,
            num_classes,
            explain=_explain_fc,
            what=f"the count for {arch} with {hidden} hidden units and {num_classes} classes",
        )
    )
    want = expected_hidden_layer_count(arch, hidden, num_classes)
    if got == want:
        return want
    i, h, n = head.in_features, hidden, num_classes
    guesses = {
        i * n + n: (
            "in_features x classes + classes: the count of ONE new nn.Linear, as in section 2",
            M["count_one_layer_recipe"],
        ),
        h * n + n: ("the second new layer only", M["count_one_new_layer"]),
        i * h + h: ("the first new layer only", M["count_one_new_layer"]),
        i * h + h * n: ("the weights of both layers, without their biases", M["count_forgot_bias"]),
        total: (
            "every parameter of the original model, as if nothing were frozen",
            M["count_all_parameters"],
        ),
        total - i * head.out_features - head.out_features + want: (
            "every parameter, the frozen backbone included",
            M["count_all_parameters"],
        ),
    }
    shows, name = guesses.get(
        got, ("a count that matches no part of this model", M["count_not_from_head"])
    )
    fail(
        f"{want:,} for {arch} with {hidden} hidden units and {num_classes} classes",
        f"{got:,}: {shows}",
        "every newly created layer trains (nn.ReLU has no parameters); count weights and "
        "biases of both, with in_features read from the model.",
        name,
    )
    return want  # not reached


def check_hidden_layer_count(
    count: Callable[[nn.Module, int, int], int],
    arch: str | None = None,
    hidden: int = 128,
    num_classes: int = 7,
) -> None:
    """``count(model, hidden, num_classes)``: what trains after freeze-then-swap with a
    Linear-ReLU-Linear head.

    Without ``arch``: the visible check, on an EfficientNet-B0 (128 hidden units, 7 classes)
    and a MobileNetV3-Small (64, 3), so a number typed for one of them fails here.
    """
    cases = (
        [(arch, hidden, num_classes)]
        if arch
        else [("efficientnet_b0", 128, 7), ("mobilenet_v3_small", 64, 3)]
    )
    seen: list[int] = []
    for a, h, n in cases:
        try:
            seen.append(_hidden_one(count, a, h, n))
        except AssertionError as err:
            if seen and getattr(err, "misconception_id", None) == M["count_not_from_head"].id:
                got = call_student(count, build_model(a, device="meta"), h, n, what="the count")
                if got == seen[0]:
                    fail(
                        f"{expected_hidden_layer_count(a, h, n):,} for {a} with {h} hidden "
                        f"units and {n} classes",
                        f"{got:,} again, the count of {cases[0][0]}: the number does not "
                        "follow the model",
                        "compute the count from the model's head; never type it.",
                        M["count_typed"],
                    )
            raise
    words = [
        f"{a} ({h} hidden, {n} classes): {want:,}"
        for (a, h, n), want in zip(cases, seen, strict=True)
    ]
    correct(f"trainable parameters right for {' and for '.join(words)}.")


# --- exercise 3: unfreeze one more block, then rebuild the optimizer -----------------------


def _explain_block(exc: Exception) -> tuple[str, str, Misconception] | None:
    if isinstance(exc, AttributeError) and "has no attribute" in str(exc):
        return (
            "code that finds the block by its path, on any classifier",
            "only ResNets have model.layer4: use heads.get_module(model, block).",
            M["resnet_only"],
        )
    return None


def _unfreeze_one(
    unfreeze: Callable[[nn.Module, str, float], torch.optim.Optimizer],
    arch: str,
    block: str,
    lr: float,
) -> str:
    model = _swap(build_model(arch, device="meta").requires_grad_(False), 5)
    path = head_path(model)
    head = {id(p) for p in get_module(model, path).parameters()}
    in_block = {id(p) for p in get_module(model, block).parameters()}
    if not in_block:
        raise ValueError(f"{arch} has no parameters under {block!r}: pick another block")
    optimizer = call_student(
        unfreeze,
        model,
        block,
        lr,
        explain=lambda exc: _explain_fc(exc) or _explain_block(exc),
        what=f"unfreeze_block({arch}, {block!r}, lr={lr})",
    )
    if not isinstance(optimizer, torch.optim.Optimizer):
        shows = "None" if optimizer is None else f"a {type(optimizer).__name__}"
        fail("a torch.optim.SGD", shows, "return the optimizer you built.", M["not_an_optimizer"])
    if type(optimizer) is not torch.optim.SGD:
        fail(
            "a torch.optim.SGD, as the exercise asks",
            f"a {type(optimizer).__name__}",
            "the exercise asks for torch.optim.SGD; another optimizer has other update rules.",
            M["wrong_optimizer"],
        )
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    held = {id(p) for g in optimizer.param_groups for p in g["params"]}
    names = {id(p): n for n, p in model.named_parameters()}
    if not in_block <= trainable:
        fail(
            f"every parameter of {block!r} trainable",
            f"{len(in_block - trainable)} of its {len(in_block)} tensors still frozen",
            f"set requires_grad = True on heads.get_module(model, {block!r}).parameters().",
            M["block_still_frozen"],
        )
    extra = trainable - in_block - head
    if extra:
        fail(
            f"only {block!r} and the head trainable",
            f"{len(extra)} other backbone tensors trainable too, e.g. "
            f"{sorted(names[i] for i in extra)[:2]}",
            "unfreeze the parameters of that one block only.",
            M["unfroze_too_much"],
        )
    if not head <= trainable:
        fail(
            f"the head at {path!r} still trainable",
            "the head is frozen",
            "unfreezing the block must not freeze what already trained.",
            M["head_refrozen"],
        )
    if held - set(names):
        fail(
            "the optimizer holds this model's parameters",
            f"{len(held - set(names))} parameter tensors that are not in the model",
            "build the optimizer from the model you were given.",
            M["optimizer_too_early"],
        )
    if head <= held and not in_block & held:
        fail(
            f"the optimizer holds the head and {block!r}",
            "the head only: it was built before the block was unfrozen",
            "an optimizer holds the parameters that train when it is built: unfreeze first, "
            "then build it.",
            M["optimizer_before_unfreeze"],
        )
    if not (head | in_block) <= held:
        fail(
            f"the optimizer holds the head and {block!r}",
            f"{len((head | in_block) - held)} of their tensors missing",
            "build it from every parameter that trains.",
            M["optimizer_misses_head"],
        )
    if held != trainable:
        fail(
            "exactly the trainable parameters",
            f"{len(held - trainable)} frozen parameter tensors handed to the optimizer too",
            "keep only parameters with requires_grad=True.",
            M["frozen_in_optimizer"],
        )
    if any(g["lr"] != lr for g in optimizer.param_groups):
        fail(
            f"learning rate {lr}",
            f"{[g['lr'] for g in optimizer.param_groups]}",
            "pass lr=lr to the optimizer.",
            M["wrong_lr"],
        )
    return f"{arch} ({block!r} and the head: {len(held)} tensors)"


def check_unfreeze_block(
    unfreeze: Callable[[nn.Module, str, float], torch.optim.Optimizer],
    arch: str | None = None,
    block: str = "layer4",
    lr: float = 0.01,
) -> None:
    """``unfreeze(model, block, lr)`` on a feature extractor: the block trains too, and the
    returned SGD holds exactly what trains.

    Without ``arch``: the visible check, on a ResNet-18 (``layer4``) and a MobileNetV3-Small
    (``features.12``).
    """
    cases = (
        [(arch, block)] if arch else [("resnet18", "layer4"), ("mobilenet_v3_small", "features.12")]
    )
    done = [_unfreeze_one(unfreeze, a, b, lr) for a, b in cases]
    correct(
        f"the block and the head train, and the optimizer holds exactly them on {' and on '.join(done)}."
    )


# --- multiple choice: BatchNorm --------------------------------------------------------------


Q1 = Choice(
    question="what happens to a frozen backbone's BatchNorm in train mode",
    options={
        "A": (
            "requires_grad=False stops gradients; BatchNorm's running_mean and running_var are "
            "buffers, updated in train mode without any gradient."
        ),
        "B": (
            "In train mode BatchNorm normalises each batch with its own statistics and moves "
            "running_mean and running_var, gradient or not."
        ),
        "C": (
            "The mode changes how BatchNorm and Dropout compute; gradients flow in eval mode, as "
            "fine_tune(mode='head') shows."
        ),
        "D": (
            "Freezing sets requires_grad on parameters; it leaves the buffers running_mean and "
            "running_var as they are."
        ),
    },
)


def check_batchnorm(answer: object) -> None:
    """Q: a frozen backbone trained with model.train(): what happens to BatchNorm?

    Visible check: records the letter; the hidden test scores it.
    """
    record_choice(answer, Q1)


# --- choosing a set-up on validation ---------------------------------------------------------

# Training cost of each set-up, in rank order: the head alone trains on features computed once;
# full fine-tuning runs the whole network forwards and backwards every epoch.
SETUP_COST = {"head": 1, "random": 1, "full": 2}
SETUP_LETTERS = {"head": "A", "full": "B", "random": "C"}


def choose_setup(results: Mapping[str, float], tolerance: float = 0.05) -> str:
    """The cheapest set-up whose accuracy is within ``tolerance`` of the best (ties: accuracy)."""
    if set(results) != set(SETUP_LETTERS):
        raise ValueError(f"results must have keys {sorted(SETUP_LETTERS)}, got {sorted(results)}")
    best = max(results.values())
    close = [k for k in results if results[k] >= best - tolerance]
    return min(close, key=lambda k: (SETUP_COST[k], -results[k]))


def _accuracy(model: nn.Module, data: DataLike) -> float:
    from course_utils import training

    labels, predictions, _ = training.evaluate(model, data)
    return float((labels == predictions).mean())


Q3 = Choice(
    question="the cheapest set-up within 0.05 of the best validation accuracy",
    options={
        "A": "Feature extraction trains the head only (the cheaper cost); its val acc is in the table.",
        "B": "Full fine-tuning trains every layer (the higher cost); its val acc is in the table.",
        "C": "The random backbone trains the head only (the cheaper cost); its val acc is in the table.",
        "D": "Equivalent would need every val acc within 0.05 of the best and the same cost.",
    },
)


def check_setup_choice(answer: object) -> None:
    """Q: the cheapest set-up within the tolerance of the best VALIDATION accuracy.

    Visible check: records the letter; ``grade_setup_choice`` (hidden test) scores it.
    """
    record_choice(answer, Q3)


def grade_setup_choice(
    answer: object,
    val_results: Mapping[str, float],
    right: str,
    tolerance: float = 0.05,
    *,
    test_results: Mapping[str, float] | None = None,
    models: Mapping[str, nn.Module] | None = None,
    test: DataLike | None = None,
) -> None:
    """Hidden test: score ``answer`` against ``right`` and explain every option with the numbers.

    ``val_results`` maps "head", "full" and "random" to validation accuracy;
    options: A = feature extraction, B = full fine-tuning, C = random-init
    backbone, D = "they are equivalent". With ``test_results`` (or ``models``
    and ``test``, measured here, never printed), a wrong letter that the rule
    would pick on TEST accuracy is named as choosing on test.
    """
    if test_results is None and models is not None and test is not None:
        test_results = {k: _accuracy(models[k], test) for k in SETUP_LETTERS}
    pick = {v: k for k, v in SETUP_LETTERS.items()}.get(right)
    on_test = choose_setup(test_results, tolerance) if test_results is not None else pick
    best = max(val_results.values())
    acc = {k: f"{v:.3f}" for k, v in val_results.items()}
    cost = {1: "head only", 2: "every layer"}
    explained: dict[str, str] = {}
    wrong: dict[str, Misconception] = {}
    for k, letter in SETUP_LETTERS.items():
        within = val_results[k] >= best - tolerance
        explained[letter] = (
            f"{k}: val acc {acc[k]}, {'within' if within else 'more than'} {tolerance} "
            f"{'of' if within else 'below'} the best ({best:.3f}); trains {cost[SETUP_COST[k]]}."
        )
        if letter == right:
            continue
        if k == on_test:
            wrong[letter] = M["chose_on_test"]
        elif within:
            wrong[letter] = M["cost_ignored"]
        else:
            wrong[letter] = M["rule_misread"]
    spread = max(val_results.values()) - min(val_results.values())
    explained["D"] = f"the set-ups are {spread:.3f} apart in validation accuracy."
    if right != "D":
        wrong["D"] = M["rule_misread"]
    choice = Choice(
        question=f"the cheapest set-up within {tolerance} of the best validation accuracy",
        options=dict(sorted(explained.items())),
    )
    _grade_choice(answer, choice, right, wrong)


Q2 = Choice(
    question="what the random-init backbone's result shows",
    options={
        "A": (
            "The head and its training were the same in both runs; only the backbone's weights "
            "differed."
        ),
        "B": (
            "Fitting every training image while validation stays at chance level is memorising, not "
            "learning the task."
        ),
        "C": "Same head, same training, recalibrated BatchNorm: only the backbone's weights differ.",
        "D": (
            "The pretrained backbone never saw a flower; compare the two runs' validation accuracy "
            "and spread."
        ),
    },
)


def check_random_init(answer: object) -> None:
    """Q: what the random-init backbone's result shows.

    Visible check: records the letter; the hidden test scores it.
    """
    record_choice(answer, Q2)


# --- exercise: two learning rates --------------------------------------------------------------


def _explain_groups(exc: Exception) -> tuple[str, str, Misconception] | None:
    if isinstance(exc, ValueError) and "more than one parameter group" in str(exc):
        return (
            "two parameter groups that share no parameter: the backbone's and the head's",
            "select the backbone's parameters as those NOT in the head.",
            M["head_in_both_groups"],
        )
    return None


def _rates_one(
    make: Callable[[nn.Module, float, float], torch.optim.Optimizer],
    arch: str,
    num_classes: int,
    lr: float,
    factor: float,
) -> str:
    model = _swap(build_model(arch, device="meta"), num_classes)  # full fine-tuning: all train
    optimizer = call_student(
        make,
        model,
        lr,
        factor,
        explain=lambda e: _explain_groups(e) or _explain_fc(e),
        what=f"two_rate_optimizer({arch}, lr={lr}, backbone_factor={factor})",
    )
    if not isinstance(optimizer, torch.optim.Optimizer):
        shows = "None" if optimizer is None else f"a {type(optimizer).__name__}"
        fail(
            "a torch.optim optimizer",
            shows,
            "return the optimizer you built.",
            M["not_an_optimizer"],
        )
    if type(optimizer) is not torch.optim.AdamW:
        fail(
            "a torch.optim.AdamW, as the exercise asks",
            f"a {type(optimizer).__name__}",
            "the recipe is AdamW (decoupled weight decay); Adam, SGD and the others update "
            "differently, whatever the groups' rates.",
            M["wrong_optimizer"],
        )
    rate = {id(p): g["lr"] for g in optimizer.param_groups for p in g["params"]}
    path = head_path(model)
    head = {id(p) for p in get_module(model, path).parameters()}
    backbone = {id(p) for p in model.parameters()} - head
    stale = set(rate) - head - backbone
    if stale:
        fail(
            "the optimizer holds this model's parameters",
            f"{len(stale)} parameter tensors that are not in the model",
            "build the optimizer from the model you were given.",
            M["optimizer_too_early"],
        )
    if not head <= set(rate):
        fail(
            f"the head at {path!r} in the optimizer",
            "the head is missing",
            "one group for the backbone, one for the head.",
            M["optimizer_misses_head"],
        )
    if not backbone <= set(rate):
        fail(
            "every backbone parameter in the optimizer (full fine-tuning)",
            f"{len(backbone - set(rate))} backbone tensors left out",
            "the backbone trains too, only more slowly.",
            M["backbone_left_out"],
        )
    head_rates = {rate[i] for i in head}
    backbone_rates = {rate[i] for i in backbone}
    want_b = lr * factor
    if head_rates == {want_b} and backbone_rates == {lr}:
        fail(
            f"head at lr={lr:g}, backbone at lr*backbone_factor={want_b:g}",
            f"head at {want_b:g}, backbone at {lr:g}",
            "the pretrained backbone gets the SMALLER rate, the new head the full one.",
            M["rates_swapped"],
        )
    if len(head_rates | backbone_rates) == 1:
        fail(
            f"head at lr={lr:g}, backbone at lr*backbone_factor={want_b:g}",
            f"every parameter at {next(iter(head_rates)):g}",
            "make two parameter groups, each with its own 'lr'.",
            M["one_rate"],
        )
    if head_rates != {lr} or backbone_rates != {want_b}:
        fail(
            f"head at lr={lr:g}, backbone at lr*backbone_factor={want_b:g}",
            f"head at {sorted(head_rates)}, backbone at {sorted(backbone_rates)}",
            "use lr and backbone_factor as given; never type a rate.",
            M["wrong_lr"],
        )
    return f"{arch} (head {path!r})"


def check_two_rate_optimizer(
    make: Callable[[nn.Module, float, float], torch.optim.Optimizer],
    arch: str | None = None,
    num_classes: int = 5,
    lr: float = 1e-3,
    factor: float = 0.1,
) -> None:
    """``make(model, lr, backbone_factor)``: head at ``lr``, every other parameter at ``lr*factor``.

    Without ``arch``: the visible check, on a ResNet-18 and a MobileNetV3-Small.
    """
    cases = [arch] if arch else ["resnet18", "mobilenet_v3_small"]
    done = [_rates_one(make, a, num_classes, lr, factor) for a in cases]
    correct(f"head at lr={lr:g}, backbone at {lr * factor:g} on {' and on '.join(done)}.")


# --- multiple choice: augmentation -------------------------------------------------------------


Q4 = Choice(
    question="where the augmentation pipeline belongs",
    options={
        "A": (
            "Validation and test measure the model on images as they will come; random transforms "
            "change that exam."
        ),
        "B": (
            "A transform that keeps the label true, on training images only, leaves the exam "
            "(validation, test) as it is."
        ),
        "C": (
            "The flowers are told apart by their petals; a crop that cuts petals off can change what "
            "the label should be."
        ),
        "D": "Copies are the same flowers seen differently: they teach invariance, not new flowers.",
    },
)


def check_augmentation(answer: object) -> None:
    """Q: where the augmentation pipeline belongs, and what it does.

    Visible check: records the letter; the hidden test scores it.
    """
    record_choice(answer, Q4)
