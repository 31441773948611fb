"""The three-part feedback every checker gives, and the misconceptions it can name.

A wrong answer is reported as expected / what the answer shows / a hint.
When the checker recognises the mistake, it names a registered
``Misconception``: a stable identifier (``lesson4.typed_in_features``), a
short human label, and the lesson section that teaches the idea. Each
lesson's checker module declares its misconceptions once, in
``MISCONCEPTIONS = registry("lessonN", ...)``; ``course_utils.checks.all_misconceptions()``
lists every one the course can name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from traceback import walk_tb
from types import TracebackType
from typing import Any, NoReturn

# A misconception id: lesson prefix and a snake_case name, e.g. "lesson4.typed_in_features".
MISCONCEPTION_ID = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
# How a registered misconception ends the feedback message (read back by the grader's report).
REVIEW_LINE = re.compile(
    r"Review: (?P<section>.*) \[(?P<id>[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*)\]$", re.MULTILINE
)


@dataclass(frozen=True)
class Misconception:
    """One mistaken idea a checker can recognise.

    ``id`` is stable (reports and gradebooks count it), ``text`` is the short
    label a student reads, ``section`` names the lesson section to reread.
    """

    id: str
    text: str
    section: str


def registry(lesson: str, *items: Misconception) -> dict[str, Misconception]:
    """A lesson's misconceptions by short name; each ``id`` becomes ``"<lesson>.<name>"``.

    Refuses duplicates and ids that are not snake_case, so the course-wide list stays stable.
    """
    found: dict[str, Misconception] = {}
    for item in items:
        if not isinstance(item, Misconception):
            raise TypeError(f"registry takes Misconception objects, got {item!r}")
        full = replace(item, id=f"{lesson}.{item.id}")
        if not MISCONCEPTION_ID.match(full.id):
            raise ValueError(
                f"misconception id {full.id!r} must look like 'lesson4.typed_in_features'"
            )
        if item.id in found:
            raise ValueError(f"misconception {full.id!r} is registered twice in {lesson}")
        if not item.text.strip() or not item.section.strip():
            raise ValueError(f"misconception {full.id!r} needs a text and a lesson section")
        found[item.id] = full
    return found


# Kinds every checker shares (not tied to one lesson's idea).
GENERIC = registry(
    "course",
    Misconception("code_error", "the code does not run", "the exercise's instructions"),
    Misconception("invalid_option", "not a valid option", "the question's list of options"),
)


class ExerciseError(AssertionError):
    """A wrong answer: the message says what was expected, what the answer shows, and a hint."""

    def __init__(
        self,
        expected: str,
        observed: str,
        hint: str,
        misconception: Misconception | str | None = None,
    ):
        self.expected = expected
        self.observed = observed
        self.hint = hint
        named = misconception if isinstance(misconception, Misconception) else None
        text = named.text if named is not None else misconception
        self.misconception = text  # the label the student reads
        self.misconception_id = named.id if named is not None else None
        self.section = named.section if named is not None else None
        label = f" [{text}]" if text else ""
        message = (
            f"\n  Expected: {expected}\n  Your answer shows{label}: {observed}\n  Hint: {hint}"
        )
        if isinstance(misconception, Misconception):
            message += f"\n  Review: {misconception.section} [{misconception.id}]"
        super().__init__(message)

    def _render_traceback_(self) -> list[str]:
        """What IPython shows instead of the traceback: the notebook lines and the feedback.

        The frames inside the installed checkers tell a student nothing and made
        Validate one long dialog; the ``Cell In[N], line L`` lines stay (in IPython's
        wording, which the grader's misconception report reads).
        """
        return [*_cell_lines(self.__traceback__), f"{type(self).__name__}: {self}"]


class NotAnswered(NotImplementedError):
    """The student's function still raises the stub's ``NotImplementedError``: not answered yet."""

    def __init__(self, what: str):
        super().__init__(
            f"not answered yet: {what} still raises NotImplementedError; replace the "
            "'raise NotImplementedError()' under '# YOUR CODE HERE' with your answer."
        )

    def _render_traceback_(self) -> list[str]:
        """The notebook lines and this message, as for ``ExerciseError``."""
        return [*_cell_lines(self.__traceback__), f"NotImplementedError: {self}"]


def _cell_lines(tb: TracebackType | None) -> list[str]:
    """``Cell In[N], line L`` for each frame of ``tb`` that runs a notebook cell."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # checks called outside IPython: no cells to name
        shell = None
    if shell is None:
        return []
    lines = []
    for frame, line in walk_tb(tb):
        named = shell.compile.format_code_name(frame.f_code.co_filename)
        if named is not None:
            lines.append(f"{named[0]} {named[1]}, line {line}")
    return lines


def fail(
    expected: str, observed: str, hint: str, misconception: Misconception | str | None = None
) -> NoReturn:
    """Raise the three-part feedback for a wrong answer (naming the misconception when known)."""
    raise ExerciseError(expected, observed, hint, misconception)


Explainer = Callable[[Exception], "tuple[str, str, Misconception | str] | None"]
"""Maps a known student error to (expected, hint, misconception); None means "no special story"."""


def call_student(
    function: Callable, *args: Any, what: str, explain: Explainer | None = None, **kwargs: Any
) -> Any:
    """Run the student's function; an exception becomes three-part feedback, not a bare traceback.

    ``NotImplementedError`` stays one (``NotAnswered``): that is the untouched stub, which
    nbgrader shows as "not answered yet". ``explain`` lets a lesson name the
    misconception behind errors it knows (an ``AttributeError`` on ``.fc``, say).
    """
    try:
        return function(*args, **kwargs)
    except NotImplementedError as exc:
        raise NotAnswered(what) from exc
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
            GENERIC["code_error"],
        )


