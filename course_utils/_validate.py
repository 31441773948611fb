"""One convention for checking arguments, shared by every course_utils module.

* A value of the wrong **type** raises ``TypeError``; a value of the right type
  but an unusable **value** raises ``ValueError``.
* The message names the argument, quotes the bad value (``repr``, shortened
  to :data:`MAX_SHOWN` characters) and says what to pass instead.

>>> check_positive_int("epochs", 0)
Traceback (most recent call last):
    ...
ValueError: epochs must be an integer >= 1, got 0. Pass a whole number such as 5.
>>> check_positive_int("epochs", "5")
Traceback (most recent call last):
    ...
TypeError: epochs must be an integer, got '5' (str). Pass a whole number such as 5.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # torch stays a lazy import: metrics and judging never need it
    from torch import nn

__all__ = [
    "MAX_SHOWN",
    "as_array",
    "check_fraction",
    "check_model",
    "check_positive_int",
    "check_positive_number",
    "check_str",
    "shown",
]

MAX_SHOWN = 80


def shown(value: object, limit: int = MAX_SHOWN) -> str:
    """``repr(value)``, cut to ``limit`` characters so a huge tensor cannot flood an error."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _got(value: object) -> str:
    return f"got {shown(value)} ({type(value).__name__})"


def as_array(
    name: str, values: Any, what: str = "an array-like (list, numpy array or tensor)"
) -> np.ndarray:
    """``values`` as a numpy array (torch tensors too, also on GPU or requiring grad).

    Something that is no array at all (``None``, a string, an arbitrary object)
    raises ``TypeError``; shapes and contents are for the caller to check.
    """
    if hasattr(values, "detach") and hasattr(values, "cpu"):  # a tensor, without importing torch
        values = values.detach().cpu().numpy()
    arr = np.asarray(values) if not isinstance(values, (str, bytes)) else None
    if arr is None or (arr.dtype == object and arr.ndim == 0):
        raise TypeError(f"{name} must be {what}, {_got(values)}.")
    return arr


def check_model(model: object, name: str = "model") -> nn.Module:
    """``model`` itself if it is a ``torch.nn.Module``, else ``TypeError``."""
    from torch import nn

    if not isinstance(model, nn.Module):
        raise TypeError(
            f"{name} must be a torch.nn.Module, {_got(model)}. "
            "Pass the model itself, e.g. torchvision.models.resnet18()."
        )
    return model


def check_str(name: str, value: object, example: str) -> str:
    """``value`` if it is a ``str``, else ``TypeError`` suggesting ``example``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string such as {example!r}, {_got(value)}.")
    return value


def check_positive_int(name: str, value: object, minimum: int = 1) -> int:
    """``value`` as an ``int`` if it is a whole number ``>= minimum`` (bool is refused)."""
    hint = f"Pass a whole number such as {max(minimum, 5)}."
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, {_got(value)}. {hint}")
    if int(value) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {shown(value)}. {hint}")
    return int(value)


def check_positive_number(name: str, value: object) -> float:
    """``value`` as a ``float`` if it is a finite real number ``> 0`` (bool is refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive number such as 0.001, {_got(value)}.")
    number = float(value)
    if not (math.isfinite(number) and number > 0):
        raise ValueError(
            f"{name} must be a positive finite number such as 0.001, got {shown(value)}."
        )
    return number


def check_fraction(name: str, value: object) -> float:
    """``value`` as a ``float`` if it is a number between 0 and 1 (inclusive)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number between 0 and 1, got {shown(value)}.")
    fraction = float(value)
    if not 0.0 <= fraction <= 1.0:  # also rejects NaN
        raise ValueError(
            f"{name} must be between 0 and 1, got {shown(fraction)}. "
            "Pass a fraction (0.85), not a percentage (85)."
        )
    return fraction
