"""Checkers for lesson 5: freeze, then swap, then fine-tune.

Feature extraction trains exactly the new head. The checkers build fresh
models of several families, run the student's code on them and compare
``requires_grad`` and the optimizer's parameters with what the recipe gives,
so an answer that only fits the lesson's ResNet-50 fails the hidden tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
import torchvision
from torch import nn

from course_utils.checks._feedback import call_student as _call
from course_utils.checks._feedback import check_choice, correct, fail


def build_model(arch: str) -> nn.Module:
    """A randomly initialised classifier (no download): a torchvision name, or "mlp"."""
    torch.manual_seed(0)
    if arch == "mlp":  # a backbone that itself contains nn.Linear layers
        return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 32), nn.BatchNorm1d(32), nn.ReLU(),
                             nn.Linear(32, 10))
    return torchvision.models.get_model(arch, weights=None)


def head_path(model: nn.Module) -> str:
    """The dotted path of the last ``nn.Linear``: the head of every model built here."""
    return [name for name, m in model.named_modules() if isinstance(m, nn.Linear)][-1]


def _example(arch: str) -> torch.Tensor:
    size = 8 if arch == "mlp" else 64
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))



def _trainable(model: nn.Module) -> list[str]:
    return [name for name, p in model.named_parameters() if p.requires_grad]


# --- exercise: prepare_feature_extractor ---------------------------------------------------------


def check_feature_extractor(model: nn.Module, path: str, in_features: int, num_classes: int,
                            old_head: nn.Module | None = None) -> None:
    """Exactly a fresh, trainable ``Linear(in_features, num_classes)`` at ``path`` may train."""
    head = model.get_submodule(path)
    head_names = {f"{path}.{n}" for n, _ in head.named_parameters()}
    trainable = _trainable(model)
    total = sum(1 for _ in model.parameters())
    if head is old_head:
        fail(f"a new head at {path!r}", "the original head is still there",
             "replace the head after freezing: set a new nn.Linear at the head's place.",
             "head not replaced")
    if not isinstance(head, nn.Linear) or (head.in_features, head.out_features) != (
        in_features, num_classes
    ):
        fail(f"nn.Linear({in_features}, {num_classes}) at {path!r}", f"{head}",
             "in_features comes from the model (never typed), out_features is the class count.",
             "wrong head shape")
    if not trainable:
        fail("the new head trainable (requires_grad=True), the backbone frozen",
             "no parameter is trainable: the new head was frozen too, nothing can learn",
             "freeze FIRST, then create the head: a new layer is trainable by default.",
             "froze after replacing")
    if len(trainable) == total:
        fail("only the head trainable", f"all {total} parameter tensors trainable",
             "set requires_grad = False on every existing parameter before the swap.",
             "not freezing at all")
    extra = [n for n in trainable if n not in head_names]
    if extra:
        fail("only the head trainable", f"backbone parameters still trainable, e.g. {extra[:3]}",
             "loop over model.parameters() (all of them), not over some layers.",
             "backbone partly frozen")
    missing = sorted(head_names - set(trainable))
    if missing:
        fail("every head parameter trainable", f"frozen head parameters {missing}",
             "do not freeze the new head; it is trainable when created.", "froze after replacing")


def check_prepare_feature_extractor(
    prepare: Callable[[nn.Module, int], nn.Module], arch: str = "resnet50", num_classes: int = 15
) -> None:
    """``prepare(model, num_classes)`` must freeze the backbone and give a trainable new head."""
    model = build_model(arch)
    path = head_path(model)
    old_head = model.get_submodule(path)
    in_features = old_head.in_features
    result = _call(prepare, model, num_classes, what=f"prepare_feature_extractor({arch})")
    if not isinstance(result, nn.Module):
        shows = "None" if result is None else f"a {type(result).__name__}"
        fail("the model, returned", shows, "end the function with return model.",
             "nothing returned")
    if result is not model and head_path(result) != path:
        fail("the same model, changed in place and returned",
             f"a different {type(result).__name__}",
             "change the model you were given and return it.", "wrong return value")
    check_feature_extractor(result, path, in_features, num_classes, old_head)
    with torch.no_grad():
        out = result.eval()(_example(arch))
    if tuple(out.shape) != (2, num_classes):
        fail(f"output shape (2, {num_classes})", f"{tuple(out.shape)}",
             "one score per class for each image.", "wrong output shape")
    n = sum(p.numel() for p in result.parameters() if p.requires_grad)
    correct(f"{arch}: only the new head trains ({n:,} parameters).")


# --- exercise: the trainable count, computed -----------------------------------------------------


def expected_trainable(arch: str, num_classes: int) -> int:
    """Trainable parameters after freeze-then-swap, counted on the model (meta device)."""
    with torch.device("meta"):  # shapes only: instant for any size of model
        model = build_model(arch)
        for p in model.parameters():
            p.requires_grad = False
        path = head_path(model)
        in_features = model.get_submodule(path).in_features
        parent, _, child = path.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, child,
                nn.Linear(in_features, num_classes))
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def check_trainable_after_swap(
    count: Callable[[nn.Module, int], int], arch: str = "resnet50", num_classes: int = 15
) -> None:
    """``count(model, num_classes)`` must predict the trainable parameters after the recipe."""
    with torch.device("meta"):
        model = build_model(arch)
    head = model.get_submodule(head_path(model))
    total = sum(p.numel() for p in model.parameters())
    got = _call(count, model, num_classes, what=f"the count for {arch} with {num_classes} classes")
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if isinstance(got, bool) or not isinstance(got, int):
        fail("a whole number (int)", repr(got), "return an int, e.g. int(...).", "wrong type")
    want = expected_trainable(arch, num_classes)
    if got == want:
        correct(f"{arch}, {num_classes} classes: {want:,} trainable parameters "
                f"({head.in_features} x {num_classes} weights + {num_classes} biases).")
        return
    i, n = head.in_features, num_classes
    guesses = {
        i * n: ("the weights only", "forgot the bias"),
        i * n + i: ("a bias per input feature", "bias counted per input"),
        i * head.out_features + head.out_features: (
            f"the ORIGINAL head ({head.out_features} outputs)", "counted the old head"),
        total: ("every parameter of the model", "not freezing at all"),
        0: ("nothing trainable", "froze after replacing"),
    }
    shows, name = guesses.get(got, (f"{got:,}", "count not computed from this model"))
    fail(f"{want:,} for {arch} with {num_classes} classes", f"{got:,}: {shows}",
         "only the new head trains: read its in_features from the model, count weights and "
         "biases.", name)


# --- exercise: an optimizer built at the right time ----------------------------------------------


def check_optimizer_setup(model: nn.Module, optimizer: object, lr: float | None = None) -> None:
    """``optimizer`` must hold exactly the trainable parameters of ``model``, head included."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        shows = "None" if optimizer is None else f"a {type(optimizer).__name__}"
        fail("a torch.optim optimizer", shows, "return the optimizer you built.", "wrong type")
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    in_model = {id(p) for p in model.parameters()}
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    path = head_path(model)
    head = {id(p) for p in model.get_submodule(path).parameters()}
    if held - in_model:
        fail("the optimizer holds the new head's parameters",
             f"{len(held - in_model)} parameter tensors that are no longer in the model: the old "
             "head's", "build the optimizer AFTER replacing the head.", "optimizer built too early")
    if not head <= held:
        fail(f"the optimizer holds the head at {path!r}", "the new head is missing from it",
             "build the optimizer after the swap, from the parameters that train.",
             "optimizer misses the head")
    if held != trainable:
        fail("exactly the trainable parameters",
             f"{len(held - trainable)} frozen parameter tensors handed to the optimizer too",
             "keep only parameters with requires_grad=True.", "frozen parameters in optimizer")
    if lr is not None and any(g["lr"] != lr for g in optimizer.param_groups):
        fail(f"learning rate {lr}", f"{[g['lr'] for g in optimizer.param_groups]}",
             "pass lr=lr to the optimizer.", "wrong learning rate")


