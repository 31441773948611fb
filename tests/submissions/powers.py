"""A test-only lesson, ``powers``, whose checks name registered misconceptions.

Its notebook (``powers_lesson``) has a visible check and a hidden test per
exercise; ``graded_powers`` is it with the outputs a grading run would leave.
The records, feedback and report tests share it.
"""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from submissions import fake_course  # tests/ is on sys.path (rootdir imports)

from course_utils.checks import Misconception
from course_utils.checks._feedback import GENERIC

FAKE = {
    m.id: m
    for m in (
        Misconception(
            "powers.wrong_power", "the power is not the one asked for", "2. Powers of a number"
        ),
        Misconception(
            "powers.head_sets_input", "the head decides the input size", "3. What the head does"
        ),
    )
}
GENERIC_IDS = {m.id: m for m in GENERIC.values()}
KNOWN = {**GENERIC_IDS, **FAKE}  # what the fast tests look ids up in (no torch import)
HIDDEN_MESSAGE = "HIDDEN-ONLY the negative case"

SETUP = (
    "from course_utils.checks import Misconception, check_choice, correct, fail\n"
    "from course_utils.checks._feedback import call_student\n"
    + "".join(
        f"{m.id.split('.')[1].upper()} = Misconception({m.id!r}, {m.text!r}, {m.section!r})\n"
        for m in FAKE.values()
    )
)
POWER_TESTS = (
    "value = call_student(power_of, 2, what='power_of(2)')\n"
    "if value != 4:\n"
    "    fail('4 for power_of(2)', repr(value), 'multiply x by itself', WRONG_POWER)\n"
    "correct('power_of(2) is 4')\n"
    "### BEGIN HIDDEN TESTS\n"
    f"assert power_of(-3) == 9, {HIDDEN_MESSAGE!r}\n"
    "### END HIDDEN TESTS"
)
Q1_TESTS = (
    "check_choice(answer_q1, 'B', {'A': ('tempting: the head is the first layer', "
    "HEAD_SETS_INPUT), 'C': 'tempting: swapping shrinks the model'}, "
    "question='what does the head do?', confirmation='the head maps features to class scores')\n"
    "### BEGIN HIDDEN TESTS\n"
    "assert str.__str__(answer_q1).strip().upper() == 'B', 'HIDDEN-ONLY q1 is B'\n"
    "### END HIDDEN TESTS"
)
EX1 = "Exercise 1 — write power_of"
EX2 = "Exercise 2: what does the head do?"


def powers_lesson():
    """Lesson ``powers``: write ``power_of`` (2 points), then pick option B (1 point)."""
    cell = fake_course._cell
    nb = new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        new_markdown_cell("# Powers: a test-only lesson"),
        cell(new_code_cell, SETUP, "setup", locked=True),
        new_markdown_cell("## 2. Powers of a number\n\nSquaring multiplies a number by itself."),
        new_markdown_cell("### Exercise 1 — write power_of (2 points)\n\nReturn `x` squared."),
        cell(
            new_code_cell,
            "def power_of(x):\n    ### BEGIN SOLUTION\n"
            "    return x ** 2  # the secret step\n    ### END SOLUTION",
            "power_answer",
            solution=True,
        ),
        cell(new_code_cell, POWER_TESTS, "power_tests", grade=True, locked=True, points=2),
        new_markdown_cell("## 3. What the head does"),
        new_markdown_cell("### Exercise 2 (1 point): what does the head do?\n\nA, B or C."),
        cell(
            new_code_cell,
            "### BEGIN SOLUTION\nanswer_q1 = 'B'\n### END SOLUTION",
            "q1_answer",
            solution=True,
        ),
        cell(new_code_cell, Q1_TESTS, "q1_tests", grade=True, locked=True, points=1),
    ]
    return nb


def graded_powers(outputs: dict[str, list]):
    """``powers_lesson()`` with ``outputs`` (by grade id) in its cells, as grading leaves them."""
    nb = powers_lesson()
    for c in nb.cells:
        grade_id = c.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in outputs:
            c.outputs = outputs[grade_id]
    return nb


def error(evalue: str):
    """A checker's error output with ``evalue`` as its message."""
    return new_output("error", ename="ExerciseError", evalue=evalue, traceback=["...", evalue])


def record_cell(
    grade_id, exercise, passed, misconception=None, points=1.0, section="s", hidden_only=False
):
    """One cell's grading record, as ``grader.job.records.cell_records`` writes it."""
    return {
        "grade_id": grade_id,
        "exercise": exercise,
        "section": section,
        "score": points if passed else 0.0,
        "max_score": points,
        "passed": passed,
        "misconception": misconception,
        "hidden_only": hidden_only,
    }
