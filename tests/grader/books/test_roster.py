"""Class lists (``grader.books.roster``): Canvas and Moodle exports and a simple CSV, read or refused
with the file and the row named.
"""

from __future__ import annotations

import pytest
from _lms import CANVAS_ROSTER, MOODLE_ROSTER, write

from grader.books import roster


def test_canvas_roster_skips_points_and_test_student(tmp_path):
    r = roster.load(write(tmp_path / "canvas.csv", CANVAS_ROSTER))
    assert r.kind == "canvas" and r.ids == ["s001", "s002", "s003"]
    assert r.get("s001").name == "Fay Lee" and r.get("s001").lms["ID"] == "12345"
    assert r.resolve(["12345", "whoever"]) == ("s001", "")
    assert r.resolve(["0", "leefay"]) == ("s001", "")  # Canvas file names: sortable name, no spaces
    assert r.resolve(["flee"]) == ("s001", "")
    student, why = r.resolve(["77777", "nobody"])
    assert student is None and "'nobody' is not on the roster canvas.csv" in why


def test_moodle_roster_reads_bom_accents_and_names(tmp_path):
    r = roster.load(write(tmp_path / "moodle.csv", MOODLE_ROSTER))
    assert r.kind == "moodle" and r.ids == ["s001", "s002", "s003", "s004"]
    assert r.resolve(["participant9", "Fay Lee"]) == ("s001", "")
    assert r.resolve(["Zoe Angel"]) == ("s004", "")
    assert r.resolve(["dan.ng"]) == ("s003", "")  # a Blackboard login is the e-mail's local part


def test_roster_errors_name_the_file_and_the_row(tmp_path):
    with pytest.raises(roster.RosterError, match="none of the known forms"):
        roster.load(write(tmp_path / "a.csv", "who,what\nann,1\n"))
    with pytest.raises(roster.RosterError, match="lines 2 and 3"):
        roster.load(write(tmp_path / "b.csv", "student_id,name\nann,A\nann,B\n"))
    with pytest.raises(roster.RosterError, match="line 2: student id 'a b'"):
        roster.load(write(tmp_path / "c.csv", "student_id,name\na b,A\n"))
    with pytest.raises(roster.RosterError, match="no such file"):
        roster.load(tmp_path / "missing.csv")


def test_ambiguous_names_are_not_guessed(tmp_path):
    r = roster.load(write(tmp_path / "r.csv", "student_id,name\ns1,Ann Lee\ns2,Ann Lee\n"))
    student, why = r.resolve(["Ann Lee"])
    assert student is None and "several roster students (s1, s2)" in why
