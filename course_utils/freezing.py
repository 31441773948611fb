"""Freeze and count parameters: which parts of a model will learn.

Feature extraction freezes every existing parameter, then replaces the head:
a freshly made layer is trainable by default, so only the head learns.

>>> import torchvision
>>> from torch import nn
>>> model = torchvision.models.resnet50()
>>> _ = freeze(model)
>>> model.fc = nn.Linear(2048, 15)
>>> count_parameters(model).trainable
30735
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn

from course_utils._validate import check_model
from course_utils.heads import find_head, get_module

__all__ = [
    "ParameterCount",
    "count_parameters",
    "freeze",
    "freeze_backbone",
    "trainable_summary",
    "unfreeze",
]


def _check_model(model: object) -> nn.Module:
    return check_model(model)


def freeze(model: nn.Module) -> nn.Module:
    """Set ``requires_grad=False`` on every parameter of ``model``; returns ``model``."""
    return _check_model(model).requires_grad_(False)


def unfreeze(model: nn.Module) -> nn.Module:
    """Set ``requires_grad=True`` on every parameter of ``model``; returns ``model``."""
    return _check_model(model).requires_grad_(True)


def freeze_backbone(model: nn.Module, head_path: str | Sequence[str] | None = None) -> nn.Module:
    """Freeze everything except the head; returns ``model``.

    ``head_path`` is the dotted path of the layer(s) that stay trainable; by
    default the head and any auxiliary heads that :func:`find_head` reports.
    """
    _check_model(model)
    if head_path is None:
        info = find_head(model)
        paths: tuple[str, ...] = (info.path, *info.aux_paths)
    elif isinstance(head_path, str):
        paths = (head_path,)
    elif isinstance(head_path, Sequence) and all(isinstance(p, str) for p in head_path):
        paths = tuple(head_path)
    else:
        raise TypeError(
            f"head_path must be a dotted string such as 'fc', a sequence of them, or "
            f"None to find the head; got {head_path!r}"
        )
    if not paths or "" in paths:
        raise ValueError(f"head_path must name the head, e.g. 'fc', got {head_path!r}")
    heads = [get_module(model, path) for path in paths]  # check every path before changing
    freeze(model)
    for head in heads:
        head.requires_grad_(True)
    return model


@dataclass(frozen=True)
class ParameterCount:
    """How many scalar parameters a model has, and how many of them will learn."""

    trainable: int
    total: int

    @property
    def frozen(self) -> int:
        return self.total - self.trainable

    @property
    def trainable_fraction(self) -> float:
        """Share of parameters that train, 0.0 for a model without parameters."""
        return self.trainable / self.total if self.total else 0.0


def count_parameters(model: nn.Module) -> ParameterCount:
    """Trainable and total parameter counts (shared parameters counted once)."""
    params = list(_check_model(model).parameters())
    return ParameterCount(
        trainable=sum(p.numel() for p in params if p.requires_grad),
        total=sum(p.numel() for p in params),
    )


def trainable_summary(model: nn.Module) -> str:
    """A small table of trainable/total parameters per top-level child, then the totals.

    >>> from torch import nn
    >>> model = freeze_backbone(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)))
    >>> print(trainable_summary(model))
    Sequential parameters
      part   trainable      total  state
      0              0         40  frozen
      2             18         18  trainable
      total         18         58  31.03% trainable
    """
    rows: dict[str, list[int]] = {}  # top-level name -> [trainable, total]
    for name, p in _check_model(model).named_parameters():
        row = rows.setdefault(name.split(".")[0], [0, 0])
        row[0] += p.numel() if p.requires_grad else 0
        row[1] += p.numel()
    count = count_parameters(model)  # dedups shared parameters, unlike the rows
    width = max([5, *map(len, rows)])
    num = max(9, len(f"{count.total:,}"))
    lines = [
        f"{type(model).__name__} parameters",
        f"  {'part':<{width}}  {'trainable':>{num}}  {'total':>{num}}  state",
    ]
    for name, (trainable, total) in rows.items():
        state = "frozen" if trainable == 0 else "trainable" if trainable == total else "partly"
        lines.append(f"  {name:<{width}}  {trainable:>{num},}  {total:>{num},}  {state}")
    lines.append(
        f"  {'total':<{width}}  {count.trainable:>{num},}  {count.total:>{num},}  "
        f"{count.trainable_fraction:.2%} trainable"
    )
    return "\n".join(lines)