def correct(message: str) -> None:
    """Print the short confirmation for a right answer (stdout only: nbgrader treats stderr as failure)."""
    print(f"Correct: {message}")


@dataclass(frozen=True)
class Choice:
    """A graded multiple-choice item: its question and, for every option, the fact that decides it.

    The right letter is deliberately absent: it lives in the item's hidden test
    (``grade_choice``), never in this package, which students can read. Every
    option has an explanation written in the same form, without a verdict, so
    that neither the wording nor which options are explained gives the answer.
    """

    question: str
    options: Mapping[str, str]

    def __post_init__(self) -> None:
        letters = list(self.options)
        if len(letters) < 2 or any(
            not (isinstance(k, str) and len(k) == 1 and k.isupper()) for k in letters
        ):
            raise ValueError(
                f"options must map two or more capital letters to explanations, got {letters}"
            )
        if sorted(letters) != letters:
            raise ValueError(f"options must be in letter order, got {letters}")
        empty = [k for k, text in self.options.items() if not str(text).strip()]
        if empty or not self.question.strip():
            raise ValueError(f"every option needs an explanation (empty: {empty}) and a question")

    @property
    def letters(self) -> tuple[str, ...]:
        """The option letters, in order."""
        return tuple(self.options)


def _letter(answer: object, letters: tuple[str, ...] | list[str], question: str) -> str:
    """The answer as one of ``letters`` (case and spaces ignored), or three-part feedback."""
    # type(), not isinstance(): an object can claim to be a str through a __class__ property.
    if issubclass(type(answer), str):
        # A str subclass could redefine strip()/upper()/__eq__ to fake a letter: read its text.
        answer = str.__str__(answer)
    if type(answer) is not str or answer.strip().upper() not in letters:
        fail(
            f"one letter among {', '.join(letters)} for: {question}",
            _shown(answer),
            "store your choice as a string, for example answer = 'A'.",
            GENERIC["invalid_option"],
        )
    return answer.strip().upper()


def _shown(answer: object) -> str:
    """The refused answer for the feedback, without running a method of an unknown class."""
    if type(answer) in (str, int, float, bool, type(None)):
        return repr(answer)
    return f"a {type(answer).__name__}, not a string"


