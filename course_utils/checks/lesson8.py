"""Checkers for lesson 8: your own photos, your own training loop.

Every checker runs the student's function on models and data it builds
itself (tiny, random, seeded, on the CPU), and compares what happened with
what a correct loop does. A wrong training step is diagnosed by simulation:
the checker replays the same batches with each classic mistake (no
``zero_grad``, softmax before the loss, no scheduler step) and names the one
whose weights match the student's.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, RandomSampler, SequentialSampler, TensorDataset

from course_utils.checks._feedback import (
    Choice,
    Misconception,
    call_student,
    choice_grader,
    correct,
    fail,
    record_choice,
)
from course_utils.checks._feedback import registry as _registry
from course_utils.checks._toolkit import build, get_module, head_path

__all__ = [
    "Q1",
    "grade_choice",
    "MISCONCEPTIONS",
    "check_evaluate",
    "check_fit",
    "check_loaders",
    "check_param_groups",
    "check_predict_photo",
    "check_stopping_set",
    "check_train_one_epoch",
    "check_transforms",
]

MISCONCEPTIONS = _registry(
    "lesson8",
    Misconception("not_a_pair", "not two transforms", "Exercise 1"),
    Misconception(
        "augment_eval", "random augmentation on validation or test images", "2. Two transforms"
    ),
    Misconception("no_augmentation", "the training transform is not random", "2. Two transforms"),
    Misconception("wrong_size", "the transform gives another image size", "2. Two transforms"),
    Misconception(
        "wrong_normalisation",
        "normalised with other statistics than the weights were trained with",
        "2. Two transforms",
    ),
    Misconception("no_normalisation", "the images are not normalised", "2. Two transforms"),
    Misconception("not_loaders", "not two DataLoaders", "Exercise 2"),
    Misconception("no_shuffle_train", "the training loader does not shuffle", "3. DataLoaders"),
    Misconception("shuffle_val", "the validation loader shuffles", "3. DataLoaders"),
    Misconception("loaders_swapped", "training and validation data swapped", "3. DataLoaders"),
    Misconception("wrong_batch_size", "the batch size asked for is not used", "3. DataLoaders"),
    Misconception(
        "missing_params", "parameters missing from the groups", "4. Two parameter groups"
    ),
    Misconception("duplicated_params", "a parameter in both groups", "4. Two parameter groups"),
    Misconception(
        "rates_swapped", "the backbone learns faster than the head", "4. Two parameter groups"
    ),
    Misconception("no_zero_grad", "gradients never reset (no zero_grad)", "5. One epoch"),
    Misconception("softmax_before_loss", "softmax applied before CrossEntropyLoss", "5. One epoch"),
    Misconception("no_scheduler_step", "the learning-rate schedule never steps", "5. One epoch"),
    Misconception("train_mode_missing", "training without model.train()", "5. One epoch"),
    Misconception(
        "wrong_epoch_loss", "the epoch's loss is not the mean batch loss", "5. One epoch"
    ),
    Misconception(
        "validate_train_mode", "validation in train mode (no model.eval())", "6. Validation"
    ),
    Misconception(
        "validate_with_grad", "validation with gradients (no torch.no_grad())", "6. Validation"
    ),
    Misconception("validate_changes_weights", "validation changes the weights", "6. Validation"),
    Misconception("wrong_metrics", "validation loss or accuracy computed wrongly", "6. Validation"),
    Misconception(
        "best_by_reference",
        "the best weights kept by reference, not copied",
        "7. Keeping the best weights, and a fair comparison",
    ),
    Misconception(
        "no_early_stopping",
        "training does not stop early",
        "7. Keeping the best weights, and a fair comparison",
    ),
    Misconception("bad_history", "the history is not as asked", "Exercise 6"),
    Misconception(
        "stopped_on_test",
        "early stopping on the test set",
        "7. Keeping the best weights, and a fair comparison",
    ),
    Misconception(
        "predict_train_mode", "predicting in train mode", "8. The test set, once; saving; one photo"
    ),
    Misconception(
        "not_probabilities",
        "scores that are not probabilities",
        "8. The test set, once; saving; one photo",
    ),
    Misconception(
        "ignored_exif",
        "the photo's EXIF orientation ignored",
        "8. The test set, once; saving; one photo",
    ),
)
M = MISCONCEPTIONS
# The hidden tests score multiple choice: checks.grade_choice(answer, checks.Q1, right, A=..., ...).
grade_choice = choice_grader(MISCONCEPTIONS)


# --- exercise 1: transforms --------------------------------------------------------------------


def _presets() -> list[tuple[str, Any]]:
    from torchvision.models import ResNet18_Weights
    from torchvision.transforms._presets import ImageClassification

    course = ImageClassification(crop_size=32, resize_size=36, mean=(0.5,) * 3, std=(0.25,) * 3)
    return [
        ("the course weights (32 px, mean 0.5, std 0.25)", course),
        ("ImageNet weights (224 px, ImageNet mean and std)", ResNet18_Weights.DEFAULT.transforms()),
    ]


def _test_image(width: int = 120, height: int = 90, seed: int = 0) -> Any:
    from PIL import Image

    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    arr[:, : width // 3] = 255  # a bright left edge, so a flip shows
    return Image.fromarray(arr)


def _grey(width: int = 120, height: int = 90, value: int = 153) -> Any:
    from PIL import Image

    return Image.new("RGB", (width, height), (value, value, value))


def _as_tensor(out: object, what: str, size: int) -> torch.Tensor:
    if not isinstance(out, torch.Tensor) or not out.is_floating_point():
        fail(
            f"{what} to turn a PIL image into a float tensor",
            f"it returns {type(out).__name__}",
            "end the pipeline with v2.ToImage(), v2.ToDtype(torch.float32, scale=True) and "
            "v2.Normalize.",
            M["no_normalisation"],
        )
    if tuple(out.shape) != (3, size, size):
        fail(
            f"{what} to give a (3, {size}, {size}) tensor (the weights' crop size)",
            f"shape {tuple(out.shape)}",
            "read the size from preprocess.crop_size; never type it.",
            M["wrong_size"],
        )
    return out


def _transforms_one(make: Callable[[Any], Any], label: str, preprocess: Any) -> None:
    pair = call_student(make, preprocess, what="make_transforms(preprocess)")
    if not isinstance(pair, tuple) or len(pair) != 2 or not all(map(callable, pair)):
        fail(
            "a pair (train_transform, eval_transform) of callables",
            f"{type(pair).__name__}",
            "return train_tf, eval_tf.",
            M["not_a_pair"],
        )
    train_tf, eval_tf = pair
    size = int(preprocess.crop_size[0])
    img = _test_image()
    torch.manual_seed(0)
    first = _as_tensor(eval_tf(img), "the evaluation transform", size)
    second = _as_tensor(eval_tf(img), "the evaluation transform", size)
    if not torch.equal(first, second):
        fail(
            "the evaluation transform to give the same tensor for the same image every time",
            "two calls on one image gave different tensors: it crops or flips at random",
            "validation and test images are measured as they come: resize and centre-crop "
            "them, never augment them.",
            M["augment_eval"],
        )
    outs = [_as_tensor(train_tf(img), "the training transform", size) for _ in range(8)]
    if all(torch.equal(outs[0], o) for o in outs[1:]):
        fail(
            "a training transform that draws a new random crop and flip at every call",
            "eight calls on one image gave the same tensor",
            "use v2.RandomResizedCrop and v2.RandomHorizontalFlip in the training transform.",
            M["no_augmentation"],
        )
    mean = torch.tensor(preprocess.mean).view(3, 1, 1)
    std = torch.tensor(preprocess.std).view(3, 1, 1)
    want = (153 / 255 - mean) / std
    for name, tf in (("evaluation", eval_tf), ("training", train_tf)):
        got = _as_tensor(tf(_grey()), f"the {name} transform", size)
        pixel = got[:, size // 2, size // 2].view(3, 1, 1)
        if torch.allclose(pixel, want, atol=0.02):
            continue
        if torch.allclose(pixel, torch.full_like(pixel, 153 / 255), atol=0.02):
            shows, misconception = "pixels in [0, 1], not normalised", M["no_normalisation"]
        else:
            found = [round(float(v), 3) for v in pixel.flatten()]
            shows = f"a grey pixel of 0.6 became {found}, not {[round(float(v), 3) for v in want.flatten()]}"
            misconception = M["wrong_normalisation"]
        fail(
            f"the {name} transform to normalise with the weights' own mean {preprocess.mean} "
            f"and std {preprocess.std} (for {label})",
            shows,
            "read mean and std from preprocess.mean and preprocess.std; never type them: "
            "other weights were trained with other statistics.",
            misconception,
        )


def check_transforms(make: Callable[[Any], Any], which: str = "visible") -> None:
    """``make(preprocess) -> (train_tf, eval_tf)`` on the course's and ImageNet's presets."""
    presets = _presets()
    if which == "hidden":
        from torchvision.transforms._presets import ImageClassification

        presets = [
            (
                "weights with 48 px crops and other statistics",
                ImageClassification(
                    crop_size=48, resize_size=60, mean=(0.3, 0.4, 0.5), std=(0.2, 0.3, 0.4)
                ),
            ),
        ]
    for label, preprocess in presets:
        _transforms_one(make, label, preprocess)
    names = " and ".join(label.split(" (")[0] for label, _ in presets)
    correct(
        f"random training transform, fixed evaluation transform, the right size and "
        f"normalisation, for {names}."
    )


# --- exercise 2: loaders -----------------------------------------------------------------------


def _tiny_sets(n_train: int = 12, n_val: int = 8) -> tuple[TensorDataset, TensorDataset]:
    g = torch.Generator().manual_seed(0)
    train = TensorDataset(torch.randn(n_train, 4, generator=g), torch.arange(n_train) % 2)
    val = TensorDataset(torch.randn(n_val, 4, generator=g), torch.arange(n_val) % 2)
    return train, val


def check_loaders(make: Callable[..., Any], batch_size: int = 4) -> None:
    """``make(train_set, val_set, batch_size) -> (train_loader, val_loader)``."""
    train, val = _tiny_sets()
    pair = call_student(make, train, val, batch_size, what="make_loaders(train, val, batch_size)")
    if (
        not isinstance(pair, tuple)
        or len(pair) != 2
        or not all(isinstance(x, DataLoader) for x in pair)
    ):
        fail(
            "a pair (train_loader, val_loader) of torch DataLoaders",
            f"{type(pair).__name__}",
            "return DataLoader(train_set, ...), DataLoader(val_set, ...).",
            M["not_loaders"],
        )
    train_loader, val_loader = pair
    if train_loader.dataset is val and val_loader.dataset is train:
        fail(
            "the training loader over train_set, the validation loader over val_set",
            "they are swapped",
            "keep the order: train first, then validation.",
            M["loaders_swapped"],
        )
    for name, loader in (("training", train_loader), ("validation", val_loader)):
        if loader.batch_size != batch_size:
            fail(
                f"batches of {batch_size} in the {name} loader",
                f"batch_size={loader.batch_size}",
                "pass batch_size=batch_size.",
                M["wrong_batch_size"],
            )
    if not isinstance(train_loader.sampler, RandomSampler):
        fail(
            "the training loader to shuffle (a new order every epoch)",
            "it reads the images in the same order every epoch",
            "shuffle=True for training: batches of one class at a time bias every step.",
            M["no_shuffle_train"],
        )
    if not isinstance(val_loader.sampler, SequentialSampler):
        fail(
            "the validation loader in a fixed order (shuffle=False)",
            "it shuffles",
            "shuffling validation changes nothing it measures, but the order of its "
            "predictions no longer matches the files: keep it fixed.",
            M["shuffle_val"],
        )
    correct(
        f"the training loader shuffles, the validation loader does not, batches of {batch_size}."
    )


# --- exercise 3: parameter groups --------------------------------------------------------------


def _groups_one(make: Callable[..., Any], arch: str, backbone_lr: float, head_lr: float) -> str:
    model = build(arch, 5, device="meta")
    groups = call_student(
        make, model, backbone_lr, head_lr, what=f"param_groups({arch}, {backbone_lr}, {head_lr})"
    )
    if not isinstance(groups, list | tuple) or not all(
        isinstance(g, dict) and "params" in g for g in groups
    ):
        fail(
            'a list of dicts, each with "params" and "lr"',
            f"{type(groups).__name__}",
            'return [{"params": ..., "lr": backbone_lr}, {"params": ..., "lr": head_lr}].',
            M["missing_params"],
        )
    seen: dict[int, list[float]] = {}
    for g in groups:
        for p in list(g["params"]):
            seen.setdefault(id(p), []).append(g.get("lr", float("nan")))
    path = head_path(model)
    head = {id(p) for p in get_module(model, path).parameters()}
    every = {id(p) for p in model.parameters()}
    twice = [i for i, rates in seen.items() if len(rates) > 1]
    if twice:
        fail(
            "every parameter in exactly one group",
            f"{len(twice)} parameter tensors in two groups",
            "the backbone group is every parameter NOT in the head; compare by identity.",
            M["duplicated_params"],
        )
    missing = every - set(seen)
    if missing:
        fail(
            "every parameter of the model in one of the groups",
            f"{len(missing)} of {len(every)} parameter tensors in no group: the optimizer "
            "would never update them",
            "loop over model.parameters() (all of them) and sort each into a group.",
            M["missing_params"],
        )
    head_rates = {seen[i][0] for i in head}
    backbone_rates = {seen[i][0] for i in every - head}
    if head_rates == {backbone_lr} and backbone_rates == {head_lr}:
        fail(
            f"the head at {head_lr:g}, the backbone at {backbone_lr:g}",
            f"the head at {backbone_lr:g}, the backbone at {head_lr:g}",
            "the pretrained backbone gets the smaller rate: it only needs nudging.",
            M["rates_swapped"],
        )
    if head_rates != {head_lr} or backbone_rates != {backbone_lr}:
        fail(
            f"the head at {head_lr:g}, the backbone at {backbone_lr:g}",
            f"head rates {sorted(head_rates)}, backbone rates {sorted(backbone_rates)}",
            "find the head with heads.find_head(model).path; never assume model.fc.",
            M["rates_swapped"],
        )
    return f"{arch} (head {path!r})"


def check_param_groups(make: Callable[..., Any], archs: tuple[str, ...] = ()) -> None:
    """``make(model, backbone_lr, head_lr)``: two groups that cover every parameter once."""
    cases = archs or ("resnet18", "mobilenet_v3_small")
    done = [_groups_one(make, a, 1e-4, 1e-2) for a in cases]
    correct(f"every parameter in one group, the head faster, on {' and on '.join(done)}.")


# --- exercises 4 and 5: one epoch, validation --------------------------------------------------


class _Probe(nn.Module):
    """A tiny classifier that records, at each forward pass, its mode and whether autograd is on."""

    def __init__(self, n_in: int = 4, n_out: int = 2, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.bn = nn.BatchNorm1d(n_in)
        self.fc = nn.Linear(n_in, n_out)
        self.log: list[tuple[bool, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.log.append((self.training, torch.is_grad_enabled()))
        return self.fc(self.bn(x.flatten(1)))


def _setup(seed: int = 0) -> tuple[_Probe, DataLoader, Any, Any]:
    train, _ = _tiny_sets()
    model = _Probe(seed=seed)
    loader = DataLoader(train, batch_size=4, shuffle=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5**step)
    return model, loader, optimizer, scheduler


def _reference_epoch(
    seed: int, *, zero_grad: bool = True, softmax: bool = False, step_schedule: bool = True
) -> tuple[dict[str, torch.Tensor], float]:
    model, loader, optimizer, scheduler = _setup(seed)
    model.train()
    loss_fn, losses = nn.CrossEntropyLoss(), []
    for x, y in loader:
        if zero_grad:
            optimizer.zero_grad()
        out = model(x)
        loss = loss_fn(out.softmax(1) if softmax else out, y)
        loss.backward()
        optimizer.step()
        if step_schedule:
            scheduler.step()
        losses.append(loss.item())
    return model.state_dict(), float(np.mean(losses))


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return all(torch.allclose(a[k].float(), b[k].float(), atol=1e-5) for k in a)


def check_train_one_epoch(train_one_epoch: Callable[..., Any], seed: int = 0) -> None:
    """``train_one_epoch(model, loader, optimizer, scheduler, loss_fn) -> mean loss``."""
    model, loader, optimizer, scheduler = _setup(seed)
    model.eval()  # the student's function must put it in train mode itself
    result = call_student(
        train_one_epoch,
        model,
        loader,
        optimizer,
        scheduler,
        nn.CrossEntropyLoss(),
        what="train_one_epoch(model, loader, optimizer, scheduler, loss_fn)",
    )
    if not model.log or not all(training for training, _ in model.log):
        fail(
            "model.train() before the training batches",
            "the model was in eval mode for its training batches (Dropout off, BatchNorm "
            "statistics frozen)",
            "call model.train() at the start of the epoch: evaluation switched it off.",
            M["train_mode_missing"],
        )
    got = {k: v.detach() for k, v in model.state_dict().items()}
    right, mean_loss = _reference_epoch(seed)
    if not _same(got, right):
        variants = [
            ({"zero_grad": False}, M["no_zero_grad"], "gradients add up from batch to batch"),
            ({"softmax": True}, M["softmax_before_loss"], "the loss saw probabilities"),
            ({"step_schedule": False}, M["no_scheduler_step"], "the rate never changed"),
        ]
        for kwargs, misconception, story in variants:
            if _same(got, _reference_epoch(seed, **kwargs)[0]):
                hints = {
                    "no_zero_grad": "call optimizer.zero_grad() before loss.backward() in "
                    "every batch: backward() adds to .grad.",
                    "softmax_before_loss": "give CrossEntropyLoss the logits: it applies "
                    "log-softmax itself.",
                    "no_scheduler_step": "call scheduler.step() after optimizer.step() in "
                    "every batch (OneCycleLR counts batches).",
                }
                fail(
                    "the weights one correct epoch gives (zero_grad, forward, loss on logits, "
                    "backward, step, scheduler step)",
                    f"other weights, exactly those of a loop where {story}",
                    hints[misconception.id.split(".")[1]],
                    misconception,
                )
        fail(
            "the weights one correct epoch gives",
            "other weights than zero_grad, forward, loss, backward, step, scheduler.step "
            "for each batch",
            "one optimizer step per batch, in that order.",
            M["no_zero_grad"],
        )
    if not isinstance(result, float | int) or abs(float(result) - mean_loss) > 1e-4:
        fail(
            f"the mean of the batch losses, {mean_loss:.4f}",
            f"{result!r}",
            "collect loss.item() for each batch and return their mean as a float.",
            M["wrong_epoch_loss"],
        )
    correct("train mode, zero_grad, loss on logits, step and schedule, on every batch.")


def check_evaluate(evaluate: Callable[..., Any], seed: int = 0) -> None:
    """``evaluate(model, loader, loss_fn) -> (mean loss per image, accuracy)``."""
    _, val = _tiny_sets()
    model = _Probe(seed=seed)
    model.train()
    loader = DataLoader(val, batch_size=3, shuffle=False)  # uneven last batch: mean per image
    before = copy.deepcopy(model.state_dict())
    got = call_student(
        evaluate, model, loader, nn.CrossEntropyLoss(), what="evaluate(model, loader, loss_fn)"
    )
    if any(training for training, _ in model.log):
        fail(
            "model.eval() before validation",
            "the model ran in train mode: BatchNorm updated its statistics from the "
            "validation images",
            "call model.eval() first: training mode is for training only.",
            M["validate_train_mode"],
        )
    if any(grad for _, grad in model.log):
        fail(
            "validation under torch.no_grad()",
            "autograd recorded every validation forward pass (memory and time for nothing)",
            "wrap the loop in `with torch.no_grad():`.",
            M["validate_with_grad"],
        )
    if not _same(model.state_dict(), before):
        fail(
            "validation that leaves the weights as they were",
            "the weights changed",
            "no backward() and no optimizer.step() in evaluate.",
            M["validate_changes_weights"],
        )
    model.eval()
    x, y = val.tensors
    with torch.no_grad():
        logits = model(x)
    want = (
        float(nn.functional.cross_entropy(logits, y)),
        float((logits.argmax(1) == y).float().mean()),
    )
    if (
        not isinstance(got, tuple)
        or len(got) != 2
        or any(not isinstance(v, float | int) for v in got)
        or abs(float(got[0]) - want[0]) > 1e-4
        or abs(float(got[1]) - want[1]) > 1e-6
    ):
        fail(
            f"(mean loss per image, accuracy) = ({want[0]:.4f}, {want[1]:.3f})",
            f"{got!r}",
            "weight each batch's loss by its size (the last batch is smaller), and count "
            "correct predictions over all images; return two floats.",
            M["wrong_metrics"],
        )
    correct("eval mode, no gradients, weights untouched, loss and accuracy per image.")


# --- exercise 6: fit with early stopping -------------------------------------------------------


def _fit_case(seed: int) -> tuple[_Probe, DataLoader, DataLoader, Any, Any]:
    """Validation labels are the training labels flipped: every epoch of training makes it worse."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(16, 4, generator=g)
    y = (x[:, 0] > 0).long()
    train = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=False)
    val = DataLoader(TensorDataset(x, 1 - y), batch_size=8, shuffle=False)
    model = _Probe(seed=seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    return model, train, val, optimizer, scheduler


def check_fit(
    fit: Callable[..., Any], patience: int = 2, max_epochs: int = 8, seed: int = 0
) -> None:
    """``fit(model, train_loader, val_loader, optimizer, scheduler, loss_fn, max_epochs, patience)``.

    Returns a history ``{"train_loss": [...], "val_loss": [...], "best_epoch": int}`` and leaves
    the model holding the weights of its best validation epoch.
    """
    model, train, val, optimizer, scheduler = _fit_case(seed)
    loss_fn = nn.CrossEntropyLoss()
    history = call_student(
        fit,
        model,
        train,
        val,
        optimizer,
        scheduler,
        loss_fn,
        max_epochs,
        patience,
        what=f"fit(..., max_epochs={max_epochs}, patience={patience})",
    )
    if (
        not isinstance(history, dict)
        or not isinstance(history.get("val_loss"), list)
        or not isinstance(history.get("train_loss"), list)
        or type(history.get("best_epoch")) is not int
    ):
        fail(
            'a dict with "train_loss" and "val_loss" (lists) and "best_epoch" (an int)',
            f"{type(history).__name__}: {history!r:.120}",
            "return the history dict the exercise describes.",
            M["bad_history"],
        )
    val_losses = [float(v) for v in history["val_loss"]]
    best = int(np.argmin(val_losses)) if val_losses else -1
    if history["best_epoch"] != best:
        fail(
            f"best_epoch = {best}, the epoch of the lowest validation loss",
            f"best_epoch = {history['best_epoch']} for val_loss {np.round(val_losses, 4).tolist()}",
            "best_epoch counts from 0 and is where val_loss was lowest.",
            M["bad_history"],
        )
    expected_epochs = min(max_epochs, best + 1 + patience)
    if len(val_losses) != expected_epochs:
        fail(
            f"training to stop after {patience} epochs without a new best validation loss "
            f"(here after epoch {expected_epochs - 1}, the best being epoch {best})",
            f"{len(val_losses)} epochs",
            "count the epochs since the last improvement; stop when it reaches patience.",
            M["no_early_stopping"],
        )
    model.eval()
    with torch.no_grad():
        final = float(np.mean([loss_fn(model(x), y).item() for x, y in val]))
    if abs(final - val_losses[best]) > 1e-4:
        shows = (
            f"the model ends with validation loss {final:.4f}, but the best epoch had "
            f"{val_losses[best]:.4f}"
        )
        if abs(final - val_losses[-1]) < 1e-4:
            shows += ": those are the last epoch's weights"
        fail(
            "the model to hold its best epoch's weights at the end",
            shows,
            "model.state_dict() returns references to the live tensors, which every "
            "optimizer step changes in place: keep copy.deepcopy(model.state_dict()), and "
            "load_state_dict it at the end.",
            M["best_by_reference"],
        )
    correct(
        f"stopped {patience} epoch(s) after the best one, and the model holds the best epoch's "
        "weights (checked on a task whose validation loss rises from the first epoch)."
    )


Q1 = Choice(
    question="which set early stopping watches",
    options={
        "A": (
            "The test set measures the model once, at the end; a choice made on it makes its number "
            "optimistic."
        ),
        "B": "The validation set is held out from training and kept for choices such as the epoch.",
        "C": "The training loss keeps falling while a model overfits.",
    },
)


def check_stopping_set(answer: object) -> None:
    """Q: which data set early stopping watches.

    Visible check: records the letter; the hidden test scores it.
    """
    record_choice(answer, Q1)


# --- exercise 7: predict one photo -------------------------------------------------------------


class _TinyCNN(nn.Module):
    def __init__(self, n_out: int = 3, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.features = nn.Sequential(
            nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d((2, 1)), nn.Flatten()
        )
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(8, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.drop(self.features(x)))


def check_predict_photo(predict_photo: Callable[..., Any], seed: int = 0) -> None:
    """``predict_photo(model, path, eval_tf, classes) -> {class: probability}`` on an EXIF photo."""
    from PIL import Image
    from torchvision.transforms import v2

    from course_utils.data import load_rgb

    classes = ("bark", "bricks", "clouds")
    model = _TinyCNN(len(classes), seed).train()
    eval_tf = v2.Compose([v2.ToImage(), v2.Resize((24, 16)), v2.ToDtype(torch.float32, scale=True)])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "phone.jpg"
        upright = np.zeros((60, 40, 3), np.uint8)
        upright[:20] = 255  # bright top: which way is up matters to this model
        upright[:, :, 1] = np.linspace(0, 255, 40, dtype=np.uint8)[None]
        exif = Image.Exif()
        exif[0x0112] = 6
        Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90).save(path, exif=exif)
        got = call_student(
            predict_photo,
            model,
            str(path),
            eval_tf,
            classes,
            what="predict_photo(model, path, eval_tf, classes)",
        )
        model.eval()
        with torch.no_grad():
            want = model(eval_tf(load_rgb(path))[None]).softmax(1)[0]
            raw = Image.open(path).convert("RGB")
            sideways = model(eval_tf(raw)[None]).softmax(1)[0]
    if not isinstance(got, dict) or set(got) != set(classes):
        fail(
            f"a dict from each class name {list(classes)} to its probability",
            f"{type(got).__name__}: {got!r:.120}",
            "return {name: probability for name, probability in zip(classes, probs)}.",
            M["not_probabilities"],
        )
    values = torch.tensor([float(got[c]) for c in classes])
    if abs(float(values.sum()) - 1) > 1e-4 or (values < 0).any():
        fail(
            "probabilities: between 0 and 1, summing to 1",
            f"values summing to {float(values.sum()):.4f}",
            "apply softmax to the logits (over the class dimension).",
            M["not_probabilities"],
        )
    if torch.allclose(values, want, atol=1e-4):
        correct("eval mode, the photo turned upright, probabilities per class.")
        return
    if torch.allclose(values, sideways, atol=1e-4):
        fail(
            "the photo read upright (its EXIF orientation applied)",
            "the probabilities of the photo lying on its side",
            "open it with data.load_rgb(path), which applies ImageOps.exif_transpose.",
            M["ignored_exif"],
        )
    fail(
        f"the probabilities {np.round(want.numpy(), 4).tolist()} (eval mode)",
        f"{np.round(values.numpy(), 4).tolist()}: Dropout was on, so the answer is random",
        "call model.eval() and predict under torch.no_grad().",
        M["predict_train_mode"],
    )