def check_build_optimizer(
    build_optimizer: Callable[[nn.Module, float], torch.optim.Optimizer],
    arch: str = "resnet18",
    num_classes: int = 5,
    lr: float = 0.01,
) -> None:
    """``build_optimizer(model, lr)``, called after freeze-then-swap, must hold only the head."""
    model = build_model(arch)
    for p in model.parameters():
        p.requires_grad = False
    path = head_path(model)
    parent, _, child = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child,
            nn.Linear(model.get_submodule(path).in_features, num_classes))
    optimizer = _call(build_optimizer, model, lr, what=f"build_optimizer on a prepared {arch}")
    check_optimizer_setup(model, optimizer, lr)
    correct(f"{arch}: the optimizer holds exactly the new head at {path!r}.")


def check_one_step_trains_head(model: nn.Module, optimizer: torch.optim.Optimizer,
                               example: torch.Tensor, labels: torch.Tensor) -> None:
    """One optimizer step must change the head and leave the backbone's weights alone."""
    path = head_path(model)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    was_training = model.training
    model.eval()  # feature extraction: BatchNorm statistics stay as pretrained
    loss = nn.functional.cross_entropy(model(example), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    model.train(was_training)
    changed = [n for n, p in model.named_parameters() if not torch.equal(p, before[n])]
    if not any(n.startswith(path + ".") for n in changed):
        fail("the head's weights change after one step", "the head did not change",
             "the optimizer must hold the new head's parameters.", "optimizer built too early")
    moved = [n for n in changed if not n.startswith(path + ".")]
    if moved:
        fail("the backbone unchanged", f"backbone weights changed, e.g. {moved[:2]}",
             "freeze every existing parameter before the swap.", "not freezing at all")
    correct("one step changed the head and nothing else.")


# --- multiple choice -----------------------------------------------------------------------------


def check_batchnorm(answer: object) -> None:
    """Q: a frozen backbone trained with model.train(): what happens to BatchNorm?"""
    check_choice(
        answer, "B",
        {
            "A": "requires_grad=False stops gradients, but running_mean and running_var are "
                 "buffers that every forward pass in train mode updates; the lesson printed "
                 "them moving.",
            "C": "eval mode changes how BatchNorm and Dropout behave, not whether gradients "
                 "flow: the head still learns in eval mode (fine_tune(mode='head') trains that "
                 "way).",
            "D": "freezing does not touch buffers, and the statistics are not reset: they drift "
                 "towards the new data's statistics batch by batch.",
        },
        question="what happens to a frozen backbone's BatchNorm statistics in train mode",
        confirmation="train mode updates running statistics even with requires_grad=False; "
                     "keep a frozen backbone in eval mode.",
    )


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


def check_setup_choice(answer: object, results: Mapping[str, float],
                       tolerance: float = 0.05) -> None:
    """Q: the cheapest set-up within ``tolerance`` of the best held-out accuracy.

    ``results`` maps "head", "full" and "random" to the held-out accuracy the
    notebook measured; options: A = feature extraction, B = full fine-tuning,
    C = random-init backbone, D = "they are equivalent".
    """
    pick = choose_setup(results, tolerance)
    best = max(results, key=results.__getitem__)
    acc = {k: f"{v:.3f}" for k, v in results.items()}
    why = {
        "head": f"feature extraction measured {acc['head']}, more than {tolerance} below "
                f"{best} ({acc[best]})",
        "full": f"full fine-tuning ({acc['full']}) is within {tolerance} of the best, "
                f"but it costs more: the whole network trains every epoch, while feature "
                f"extraction ({acc['head']}) trains only the head",
        "random": f"the random-init backbone measured {acc['random']}: the head alone cannot "
                  "make up for features that were never learned",
    }
    wrong = {SETUP_LETTERS[k]: why[k] for k in SETUP_LETTERS if k != pick}
    spread = max(results.values()) - min(results.values())
    wrong["D"] = f"the set-ups are {spread:.3f} apart in held-out accuracy: read the printed table"
    check_choice(
        answer, SETUP_LETTERS[pick], wrong,
        question=f"the cheapest set-up within {tolerance} of the best held-out accuracy",
        confirmation=f"{pick} ({acc[pick]}) is within {tolerance} of the best and the cheapest.",
    )


def check_random_init(answer: object) -> None:
    """Q: what the random-init backbone's result shows."""
    check_choice(
        answer, "C",
        {
            "A": "the head was the same in both runs; only the backbone's weights differed, and "
                 "that changed held-out accuracy from high to near chance.",
            "B": "its TRAINING accuracy rises because the head memorises the training images; "
                 "validation accuracy stays flat near chance, so more epochs only memorise more.",
            "D": "the pretrained backbone never saw a flower, yet its features (edges, corners, "
                 "lobes) transfer: it beat the random backbone by a wide margin.",
        },
        question="what the random-init backbone's result shows",
        confirmation="the pretrained features do the work; the head only reads them out.",
    )
