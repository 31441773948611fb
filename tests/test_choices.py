"""Graded multiple choice: guessing against the visible check earns nothing.

Every graded multiple-choice item of every lesson is found in the solution
notebooks (a test cell whose hidden block calls ``checks.grade_choice``). For
each, the visible check must accept every option with the same message (so
retrying it tells a student nothing), the hidden test must score the right
letter and name a registered misconception for every other one, the package
(which students can read) must hold an explanation for every option and no
right letter, and neither the options nor their explanations may give the right
one away by length. ``free_points`` is the measurement quoted in docs/design.md:
the points a student collects by trying every option against the visible check.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from course_utils.checks import ExerciseError, all_misconceptions
from course_utils.checks._feedback import Choice

ROOT = Path(__file__).resolve().parents[1]
LESSONS = [f"lesson{n}" for n in range(1, 9)]
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
OPTION = re.compile(r"^\*\s+(?:\*\*)?([A-F])(?:\*\*)?[.:]?(?:\*\*)?[.:]?\s+(.+)$", re.M)
GRADE = re.compile(r"checks\.grade_choice\(\s*(answer_q\d+),\s*checks\.(Q\d+),\s*\"([A-F])\"")


@dataclass
class Item:
    lesson: str
    variable: str  # answer_qN
    visible: str  # the visible part of its test cell
    hidden: str  # its hidden block
    points: float
    options: dict[str, str]  # letter -> option text, from the markdown above
    right: str | None  # from the hidden test (None: computed there from data)
    choice: str | None  # name of the package's Choice (None: built from data)
    above: list[str]  # outputs of the code cells above the question, as stored


def _text(output) -> str:
    if "text" in output:
        return str(output["text"])
    return "\n".join(str(v) for k, v in output.get("data", {}).items() if k == "text/plain")


def items(lesson: str) -> list[Item]:
    """The graded multiple-choice items of ``lesson``'s solution notebook, in order."""
    nb = nbformat.read(ROOT / "solutions" / lesson / f"{lesson}.ipynb", as_version=4)
    found = []
    for index, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        hidden = HIDDEN.search(cell.source)
        if not (meta.get("grade") and hidden and "grade_" in hidden.group(1)):
            continue
        if "grade_choice" not in hidden.group(1) and "grade_setup_choice" not in hidden.group(1):
            continue
        variable = re.search(r"\b(answer_q\d+)\b", cell.source).group(1)
        graded = GRADE.search(hidden.group(1))
        # The markdown cell that lists this variable's options: the last one above its answer cell.
        answer = max(
            i
            for i in range(index)
            if nb.cells[i].metadata.get("nbgrader", {}).get("solution")
            and re.search(rf"^{variable}\s*=", nb.cells[i].source, re.M)
        )
        markdown = next(
            nb.cells[i].source
            for i in range(answer - 1, -1, -1)
            if nb.cells[i].cell_type == "markdown" and OPTION.search(nb.cells[i].source)
        )
        groups = re.split(r"\*\*`(answer_q\d+)`", markdown)
        if len(groups) > 1:  # several questions in one cell: take this variable's part
            markdown = groups[groups.index(variable) + 1]
        start = max(
            i
            for i in range(answer)
            if nb.cells[i].cell_type == "markdown" and OPTION.search(nb.cells[i].source)
        )
        found.append(
            Item(
                lesson=lesson,
                variable=variable,
                visible=cell.source[: hidden.start()],
                hidden=hidden.group(1),
                points=float(meta.get("points", 0)),
                options=dict(OPTION.findall(markdown)),
                right=graded.group(3) if graded else None,
                choice=graded.group(2) if graded else None,
                above=[
                    _text(o)
                    for c in nb.cells[:start]
                    if c.cell_type == "code"
                    for o in c.get("outputs", [])
                ],
            )
        )
    return found


ALL = [item for lesson in LESSONS for item in items(lesson)]
SCORED = [item for item in ALL if item.right is not None]


def _run(source: str, lesson: str, variable: str, letter: object) -> tuple[bool, str]:
    """Run a test-cell part with the answer set: (passed, what it printed or raised)."""
    namespace = {
        "checks": importlib.import_module(f"course_utils.checks.{lesson}"),
        variable: letter,
    }
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(source, f"<{lesson} {variable}>", "exec"), namespace)
    except ExerciseError as err:
        return False, str(err)
    return True, out.getvalue()


def free_points(found: list[Item]) -> float:
    """Points a student earns for sure by trying every option against the visible check alone:
    an item whose visible check accepts exactly one letter gives its points away."""
    total = 0.0
    for item in found:
        accepted = [
            letter
            for letter in item.options
            if _run(item.visible, item.lesson, item.variable, letter)[0]
        ]
        total += item.points if len(accepted) == 1 else 0.0
    return total


