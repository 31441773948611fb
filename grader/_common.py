"""Small helpers every layer shares: natural sort, lesson ids, numbers as people write them."""

from __future__ import annotations

import re

# nbgrader ids become folder names and regex parts: keep them plain.
ASSIGNMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def natural_key(name: str) -> tuple:
    """Sort ``lesson2`` before ``lesson10``."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def number(value: float) -> str:
    """``3.0`` as ``3``, ``2.5`` as ``2.5``: a score as a person writes it (``%g``)."""
    return f"{value:g}"
