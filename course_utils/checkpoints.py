"""Save and load fine-tuned weights, never overwriting a file silently.

A checkpoint is ``{"state_dict": ..., "history": ...}`` written with
``torch.save`` to a temporary name and then renamed, so a crash never leaves
half a file under the real name; it loads with ``weights_only=True``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from course_utils._validate import check_model, shown

if TYPE_CHECKING:
    from course_utils.training import History

__all__ = ["load_checkpoint", "save_checkpoint"]


def _check_path(path: object) -> Path:
    if not isinstance(path, str | Path):
        raise TypeError(f"path must be a file name (str or Path), got {shown(path)}.")
    return Path(path)


def save_checkpoint(
    model: nn.Module, path: str | Path, *, history: History | None = None, overwrite: bool = False
) -> Path:
    """Save the weights (and history); refuses to replace an existing file unless ``overwrite=True``."""
    check_model(model)
    path = _check_path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{path} exists: pass overwrite=True to replace it, or choose another name"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"state_dict": model.state_dict(), "history": history.to_dict() if history else None}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)  # atomic: a crash never leaves half a checkpoint under the real name
    return path


def load_checkpoint(model: nn.Module, path: str | Path) -> History | None:
    """Load weights saved by :func:`save_checkpoint` into ``model``; returns the saved history."""
    from course_utils.training import History  # training imports this module

    check_model(model)
    path = _check_path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise ValueError(f"{path} is not a course checkpoint (saved by save_checkpoint)")
    model.load_state_dict(payload["state_dict"])
    saved = payload.get("history")
    return History(**saved) if saved else None