def test_every_lesson_with_choices_is_found() -> None:
    per_lesson = {lesson: len(items(lesson)) for lesson in LESSONS}
    assert len(ALL) >= 24, per_lesson
    assert all(len(item.options) >= 3 for item in ALL), [
        (i.lesson, i.variable, i.options) for i in ALL if len(i.options) < 3
    ]


@pytest.mark.parametrize("item", ALL, ids=lambda i: f"{i.lesson}-{i.variable}")
def test_the_visible_check_accepts_every_option_alike(item: Item) -> None:
    said = {}
    for letter in item.options:
        passed, text = _run(item.visible, item.lesson, item.variable, letter.lower())
        assert passed, f"{item.lesson} {item.variable}: the visible check refused {letter}: {text}"
        # The message names the letter recorded; everything else must be the same.
        said[letter] = re.sub(rf"(?<=Recorded: ){letter}\b|\b{letter}\b(?= is one of)", "?", text)
    assert len(set(said.values())) == 1, f"the visible check's message differs: {said}"
    passed, text = _run(item.visible, item.lesson, item.variable, "Z")
    assert not passed and "course.invalid_option" in text


def test_no_point_is_free_against_the_visible_checks() -> None:
    assert free_points(ALL) == 0.0


@pytest.mark.parametrize("item", SCORED, ids=lambda i: f"{i.lesson}-{i.variable}")
def test_the_hidden_test_scores_every_option(item: Item) -> None:
    known = all_misconceptions()
    choice = getattr(importlib.import_module(f"course_utils.checks.{item.lesson}"), item.choice)
    assert isinstance(choice, Choice)
    assert list(choice.options) == list(item.options), "the package explains other letters"
    for letter in item.options:
        passed, text = _run(item.hidden, item.lesson, item.variable, f" {letter.lower()}")
        for other in item.options:  # every option explained, with its verdict
            assert f"    {other} (" in text, f"{letter}: option {other} not explained"
        if letter == item.right:
            assert passed and text.startswith("Correct:"), text
        else:
            assert not passed, f"{item.lesson} {item.variable}: wrong {letter} scored"
            named = re.findall(r"\[([a-z0-9_]+\.[a-z0-9_]+)\]$", text, re.M)
            assert named and named[-1] in known, f"{letter}: no registered misconception"


def test_no_lesson_module_holds_a_right_letter() -> None:
    """Graded items use record_choice; check_choice (which needs the right letter) is formative."""
    for lesson in LESSONS:
        source = (ROOT / "course_utils" / "checks" / f"{lesson}.py").read_text()
        assert "check_choice(" not in source, f"{lesson}.py calls check_choice"


VERDICT = re.compile(r"\b(correct|incorrect|wrong|right answer|tempting|mistake)\b", re.I)


@pytest.mark.parametrize("item", SCORED, ids=lambda i: f"{i.lesson}-{i.variable}")
def test_explanations_carry_no_verdict(item: Item) -> None:
    choice = getattr(importlib.import_module(f"course_utils.checks.{item.lesson}"), item.choice)
    for letter, text in choice.options.items():
        assert not VERDICT.search(text), f"{item.choice} {letter}: {text!r}"


def _longest(texts: dict[str, str], letter: str) -> bool:
    size = {k: len(re.sub(r"[`*]", "", v)) for k, v in texts.items()}
    return all(size[letter] > n for k, n in size.items() if k != letter)


def test_the_right_option_is_not_systematically_the_longest() -> None:
    """Neither in the notebook's options nor in the package's explanations (students read both).

    With four options chance makes the right one the longest about a quarter of the time;
    a third is the limit.
    """
    options = [i for i in SCORED if _longest(i.options, i.right)]
    assert len(options) <= len(SCORED) / 3, [(i.lesson, i.variable) for i in options]
    explained = [
        i
        for i in SCORED
        if _longest(
            getattr(importlib.import_module(f"course_utils.checks.{i.lesson}"), i.choice).options,
            i.right,
        )
    ]
    assert len(explained) <= len(SCORED) / 3, [(i.lesson, i.variable) for i in explained]


