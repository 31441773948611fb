"""A tiny course for the release and grading tests: two lessons that import nothing heavy.

Each lesson has a read-only set-up cell, a function to write and a
multiple-choice item, each followed by a test cell with hidden tests that use
``course_utils.checks`` the way the real lessons do.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = Path(__file__).resolve().parents[2]
LESSONS = ("intro", "basics")


def _cell(make, source: str, grade_id: str, **flags):
    cell = make(source)
    cell.metadata["nbgrader"] = {
        "grade": False,
        "solution": False,
        "locked": False,
        "grade_id": grade_id,
        "schema_version": 3,
        **flags,
    }
    return cell


def lesson(name: str, power: int):
    """Lesson ``name``: write ``power_of(x)`` (x ** ``power``), then pick option B."""
    nb = new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        new_markdown_cell(f"# {name}: a fake lesson for the grader's tests"),
        _cell(
            new_code_cell,
            "from course_utils.checks import check_choice, fail\nprint('set up')",
            "setup",
            locked=True,
        ),
        _cell(
            new_code_cell,
            "def power_of(x):\n    ### BEGIN SOLUTION\n"
            f"    return x ** {power}  # the secret step\n    ### END SOLUTION",
            "power_answer",
            solution=True,
        ),
        _cell(
            new_code_cell,
            f"if power_of(2) != {2**power}:\n"
            f"    fail('{2**power} for power_of(2)', repr(power_of(2)), 'multiply x by itself', "
            "'wrong power')\n### BEGIN HIDDEN TESTS\n"
            f"assert power_of(-3) == {(-3) ** power}, 'the hidden negative case'\n"
            "### END HIDDEN TESTS",
            "power_tests",
            grade=True,
            locked=True,
            points=2,
        ),
        _cell(
            new_code_cell,
            "### BEGIN SOLUTION\nanswer_q1 = 'B'\n### END SOLUTION",
            "q1_answer",
            solution=True,
        ),
        _cell(
            new_code_cell,
            "check_choice(answer_q1, 'B', {'A': 'tempting: the head sets the input "
            "size', 'C': 'tempting: swapping shrinks the model'}, question='what does the head do?', "
            "confirmation='the head maps features to class scores')\n### BEGIN HIDDEN TESTS\n"
            "assert str.__str__(answer_q1).strip().upper() == 'B', 'hidden check of q1'\n"
            "### END HIDDEN TESTS",
            "q1_tests",
            grade=True,
            locked=True,
            points=1,
        ),
    ]
    return nb


def make(root: Path) -> Path:
    """A course root at ``root`` (the real grader config, fake solutions); returns ``root``."""
    (root / "grader").mkdir(parents=True)
    shutil.copyfile(REPO / "grader" / "nbgrader_config.py", root / "grader" / "nbgrader_config.py")
    for power, name in enumerate(LESSONS, start=2):
        folder = root / "solutions" / name
        folder.mkdir(parents=True)
        nbformat.write(lesson(name, power), folder / f"{name}.ipynb")
    return root
