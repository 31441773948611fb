"""Exercise checkers, one module per lesson (``checks.lessonN`` for ``solutions/lessonN``).

Every checker returns nothing and prints a short confirmation when the answer
is right; when it is wrong it raises :class:`ExerciseError`, an ``AssertionError``
whose message has three parts (expected / your answer shows / hint), so the
nbgrader test cell fails with a message the student can act on. A checker
that recognises the mistake names a registered :class:`Misconception`
(each lesson module's ``MISCONCEPTIONS``; all of them: ``all_misconceptions()``).
"""

from __future__ import annotations

import importlib
import pkgutil

from course_utils.checks._feedback import (
    GENERIC,
    MISCONCEPTION_ID,
    Choice,
    ExerciseError,
    Misconception,
    check_choice,
    correct,
    fail,
    grade_choice,
    record_choice,
    registry,
)

__all__ = [
    "MISCONCEPTION_ID",
    "ExerciseError",
    "Misconception",
    "all_misconceptions",
    "Choice",
    "check_choice",
    "correct",
    "grade_choice",
    "record_choice",
    "fail",
    "registry",
]


def all_misconceptions() -> dict[str, Misconception]:
    """Every misconception the course can name, by id (imports each lesson's checker module)."""
    found = {m.id: m for m in GENERIC.values()}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("lesson"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            for item in getattr(module, "MISCONCEPTIONS", {}).values():
                if item.id in found:
                    raise ValueError(f"misconception id {item.id!r} is declared twice")
                found[item.id] = item
    return dict(sorted(found.items()))
