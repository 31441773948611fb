"""The course gradebook (``grader.books.gradebook``) over three weeks from recorded outcomes, and the
formgrader's manual grades as adjustments.
"""

from __future__ import annotations

import pytest
from _lms import SIMPLE_ROSTER, record_week, rows, write

from grader.books import exports, gradebook, roster
from grader.books.results import Outcome

pytestmark = pytest.mark.long(1)

# --- the gradebook over three weeks ----------------------------------------------------


def test_three_weeks_accumulate_and_regrading_replaces_only_what_was_regraded(tmp_path):
    out = tmp_path / "out"
    r = roster.load(write(tmp_path / "roster.csv", SIMPLE_ROSTER))
    # week 1: lesson1; s004 submitted nothing
    record_week(
        out,
        "w1",
        [
            Outcome("s001", "lesson1", 3, 4),
            Outcome("s002", "lesson1", 4, 4),
            Outcome("s003", "lesson1", 1, 4, "flagged"),
            Outcome("s004", "lesson1", 0, 4, "missing"),
        ],
        {("s002", "lesson1"): ("gray_23456_1_lesson1.ipynb", True)},
    )
    # week 2: lesson2; s003 missing
    record_week(
        out,
        "w2",
        [
            Outcome("s001", "lesson2", 5, 6),
            Outcome("s002", "lesson2", 6, 6),
            Outcome("s003", "lesson2", 0, 6, "missing"),
            Outcome("s004", "lesson2", 2, 6),
        ],
    )
    # week 3: s004 hands in lesson1 late, graded alone; the others are "missing" in that run
    path, replaced, added, kept, _ = record_week(
        out,
        "w3",
        [
            Outcome("s004", "lesson1", 2, 4),
            Outcome("s001", "lesson1", 0, 4, "missing"),
            Outcome("s002", "lesson1", 0, 4, "missing"),
            Outcome("s003", "lesson1", 0, 4, "missing"),
        ],
    )
    assert (replaced, added, kept) == (1, 0, [])
    assert path.read_text().splitlines() == [
        "student_id,assignment,score,max_score,status,graded_at,source,late,attempt",
        "s001,lesson1,3,4,graded,w1,,,",
        "s001,lesson2,5,6,graded,w2,,,",
        "s002,lesson1,4,4,graded,w1,gray_23456_1_lesson1.ipynb,late,",
        "s002,lesson2,6,6,graded,w2,,,",
        "s003,lesson1,1,4,flagged,w1,,,",
        "s003,lesson2,0,6,missing,,,,",
        "s004,lesson1,2,4,graded,w3,,,",
        "s004,lesson2,2,6,graded,w2,,,",
    ]
    history = sorted((out / "history").iterdir())
    assert len(history) == 2  # the two earlier versions
    assert all("s004,lesson1,0,4,missing" in p.read_text() for p in history)

    # a manual override file: a new score for one, a deduction for another
    write(
        out / "overrides.csv",
        "student_id,assignment,score,adjust,comment\n"
        "s003,lesson1,3,,reviewed the flagged notebook\n"
        "s002,lesson1,,-1,late penalty\n",
    )
    table = exports.build(gradebook.load(out), r, gradebook.load_overrides(out / "overrides.csv"))
    assert rows(exports.long_csv(table)) == [
        ["student_id", "assignment", "score", "max_score", "status"],
        ["s001", "lesson1", "3", "4", "graded"],
        ["s001", "lesson2", "5", "6", "graded"],
        ["s002", "lesson1", "3", "4", "override"],
        ["s002", "lesson2", "6", "6", "graded"],
        ["s003", "lesson1", "3", "4", "override"],
        ["s003", "lesson2", "0", "6", "missing"],
        ["s004", "lesson1", "2", "4", "graded"],
        ["s004", "lesson2", "2", "6", "graded"],
    ]
    assert rows(exports.wide_csv(table, r)) == [
        [
            "student_id",
            "name",
            "lesson1",
            "lesson2",
            "total",
            "max_total",
            "percent",
            "lesson1 %",
            "lesson2 %",
            "missing",
            "notes",
        ],
        ["s001", "Fay Lee", "3", "5", "8", "10", "80.0", "75.0", "83.3", "", ""],
        [
            "s002",
            "Gus Gray",
            "3",
            "6",
            "9",
            "10",
            "90.0",
            "75.0",
            "100.0",
            "",
            "lesson1: late; lesson1: 4 -> 3 (-1: late penalty)",
        ],
        [
            "s003",
            "Dan Ng",
            "3",
            "0",
            "3",
            "10",
            "30.0",
            "75.0",
            "0.0",
            "lesson2",
            "lesson1: 1 -> 3 (at least 3: reviewed the flagged notebook)",
        ],
        ["s004", "Eve Park", "2", "2", "4", "10", "40.0", "50.0", "33.3", "", ""],
    ]
    assert rows(exports.canvas_csv(table, r)) == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "lesson1", "lesson2"],
        ["Points Possible", "", "", "", "", "4", "6"],
        ["Fay Lee", "", "s001", "", "", "3", "5"],
        ["Gus Gray", "", "s002", "", "", "3", "6"],
        ["Dan Ng", "", "s003", "", "", "3", ""],  # missing: blank, Canvas keeps what it has
        ["Eve Park", "", "s004", "", "", "2", "2"],
    ]
    assert rows(exports.moodle_csv(table, r)) == [
        ["First name", "Last name", "ID number", "Email address", "lesson1", "lesson2"],
        ["Fay", "Lee", "s001", "fay.lee@uni.example", "3", "5"],
        ["Gus", "Gray", "s002", "gus.gray@uni.example", "3", "6"],
        ["Dan", "Ng", "s003", "dan.ng@uni.example", "3", ""],
        ["Eve", "Park", "s004", "eve@uni.example", "2", "2"],
    ]


@pytest.mark.slow  # nbgrader's gradebook takes seconds to set up
def test_formgrader_manual_grades_become_adjustments(tmp_path):
    from nbgrader.api import Gradebook

    db = tmp_path / "gradebook.db"
    with Gradebook(f"sqlite:///{db}") as gb:
        gb.add_assignment("lesson1")
        gb.add_notebook("lesson1", "lesson1")
        for name, points in (("q1", 2), ("q2", 1)):
            gb.add_grade_cell(name, "lesson1", "lesson1", max_score=points, cell_type="code")
        for student in ("s001", "s002"):
            gb.add_student(student)
            gb.add_submission("lesson1", student)
        for student, cell, auto, manual in (
            ("s001", "q1", 0, 2),
            ("s001", "q2", 1, None),
            ("s002", "q1", 2, None),
        ):
            grade = gb.find_grade(cell, "lesson1", "lesson1", student)
            grade.auto_score, grade.manual_score = auto, manual
        gb.db.commit()
    found = gradebook.formgrader_overrides(db, ["lesson1", "lesson2"])
    assert [(o.student_id, o.assignment, o.score, o.adjust) for o in found] == [
        ("s001", "lesson1", None, 2.0)
    ]
    assert "q1" in found[0].comment
    out = tmp_path / "out"
    record_week(out, "w1", [Outcome("s001", "lesson1", 1, 3), Outcome("s002", "lesson1", 3, 3)])
    table = exports.build(gradebook.load(out), None, found)
    assert rows(exports.long_csv(table))[1:] == [
        ["s001", "lesson1", "3", "3", "override"],
        ["s002", "lesson1", "3", "3", "graded"],
    ]
