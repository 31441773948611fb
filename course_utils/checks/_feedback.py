"""The three-part feedback every checker gives."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


class ExerciseError(AssertionError):
    """A wrong answer: the message says what was expected, what the answer shows, and a hint."""

    def __init__(self, expected: str, observed: str, hint: str, misconception: str | None = None):
        self.expected = expected
        self.observed = observed
        self.hint = hint
        self.misconception = misconception
        label = f" [{misconception}]" if misconception else ""
        super().__init__(
            f"\n  Expected: {expected}\n  Your answer shows{label}: {observed}\n  Hint: {hint}"
        )


def fail(expected: str, observed: str, hint: str, misconception: str | None = None) -> None:
    """Raise the three-part feedback for a wrong answer."""
    raise ExerciseError(expected, observed, hint, misconception)


Explainer = Callable[[Exception], "tuple[str, str, str] | None"]
"""Maps a known student error to (expected, hint, misconception); None means "no special story"."""


def call_student(
    function: Callable, *args: Any, what: str, explain: Explainer | None = None, **kwargs: Any
) -> Any:
    """Run the student's function; an exception becomes three-part feedback, not a bare traceback.

    ``NotImplementedError`` passes through: that is the untouched stub, which
    nbgrader shows as "not answered yet". ``explain`` lets a lesson name the
    misconception behind errors it knows (an ``AttributeError`` on ``.fc``, say).
    """
    try:
        return function(*args, **kwargs)
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001 - every student error becomes feedback
        observed = f"it raised {type(exc).__name__}: {exc}"
        known = explain(exc) if explain is not None else None
        if known is not None:
            expected, hint, misconception = known
            fail(expected, observed, hint, misconception)
        fail(
            f"{what} to run without an error",
            observed,
            "call your function on this input in a cell of its own and read the traceback.",
            "the code does not run",
        )


def correct(message: str) -> None:
    """Print the short confirmation for a right answer (stdout only: nbgrader treats stderr as failure)."""
    print(f"Correct: {message}")


def check_choice(
    answer: object,
    correct_letter: str,
    why_wrong: Mapping[str, str],
    *,
    question: str,
    confirmation: str,
) -> None:
    """Check a multiple-choice answer stored as a single letter.

    ``why_wrong`` maps each wrong letter to why it is tempting and wrong; it
    names the misconception in the feedback.
    """
    if isinstance(answer, str):
        answer = str.__str__(answer)  # a str subclass could redefine strip()/upper() to fake a letter
    options = sorted({correct_letter, *why_wrong})
    if not isinstance(answer, str) or answer.strip().upper() not in options:
        fail(
            f"one letter among {', '.join(options)} for: {question}",
            f"{answer!r}",
            "store your choice as a string, for example answer = 'A'.",
            "not a valid option",
        )
    letter = answer.strip().upper()
    if letter != correct_letter:
        fail(
            f"the option that holds for: {question}",
            f"option {letter}: {why_wrong[letter]}",
            "re-read the lesson section above and test the claim with the code cell before it.",
            "misconception",
        )
    correct(confirmation)
