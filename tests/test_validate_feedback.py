"""Validate (nbgrader's Validator, what the hub's Validate button runs) on a partly done lesson.

Issue 23: Validate of a partly done notebook showed one long dialog of tracebacks
into the installed checkers. Each failing test cell now shows the notebook line
that failed and the checker's message (``ExerciseError._render_traceback_``), and
the untouched stub says "not answered yet" (``NotAnswered``).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbgrader.validator import Validator
from submissions import corpus  # tests/ is on sys.path (rootdir imports)

from course_utils.checks._feedback import REVIEW_LINE

pytestmark = pytest.mark.long(25)

ROOT = Path(__file__).resolve().parents[1]
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _partly_done(tmp_path: Path) -> Path:
    """Lesson 1 as released: ex1 untouched, ex2 with dropout after the layer, wrong letters."""
    released = nbformat.read(ROOT / "notebooks/lesson1/lesson1.ipynb", as_version=4)
    source = nbformat.read(ROOT / "solutions/lesson1/lesson1.ipynb", as_version=4)
    nb = corpus.wrong_answers(released, source)
    ex2 = next(e for e in corpus.exercises(released, source) if e.answer_id == "ex2_answer")
    right = "nn.Sequential(nn.Dropout(p), nn.Linear(in_features, num_classes))"
    assert right in ex2.solution
    wrong = ex2.solution.replace(
        right, "nn.Sequential(nn.Linear(in_features, num_classes), nn.Dropout(p))"
    )
    next(c for c in nb.cells if corpus._meta(c).get("grade_id") == "ex2_answer").source = wrong
    path = tmp_path / "lesson1.ipynb"
    nbformat.write(nb, path)
    return path


def test_validate_of_a_partly_done_lesson_is_short_and_names_each_failure(tmp_path):
    failed = Validator().validate(str(_partly_done(tmp_path)))["failed"]
    by_check = {
        re.search(r"checks\.(check_\w+)\(", f["source"])[1]: _ANSI.sub("", f["raw_error"])
        for f in failed
    }
    print("\n\n".join(by_check.values()))
    # two test cells fail: ex1 not answered, ex2 wrong. The three wrong letters pass Validate:
    # a graded multiple-choice check only records the letter (it is scored when graded).
    assert sorted(by_check) == ["check_dropout_head", "check_split_model"], sorted(by_check)
    for check, error in by_check.items():
        # no frame of the installed checkers, only the notebook's line and the message
        assert "course_utils" not in error and "site-packages" not in error, (check, error)
        assert re.match(r"Cell In\[\d+\], line \d+\n", error), (check, error)
        assert len(error.splitlines()) <= 7, (check, error)
    assert "not answered yet" in by_check["check_split_model"]
    assert (
        "Expected:" in by_check["check_dropout_head"] and "Hint:" in by_check["check_dropout_head"]
    )
    # the message's Review line names the misconception to the student
    assert (
        REVIEW_LINE.findall(by_check["check_dropout_head"])[-1][1] == "lesson1.dropout_after_linear"
    )
