"""What every lesson's checker needs, in one place: models, inputs, outputs and student values.

Checkers build their own models (random init, no download) so that a hidden
test can ask about any architecture; the head is found by
``course_utils.heads`` (never by a per-lesson "last Linear" rule), and
submodules are read and set by dotted path through the same module.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import numpy as np
import torch
from torch import nn

from course_utils.checks._feedback import Explainer, Misconception, call_student
from course_utils.heads import find_head, get_module, set_module

__all__ = [
    "LibraryCalled",
    "build",
    "call_student",
    "example_input",
    "fc_explainer",
    "library_explainer",
    "get_module",
    "head_path",
    "linear_at",
    "model_changes",
    "model_snapshot",
    "outputs_of",
    "plain_int",
    "set_module",
    "switched_off",
    "to_numpy",
]

_AUX_FAMILIES = ("googlenet", "inception_v3")


def build(name: str, num_classes: int = 1000, *, device: str = "meta", seed: int = 0) -> nn.Module:
    """A torchvision classifier by name, random init (seeded), in eval mode, on ``device``.

    ``"meta"`` gives shapes only (fast, no memory); use ``"cpu"`` to run it.
    GoogLeNet and Inception-v3 are built with their auxiliary heads, as
    torchvision trains them.
    """
    import torchvision

    if not isinstance(name, str):
        raise TypeError(f"name must be a torchvision model name such as 'resnet50', got {name!r}")
    kwargs: dict[str, Any] = {"num_classes": num_classes}
    if name in _AUX_FAMILIES:
        kwargs.update(aux_logits=True, init_weights=False)
    torch.manual_seed(seed)
    try:
        with torch.device(device):
            model = torchvision.models.get_model(name, weights=None, **kwargs)
    except NotImplementedError:
        # RegNet computes its block widths with tensors, which meta cannot read back.
        model = torchvision.models.get_model(name, weights=None, **kwargs).to(device)
    return model.eval()


def head_path(model: nn.Module) -> str:
    """The dotted path of the model's head, as ``course_utils.heads.find_head`` finds it."""
    return find_head(model).path


def linear_at(model: nn.Module, path: str) -> nn.Linear:
    """The ``nn.Linear`` at dotted ``path`` of a model the checker built (its head, say)."""
    module = get_module(model, path)
    if not isinstance(module, nn.Linear):
        raise TypeError(
            f"expected an nn.Linear at {path!r} of {type(model).__name__}, got "
            f"{type(module).__name__}: use this on heads the checker built itself"
        )
    return module


def example_input(model: nn.Module, batch: int = 2, size: int | None = None) -> torch.Tensor:
    """An input batch the model accepts, on its device (Inception-v3 wants 299 x 299)."""
    if size is None:
        size = 299 if type(model).__name__ == "Inception3" else 224
    device = next(model.parameters()).device
    return torch.zeros(batch, 3, size, size, device=device)


