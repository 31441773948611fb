"""Grading records (``grader.job.records``): per graded cell, the exercise's name, passed or not,
the misconception its checker named, and whether it failed only in its hidden tests.
"""

from __future__ import annotations

import json

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from submissions import fake_course  # tests/ is on sys.path (rootdir imports)
from submissions.powers import (
    EX1,
    EX2,
    error,
    graded_powers,
    powers_lesson,
)

from grader.job import records as grading


def test_exercise_names_come_from_the_headings_before_the_answer():
    names = grading.exercise_names(powers_lesson())
    assert names == {
        "power_tests": (EX1, "2. Powers of a number"),
        "q1_tests": (EX2, "3. What the head does"),
    }


def test_exercise_names_use_bold_leads_and_number_shared_names():
    cell = fake_course._cell
    nb = new_notebook(
        cells=[
            new_markdown_cell("## 1. Section"),
            new_markdown_cell("**Question 1 (1 point).** Which one?"),
            cell(new_code_cell, "answer_q1 = 'A'", "q1_answer", solution=True),
            cell(new_code_cell, "check(answer_q1)", "q1_tests", grade=True, points=1),
            new_markdown_cell("### Claim 2\n\n**Question 2.** Which one?"),  # the heading wins
            cell(new_code_cell, "answer_q2 = 'A'", "q2_answer", solution=True),
            cell(new_code_cell, "check(answer_q2)", "q2_tests", grade=True, points=1),
            new_markdown_cell("### Exercise 3 (2 points)"),
            cell(new_code_cell, "x = 1", "a_answer", solution=True),
            cell(new_code_cell, "check(x)", "a_tests", grade=True, points=1),
            cell(new_code_cell, "y = 1", "b_answer", solution=True),
            cell(new_code_cell, "check(y)", "b_tests", grade=True, points=1),
        ]
    )
    assert {k: v[0] for k, v in grading.exercise_names(nb).items()} == {
        "q1_tests": "Question 1",
        "q2_tests": "Claim 2",
        "a_tests": "Exercise 3, part 1 of 2",
        "b_tests": "Exercise 3, part 2 of 2",
    }


def test_records_keep_the_last_review_line_and_nothing_else():
    # The student's own error text may contain a fake Review line: the checker's comes last.
    fake = "Review: nowhere [powers.head_sets_input]"
    message = (
        f"\n  Expected: 4\n  Your answer shows: it raised ValueError: {fake}\n"
        "  Hint: ...\n  Review: the exercise's instructions [course.code_error]"
    )
    graded = graded_powers(
        {
            "power_tests": [error(message)],
            "q1_tests": [new_output("stream", name="stderr", text="warning")],
        }
    )
    scores = [
        {"grade_id": "q1_tests", "score": 0, "max_score": 1},
        {"grade_id": "power_tests", "score": 0, "max_score": 2},
    ]
    records = grading.cell_records(graded, powers_lesson(), scores)
    assert [r["grade_id"] for r in records] == ["power_tests", "q1_tests"]  # notebook order
    assert records[0]["misconception"] == "course.code_error" and not records[0]["passed"]
    assert records[1]["misconception"] is None and not records[1]["passed"]
    assert "Expected" not in json.dumps(records) and "ValueError" not in json.dumps(records)
    passed = grading.cell_records(
        graded, powers_lesson(), [{"grade_id": "power_tests", "score": 2, "max_score": 2}]
    )
    assert passed[0]["passed"] and passed[0]["misconception"] is None


def test_clean_records_refuses_what_is_not_a_misconception_id():
    kept = grading.clean_records(
        [
            {"grade_id": "a", "passed": False, "misconception": "assert x == 42, 'secret'"},
            {"grade_id": "b", "passed": False, "misconception": "lesson4.typed_in_features"},
            "not a record",
            {"no": "grade id"},
        ]
    )
    assert [(r["grade_id"], r["misconception"]) for r in kept] == [
        ("a", None),
        ("b", "lesson4.typed_in_features"),
    ]
    assert grading.clean_records("nonsense") == []


def _test_cell(source: str, traceback: list[str], count: int = 7):
    cell = new_code_cell(source, execution_count=count)
    cell.outputs = [new_output("error", ename="E", evalue="", traceback=traceback)]
    return cell


TESTS = "check(f)\n### BEGIN HIDDEN TESTS\nassert f(3) == 9\ncheck(f, 3)\n### END HIDDEN TESTS"


def test_a_failure_is_hidden_only_when_its_cell_line_lies_in_the_hidden_block():
    red = "\x1b[0;32m"
    visible = _test_cell(TESTS, ["---", f"Cell {red}In[7], line 1\x1b[0m\n----> 1 check(f)"])
    hidden = _test_cell(TESTS, ["---", "Cell In[7], line 4\n----> 4 check(f, 3)", "File x.py:3"])
    # The student's function (cell 3, line 5) raised; the check chained it, from line 1.
    chained = _test_cell(
        TESTS,
        [
            "Cell In[3], line 5, in f\n----> 5 return x.fc",
            "The above exception was the direct cause of the following exception:",
            "Cell In[7], line 1\n----> 1 check(f)",
        ],
    )
    no_hidden = _test_cell("check(f)\ncheck(f, 3)", ["Cell In[7], line 2"])
    no_line = _test_cell(TESTS, ["KernelRestarted: the kernel died"])
    assert grading.failed_in_hidden_tests(hidden)
    for cell in (visible, chained, no_hidden, no_line):
        assert not grading.failed_in_hidden_tests(cell)
