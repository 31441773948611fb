"""LMS exports (``grader.books.exports``): the LMS's own ids and columns, overrides, feedback zips."""

from __future__ import annotations

import zipfile

import pytest
from _lms import CANVAS_ROSTER, MOODLE_ROSTER, record_week, rows, write

from grader.books import exports, gradebook, roster
from grader.books.results import Outcome


def test_exports_keep_the_lms_own_ids_and_columns(tmp_path):
    out = tmp_path / "out"
    record_week(out, "w1", [Outcome("s001", "lesson6", 7, 10), Outcome("s009", "lesson6", 5, 10)])
    r = roster.load(write(tmp_path / "canvas.csv", CANVAS_ROSTER))
    table = exports.build(gradebook.load(out), r, [])
    assert table.students == ["s001", "s002", "s003", "s009"] and table.unlisted == ["s009"]
    assert rows(exports.canvas_csv(table, r)) == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Lesson 6 (98765)"],
        ["Points Possible", "", "", "", "", "10"],
        ["Lee, Fay", "12345", "s001", "flee", "Sec A", "7"],
        ["Gray, Gus", "23456", "s002", "ggray", "Sec A", ""],
        ["Ng, Dan", "34567", "s003", "dng", "Sec B", ""],
        ["s009", "", "s009", "", "", "5"],
    ]
    assert r.points["Lesson 6 (98765)"] == "10" and not exports.canvas_points_mismatch(table, r)
    r.points["Lesson 6 (98765)"] = "8"
    assert exports.canvas_points_mismatch(table, r) == [
        "Canvas column 'Lesson 6 (98765)' is worth 8 points, lesson6 10: set the assignment to "
        "10 points in Canvas before importing"
    ]
    wide = rows(exports.wide_csv(table, r))
    assert wide[2][-2:] == ["lesson6", ""] and wide[4][-1] == "not on the roster"
    m = roster.load(write(tmp_path / "moodle.csv", MOODLE_ROSTER))
    assert rows(exports.moodle_csv(exports.build(gradebook.load(out), m, []), m))[1:3] == [
        ["Fay", "Lee", "s001", "fay.lee@uni.example", "7"],
        ["Gus", "Gray", "s002", "gus.gray@uni.example", ""],
    ]


def test_overrides_that_name_nobody_are_refused(tmp_path):
    out = tmp_path / "out"
    record_week(out, "w1", [Outcome("s001", "lesson1", 3, 4)])
    bad = write(out / "overrides.csv", "student_id,assignment,score,adjust\ns001,lesson9,4,\n")
    with pytest.raises(
        ValueError, match="overrides.csv line 2: no grade for student 's001' and lesson 'lesson9'"
    ):
        exports.build(gradebook.load(out), None, gradebook.load_overrides(bad))
    both = write(out / "o2.csv", "student_id,assignment,score,adjust\ns001,lesson1,4,1\n")
    with pytest.raises(ValueError, match="o2.csv line 2: give exactly one of score"):
        gradebook.load_overrides(both)


def test_feedback_is_zipped_per_student_and_for_moodle(tmp_path):
    out = tmp_path / "out"
    write(out / "feedback" / "s001" / "lesson6.html", "<p>fay 6</p>")
    write(out / "feedback" / "s001" / "lesson1.html", "<p>fay 1</p>")
    write(out / "feedback" / "s002" / "lesson6.html", "<p>gus 6</p>")
    source = "/x/moodle/Fay Lee_101_assignsubmission_file_/lesson6.ipynb"
    record_week(
        out,
        "w1",
        [Outcome("s001", "lesson6", 7, 10), Outcome("s002", "lesson6", 5, 10)],
        {
            ("s001", "lesson6"): (source, False),
            ("s002", "lesson6"): ("s.zip:gus_lesson6.ipynb", False),
        },
    )
    written = exports.package_feedback(out, gradebook.load(out))
    assert [p.name for p in written] == ["s001.zip", "s002.zip", "moodle-lesson6.zip"]
    with zipfile.ZipFile(out / "return" / "s001.zip") as zf:
        assert zf.namelist() == ["s001/lesson1.html", "s001/lesson6.html"]
        assert zf.read("s001/lesson6.html") == b"<p>fay 6</p>"
    with zipfile.ZipFile(out / "return" / "moodle-lesson6.zip") as zf:
        assert zf.namelist() == ["Fay Lee_101_assignsubmission_file_/lesson6.html"]
    before = (out / "return" / "s001.zip").read_bytes()
    exports.package_feedback(out, gradebook.load(out))
    assert (out / "return" / "s001.zip").read_bytes() == before  # same pages, same bytes