def outputs_of(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Every output tensor of a forward pass (main and auxiliary logits)."""
    with torch.no_grad():
        out = model(x)
    if isinstance(out, torch.Tensor):
        return (out,)
    return tuple(t for t in out if isinstance(t, torch.Tensor))


def plain_int(value: object) -> int | None:
    """``value`` as a plain int when it is a Python or NumPy integer (not bool), else None.

    Exact types only: an int subclass could redefine ``==`` and pass any comparison.
    """
    if type(value) is int:
        return value
    if type(value).__module__ == "numpy" and isinstance(value, numbers.Integral):
        return int(value)
    return None


def to_numpy(values: object) -> np.ndarray:
    """A NumPy array from a list, an array or a (CPU or GPU) tensor, for comparisons."""
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def fc_explainer(expected: str, hint: str, misconception: Misconception) -> Explainer:
    """An ``explain=`` for ``call_student`` that names ``model.fc`` on a model without one.

    That ``AttributeError`` is the mark of an answer written for ResNets only;
    each lesson words the hint with what it has taught so far.
    """

    def explain(exc: Exception) -> tuple[str, str, Misconception] | None:
        if isinstance(exc, AttributeError) and "'fc'" in str(exc):
            return expected, hint, misconception
        return None

    return explain


class LibraryCalled(RuntimeError):
    """Raised by a library function that is switched off while a student's own version runs."""


def _switched_off(*args: Any, _raise: type[Exception] = LibraryCalled, **kwargs: Any) -> NoReturn:
    # Runs as the switched-off function's code, among that function's module globals: it
    # reaches LibraryCalled through its keyword default, which switched_off sets too.
    raise _raise("the library function this exercise asks you to write is switched off")


@contextlib.contextmanager
def switched_off(*functions: Callable[..., Any]) -> Iterator[None]:
    """Inside the block, each of ``functions`` raises :class:`LibraryCalled` however it is reached.

    The function's code is swapped, not a module attribute: a name the student bound
    before the check (``from course_utils.metrics import rubric as r``) and library code
    that calls the function (``course_policy`` calls ``rubric``) reach the switch too.
    """
    saved = [(function, function.__code__, function.__kwdefaults__) for function in functions]
    try:
        for function, _, _ in saved:
            function.__code__ = _switched_off.__code__
            function.__kwdefaults__ = _switched_off.__kwdefaults__
        yield
    finally:
        for function, code, kwdefaults in saved:
            function.__code__ = code
            function.__kwdefaults__ = kwdefaults


def library_explainer(
    expected: str, hint: str, misconception: Misconception, otherwise: Explainer | None = None
) -> Explainer:
    """An ``explain=`` for ``call_student`` that names an answer calling a switched-off function.

    ``otherwise`` explains the errors that are not :class:`LibraryCalled`.
    """

    def explain(exc: Exception) -> tuple[str, str, Misconception | str] | None:
        if isinstance(exc, LibraryCalled):
            return expected, hint, misconception
        return otherwise(exc) if otherwise is not None else None

    return explain


def model_snapshot(model: nn.Module) -> dict[str, Any]:
    """What a function that only looks at a model must leave as it was: every module's
    train/eval mode, every buffer (BatchNorm's running statistics) and which module sits
    at each path (the head included)."""
    return {
        "modes": {name: m.training for name, m in model.named_modules()},
        "modules": {name: id(m) for name, m in model.named_modules()},
        "buffers": {
            name: b if b.device.type == "meta" else b.detach().clone()
            for name, b in model.named_buffers()
        },
    }


def model_changes(model: nn.Module, before: dict[str, Any]) -> list[str]:
    """What changed in ``model`` since :func:`model_snapshot`, in words (empty: nothing)."""
    changes = []
    modules = {name: id(m) for name, m in model.named_modules()}
    replaced = sorted(n for n in before["modules"] if modules.get(n) != before["modules"][n])
    added = sorted(set(modules) - set(before["modules"]))
    if replaced or added:
        where = ", ".join(f"model.{n}" for n in (replaced + added)[:3] if n)
        changes.append(f"a layer was replaced or added ({where or 'the model itself'})")
    modes = {name: m.training for name, m in model.named_modules()}
    flipped = [n for n, was in before["modes"].items() if n in modes and modes[n] != was]
    if flipped:
        now = "train" if modes[flipped[0]] else "eval"
        changes.append(
            f"its mode was left in {now} mode (was {'eval' if now == 'train' else 'train'})"
        )
    buffers = dict(model.named_buffers())
    moved = [
        n
        for n, old in before["buffers"].items()
        if old.device.type != "meta"
        and n in buffers
        and not n.endswith("num_batches_tracked")
        and (buffers[n].shape != old.shape or not torch.equal(buffers[n].detach().cpu(), old.cpu()))
    ]
    if moved:
        changes.append(f"its BatchNorm statistics moved ({moved[0]} and {len(moved) - 1} more)")
    return changes