def test_no_letter_is_right_much_more_often_than_chance() -> None:
    """Always answering one letter scores at most 30 % (chance with four options: 25 %).

    Before the options were reordered, B was right in 10 of 23 items (43 %).
    """
    letters = [i.right for i in SCORED if i.right is not None]
    counts = {x: letters.count(x) for x in sorted(set(letters))}
    assert max(counts.values()) <= 0.3 * len(letters), counts


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[`*]", "", text)).strip().rstrip(".").lower()


@pytest.mark.parametrize("item", SCORED, ids=lambda i: f"{i.lesson}-{i.variable}")
def test_no_output_above_the_question_prints_its_answer(item: Item) -> None:
    """The right option's text (or, for a value such as a shape, the value) is in no output
    of a code cell above the question, as stored in the solution (what nbval compares).

    A one- or two-word option (a metric's name) appears in outputs for other reasons.
    """
    right = _plain(item.options[item.right])
    value = re.fullmatch(r"\(([\d, ]+)\)", right)
    if value is None and len(right.split()) < 3:
        pytest.skip(f"{right!r}: too short to tell an answer from a mention")
    needles = [right] + ([f"torch.size([{value.group(1)}])"] if value else [])
    for output in item.above:
        for needle in needles:
            assert needle not in _plain(output), f"{item.variable}: {needle!r} printed above"


# --- hostile answers: objects that pretend to be the right letter -----------------------------


def _hostile(right: str, text: str = "") -> dict[str, object]:
    """Answers that try to pass for ``right`` (or for every letter) without being that letter.

    The str subclasses hold ``text`` ("" by default: no letter at all) and redefine what a
    checker might ask of them; the last two are not str at all.
    """

    class EqualsEverything(str):
        def __eq__(self, other: object) -> bool:
            return True

        def __ne__(self, other: object) -> bool:
            return False

        __hash__ = str.__hash__

    class HashAndContains(str):
        """Equal to everything, hashed as the right letter, and 'in' any container test."""

        def __eq__(self, other: object) -> bool:
            return True

        def __hash__(self) -> int:
            return hash(right)

        def __contains__(self, item: object) -> bool:
            return True

    class Chameleon(EqualsEverything):
        """strip()/upper()/lower() hand back the chameleon; str() and format() say the letter."""

        def __hash__(self) -> int:
            return hash(right)

        def strip(self, chars: str | None = None) -> str:
            return self

        def upper(self) -> str:
            return self

        def lower(self) -> str:
            return self

        def casefold(self) -> str:
            return self

        def __str__(self) -> str:
            return right

        def __format__(self, spec: str) -> str:
            return right

    class PrintsAsTheLetter:
        """Not a str: str(), repr() and format() give the right letter, and it equals anything."""

        def __str__(self) -> str:
            return right

        def __repr__(self) -> str:
            return repr(right)

        def __format__(self, spec: str) -> str:
            return right

        def __eq__(self, other: object) -> bool:
            return True

        def __hash__(self) -> int:
            return hash(right)

        def strip(self, chars: str | None = None) -> PrintsAsTheLetter:
            return self

        def upper(self) -> PrintsAsTheLetter:
            return self

    class ClaimsToBeAStr(PrintsAsTheLetter):
        """isinstance(answer, str) is True through a __class__ property; type() tells the truth."""

        @property  # type: ignore[misc]
        def __class__(self) -> type:
            return str

    return {
        "equals-everything": EqualsEverything(text),
        "hash-and-contains": HashAndContains(text),
        "chameleon": Chameleon(text),
        "prints-as-the-letter": PrintsAsTheLetter(),
        "claims-to-be-a-str": ClaimsToBeAStr(),
    }


HOSTILE = list(_hostile("A"))


@pytest.mark.parametrize("attack", HOSTILE)
def test_a_hostile_answer_scores_nothing(attack: str) -> None:
    """The hidden test of every scored item refuses it as no option (course.invalid_option):
    the ExerciseError a wrong form gets, not a point and not a bare Python error."""
    for item in SCORED:
        answer = _hostile(item.right or "A")[attack]
        passed, text = _run(item.hidden, item.lesson, item.variable, answer)
        assert not passed, f"{item.lesson} {item.variable}: {attack} scored: {text}"
        assert "course.invalid_option" in text, f"{item.lesson} {item.variable}: {text}"


@pytest.mark.parametrize("attack", HOSTILE)
def test_the_visible_check_refuses_a_hostile_answer_with_feedback(attack: str) -> None:
    for item in ALL:
        answer = _hostile(item.right or "A")[attack]
        passed, text = _run(item.visible, item.lesson, item.variable, answer)
        assert not passed and "course.invalid_option" in text, f"{item.variable}: {text}"
        assert "not a string" in text or "''" in text, text  # says what it got, not 'A'


def test_a_str_subclass_is_read_by_its_text_only() -> None:
    """A chameleon holding a wrong letter is scored as that letter, whatever its methods say."""
    known = all_misconceptions()
    for item in SCORED:
        wrong = next(letter for letter in item.options if letter != item.right)
        answer = _hostile(item.right or "A", text=wrong)["chameleon"]
        passed, text = _run(item.hidden, item.lesson, item.variable, answer)
        assert not passed, f"{item.lesson} {item.variable}: a chameleon of {wrong} scored"
        named = re.findall(r"\[([a-z0-9_]+\.[a-z0-9_]+)\]$", text, re.M)
        assert named and named[-1] in known and named[-1] != "course.invalid_option", text
        passed, text = _run(item.visible, item.lesson, item.variable, answer)
        assert passed and text.startswith(f"Recorded: {wrong}."), text