RECORDED = (
    "Recorded: {letter}. Multiple choice is scored when graded: this check confirms only "
    "that {letter} is one of {letters}. The explanation of every option comes with your feedback."
)


def record_choice(answer: object, choice: Choice) -> None:
    """The visible check of a graded multiple-choice item: the answer's form, never its truth.

    Any valid letter passes with the same message, so retrying the check tells a
    student nothing; an answer that is not one of the letters fails here, before
    submitting (``course.invalid_option``).
    """
    letter = _letter(answer, choice.letters, choice.question)
    print(RECORDED.format(letter=letter, letters=", ".join(choice.letters)))


def explain_options(choice: Choice, right: str) -> str:
    """Every option with its verdict and the fact that decides it (for feedback after grading)."""
    return "\n".join(
        f"    {k} ({'right' if k == right else 'wrong'}): {text}"
        for k, text in choice.options.items()
    )


def grade_choice(
    answer: object, choice: Choice, right: str, wrong: Mapping[str, Misconception]
) -> None:
    """The hidden test of a graded multiple-choice item: score it and explain every option.

    ``right`` is the right letter and ``wrong`` maps every other letter to the
    registered misconception that choosing it shows; both are written in the
    hidden test, so neither reaches the student's copy. A wrong answer fails
    naming its misconception (so the class report counts it); a right one
    prints the same explanations.
    """
    others = sorted(set(choice.letters) - {right})
    if right not in choice.letters or sorted(wrong) != others:
        raise ValueError(
            f"grade_choice needs right in {list(choice.letters)} and a misconception for each "
            f"other letter {others}; got right={right!r}, wrong={sorted(wrong)}"
        )
    letter = _letter(answer, choice.letters, choice.question)
    every = explain_options(choice, right)
    if letter == right:
        correct(f"option {right} for: {choice.question}\n  Every option:\n{every}")
        return
    fail(
        f"option {right} for: {choice.question}",
        f"option {letter}",
        f"read why each option holds or not:\n{every}",
        wrong[letter],
    )


def choice_grader(
    misconceptions: Mapping[str, Misconception],
) -> Callable[..., None]:
    """A lesson's ``grade_choice(answer, choice, right, **wrong)``, wrong letters named by short id.

    The hidden test writes ``checks.grade_choice(answer_q1, checks.Q1, "A",
    B="input_size_changes", C=..., D=...)``; short names resolve in the lesson's registry.
    """

    def grade(answer: object, choice: Choice, right: str, **wrong: str) -> None:
        unknown = [name for name in wrong.values() if name not in misconceptions]
        if unknown:
            raise ValueError(f"not registered in this lesson: {unknown}")
        grade_choice(answer, choice, right, {k: misconceptions[v] for k, v in wrong.items()})

    grade.__doc__ = "Score a graded multiple-choice answer (hidden tests); see ``grade_choice``."
    return grade


def check_choice(
    answer: object,
    correct_letter: str,
    why_wrong: Mapping[str, str | tuple[str, Misconception]],
    *,
    question: str,
    confirmation: str,
) -> None:
    """Check a *formative* (0-point) multiple-choice answer at once, explaining a wrong one.

    Graded items must not use it: it needs the right letter in the package and
    tells the student at once, so retrying finds the answer. They use
    ``record_choice`` (visible) and ``grade_choice`` (hidden) instead.
    ``why_wrong`` maps each wrong letter to why it is tempting and wrong, or to
    ``(why, misconception)`` so that the feedback and the class report name
    the registered misconception behind that option.
    """
    letter = _letter(answer, sorted({correct_letter, *why_wrong}), question)
    if letter != correct_letter:
        why = why_wrong[letter]
        named: Misconception | str = "misconception"
        if isinstance(why, tuple):
            why, named = why
        fail(
            f"the option that holds for: {question}",
            f"option {letter}: {why}",
            "re-read the lesson section above and test the claim with the code cell before it.",
            named,
        )
    correct(confirmation)
