"""An instructor's term without surprises (issue 26): nothing earned is lost on a regrade,
Canvas names as Canvas writes them, Canvas columns mapped, overrides as a stated policy.

Everything here runs on recorded outcomes and on export corpora laid out as the LMSs lay
them out (file contents do not matter to matching); the one command test grades nothing.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
from submissions import fake_course  # tests/ is on sys.path (rootdir imports)

from grader import cli
from grader.books import exports, gradebook, roster
from grader.books.results import Outcome
from grader.classwork import intake as layout

LESSONS = ["lesson1", "lesson2", "lesson3"]  # what these downloads name: a fixture, not the course
ROSTER = (
    "Student,ID,SIS User ID,SIS Login ID,Section,Week 1: Swap the head (4401),Lesson 2 (4402)\n"
    "    Points Possible,,,,,9,9\n"
    '"Ash, Ann",12345,s001,aash,Sec A,,\n'
    '"O\'Brien, Pat",12349,s002,pobrien,Sec A,,\n'
    '"García, José",12350,s003,jgarcia,Sec B,,\n'
    '"Lee-Smith, Kim",12351,s004,klee,Sec B,,\n'
)


def _write(path: Path, text: str = "{}") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _discover(tmp_path: Path, names: list[str], r: roster.Roster | None = None):
    archive = tmp_path / f"download{len(list(tmp_path.glob('download*.zip')))}.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in names:
            zf.writestr(name, "{}")
    return layout.discover(archive, LESSONS, tmp_path / "unpacked", r)


# --- 1. a regrade never replaces a newer attempt -------------------------------------------


def test_an_older_canvas_attachment_never_replaces_a_newer_one_across_runs(tmp_path):
    """Ann's resubmission (attachment 678950, 9/9) is graded; the original download, holding her
    older attachment 678902 (0/9), is regraded later: the 9 stays, and the run says so."""
    out = tmp_path / "out"
    r = roster.load(_write(tmp_path / "roster.csv", ROSTER))
    newer = _discover(tmp_path, ["ashann_12345_678950_lesson1-1.ipynb"], r).found[0]
    older = _discover(tmp_path, ["ashann_12345_678902_lesson1.ipynb"], r).found[0]
    assert (newer.attempt, older.attempt) == ("canvas:678950", "canvas:678902")

    def week(found, score, when):
        source = {(found.student, "lesson1"): (found.origin, found.late, found.attempt)}
        return gradebook.record(out, [Outcome("s001", "lesson1", score, 9)], source, when=when)

    week(newer, 9, "w1")
    done = week(older, 0, "w2")
    row = gradebook.load(out)[("s001", "lesson1")]
    assert (row.score, row.attempt, row.graded_at) == (9, "canvas:678950", "w1")
    assert (done.replaced, done.added) == (0, 0)
    assert done.kept == [
        "s001 lesson1: kept 9/9 of the newer Canvas attachment 678950 (graded w1); "
        f"{older.origin} is the older Canvas attachment 678902"
    ]
    # The same attempt regraded (a test fixed) replaces it; so does a newer attempt.
    assert week(newer, 8, "w3").replaced == 1
    assert gradebook.load(out)[("s001", "lesson1")].score == 8
    newest = _discover(tmp_path, ["ashann_LATE_12345_679001_lesson1-2.ipynb"], r).found[0]
    assert week(newest, 7, "w4").replaced == 1
    assert gradebook.load(out)[("s001", "lesson1")].attempt == "canvas:679001"


def test_exchange_and_blackboard_times_order_attempts_across_runs(tmp_path):
    out = tmp_path / "out"
    # course collect's layout: submitted/<student>/<lesson>/ with nbgrader's timestamp.txt
    late = tmp_path / "late"
    _write(late / "submitted" / "ann" / "lesson1" / "lesson1.ipynb")
    _write(late / "submitted" / "ann" / "lesson1" / "timestamp.txt", "2026-03-02 09:00:00.5 UTC")
    early = tmp_path / "early"
    _write(early / "submitted" / "ann" / "lesson1" / "lesson1.ipynb")
    _write(early / "submitted" / "ann" / "lesson1" / "timestamp.txt", "2026-03-02 09:00:00 UTC\n")
    inbound = tmp_path / "inbound" / "ann+lesson1+2026-03-01 10:00:00.1 UTC+a1" / "lesson1.ipynb"
    _write(inbound)
    found = {
        name: layout.discover(tmp_path / name, LESSONS, tmp_path / "u").found[0]
        for name in ("late", "early", "inbound")
    }
    assert {k: f.attempt for k, f in found.items()} == {
        "late": "nbgrader:2026-03-02T09:00:00.500000",
        "early": "nbgrader:2026-03-02T09:00:00.000000",
        "inbound": "nbgrader:2026-03-01T10:00:00.100000",
    }
    with zipfile.ZipFile(tmp_path / "collected.zip", "w") as zf:  # the same, zipped
        zf.writestr("submitted/ann/lesson1/lesson1.ipynb", "{}")
        zf.writestr("submitted/ann/lesson1/timestamp.txt", "2026-03-02 09:00:00.5 UTC")
    zipped = layout.discover(tmp_path / "collected.zip", LESSONS, tmp_path / "z").found[0]
    assert zipped.attempt == found["late"].attempt
    sources = {k: {("ann", "lesson1"): (f.origin, False, f.attempt)} for k, f in found.items()}
    gradebook.record(out, [Outcome("ann", "lesson1", 3, 3)], sources["late"], when="w1")
    for name in ("early", "inbound"):
        done = gradebook.record(out, [Outcome("ann", "lesson1", 0, 3)], sources[name], when="w2")
        assert done.replaced == 0 and "kept 3/3 of the newer exchange submission" in done.kept[0]
    assert gradebook.load(out)[("ann", "lesson1")].score == 3

    # Blackboard: the attempt time in the name
    subs = tmp_path / "bb"
    _write(subs / "Lesson 1_ann_attempt_2026-03-01-10-22-33_lesson1.ipynb")
    bb = layout.discover(subs, LESSONS, tmp_path / "u2").found[0]
    assert bb.attempt == "blackboard:2026-03-01T10:22:33.000000"
    assert gradebook.newer("blackboard:2026-03-02T08:00:00.000000", bb.attempt)
    assert not gradebook.newer(bb.attempt, bb.attempt)  # the same attempt: a regrade replaces
    assert not gradebook.newer("canvas:9", bb.attempt)  # different LMSs: nothing orders them
    assert not gradebook.newer("", bb.attempt) and not gradebook.newer(bb.attempt, "")


def test_a_gradebook_written_before_attempts_were_recorded_still_reads(tmp_path):
    _write(
        tmp_path / "gradebook.csv",
        "student_id,assignment,score,max_score,status,graded_at,source,late\n"
        "ann,lesson1,3,4,graded,w1,ann/lesson1.ipynb,\n",
    )
    assert gradebook.load(tmp_path)[("ann", "lesson1")].attempt == ""


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return fake_course.make(tmp_path_factory.mktemp("fake") / "course")


def test_course_grade_refuses_to_regrade_an_older_attempt_and_saves_the_list(
    course, tmp_path, capsys
):
    out = tmp_path / "out"
    gradebook.record(
        out,
        [Outcome("ashann", "intro", 3, 3)],
        {("ashann", "intro"): ("new.zip:ashann_12345_678950_intro.ipynb", False, "canvas:678950")},
        when="w1",
    )
    before = (out / "gradebook.csv").read_text()
    subs = tmp_path / "download"
    _write(subs / "ashann_12345_678902_intro.ipynb")
    code = cli.main(["grade", "--root", str(course), "--submissions", str(subs), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert (
        "kept: ashann intro: kept 3/3 of the newer Canvas attachment 678950 (graded w1)" in printed
    )
    assert "nothing to grade for intro" in printed
    assert (out / "gradebook.csv").read_text() == before
    saved = _rows((out / layout.NOT_GRADED).read_text())
    assert saved == [
        ["kind", "file", "why"],
        [
            "superseded",
            str(subs / "ashann_12345_678902_intro.ipynb"),
            "older attempt; the gradebook keeps new.zip:ashann_12345_678950_intro.ipynb",
        ],
    ]


# --- 2. Canvas names as Canvas writes them -------------------------------------------------


@pytest.mark.parametrize(
    "name, student, late",
    [
        ("obrienpat_LATE_12349_678905_lesson1-1.ipynb", "s002", True),
        ("obrienpat_Late_12349_678906_lesson1.ipynb", "s002", True),
        ("o'brienpat_12349_678907_lesson1.ipynb", "s002", False),
        ("garcíajosé_12350_678908_lesson1.ipynb", "s003", False),
        ("lee-smithkim_late_12351_678909_Lesson1.ipynb", "s004", True),
    ],
)
def test_canvas_names_with_upper_case_late_accents_hyphens_and_apostrophes(
    tmp_path, name, student, late
):
    r = roster.load(_write(tmp_path / "roster.csv", ROSTER))
    found = _discover(tmp_path, [name], r)
    assert not found.unmatched, found.unmatched
    assert [(f.student, f.lesson, f.late, f.lms) for f in found.found] == [
        (student, "lesson1", late, "canvas")
    ]


def test_canvas_names_without_a_roster_become_ascii_ids(tmp_path):
    found = _discover(
        tmp_path,
        ["garcíajosé_12350_678908_lesson1.ipynb", "obrienpat_LATE_12349_678905_lesson1.ipynb"],
    )
    assert not found.unmatched, found.unmatched
    assert [(f.student, f.late) for f in found.found] == [
        ("garciajose", False),
        ("obrienpat", True),
    ]


# --- 3. Canvas columns ---------------------------------------------------------------------


def _book(out: Path) -> dict:
    gradebook.record(
        out,
        [
            Outcome("s001", "lesson1", 9, 9),
            Outcome("s002", "lesson1", 0, 9, "missing"),
            Outcome("s001", "lesson2", 7, 9),
            Outcome("s002", "lesson2", 8, 9),
            Outcome("s001", "lesson3", 5, 9),
        ],
        when="w1",
    )
    return gradebook.load(out)


def test_lessons_go_to_the_canvas_columns_they_are_mapped_to_and_missing_stays_blank(tmp_path):
    r = roster.load(_write(tmp_path / "roster.csv", ROSTER))
    table = exports.build(_book(tmp_path / "out"), r, [])
    # Without a map only "Lesson 2 (4402)" is found; the others would be new assignments.
    assert _rows(exports.canvas_csv(table, r))[0][5:] == ["lesson1", "Lesson 2 (4402)", "lesson3"]
    warned = exports.canvas_column_warnings(table, r)
    assert [w.split(" ")[0] for w in warned] == ["lesson1", "lesson3"]
    assert "Canvas imports as a NEW assignment" in warned[0]
    assert exports.canvas_column_warnings(table, None) == []  # not a Canvas course: no noise

    mapping = exports.load_canvas_columns(
        _write(tmp_path / "cols.csv", "lesson,column\nlesson1,Week 1: Swap the head (4401)\n"), r
    )
    rows = _rows(exports.canvas_csv(table, r, mapping))
    assert rows[0][5:] == ["Week 1: Swap the head (4401)", "Lesson 2 (4402)", "lesson3"]
    assert rows[2][5:] == ["9", "7", "5"]  # Ash, Ann
    assert rows[3][5:] == ["", "8", ""]  # O'Brien, Pat: missing work is blank, not 0
    assert _rows(exports.canvas_csv(table, r, mapping, missing_zero=True))[3][5:] == ["0", "8", "0"]
    assert [w.split(" ")[0] for w in exports.canvas_column_warnings(table, r, mapping)] == [
        "lesson3"
    ]
    with pytest.raises(ValueError, match=r"no column 'Week 1 \(4401\)'.*'Lesson 2 \(4402\)'"):
        exports.load_canvas_columns(
            _write(tmp_path / "bad.csv", "lesson,column\nlesson1,Week 1 (4401)\n"), r
        )


def test_course_grades_reads_the_column_map_in_out_and_warns_about_the_rest(tmp_path, capsys):
    out = tmp_path / "out"
    _book(out)
    _write(out / "roster.csv", ROSTER)
    _write(out / "canvas_columns.csv", "lesson,column\nlesson1,Week 1: Swap the head (4401)\n")
    assert cli.main(["grades", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "warning: lesson3 has no Canvas column" in printed
    assert "warning: lesson1" not in printed and "--missing-zero writes 0" in printed
    rows = _rows((out / "exports" / "canvas_import.csv").read_text())
    assert rows[0][5:] == ["Week 1: Swap the head (4401)", "Lesson 2 (4402)", "lesson3"]
    assert rows[3][5:] == ["", "8", ""]
    assert cli.main(["grades", "--out", str(out), "--missing-zero"]) == 0
    rows = _rows((out / "exports" / "canvas_import.csv").read_text())
    assert rows[3][5:] == ["0", "8", "0"]


# --- 7. overrides as a stated policy ----------------------------------------------------------


def test_a_score_override_is_a_minimum_unless_fixed_and_a_cap_is_never_silent(tmp_path):
    out = tmp_path / "out"
    gradebook.record(
        out, [Outcome("s001", "lesson1", 3, 9), Outcome("s002", "lesson1", 9, 9)], when="w1"
    )
    overrides = gradebook.load_overrides(
        _write(
            out / "overrides.csv",
            "student_id,assignment,score,adjust,policy,comment\n"
            "s001,lesson1,5,,,emailed a fixed notebook\n"
            "s002,lesson1,0,,fixed,copied\n",
        )
    )
    assert [(o.policy, o.score) for o in overrides] == [("min", 5), ("fixed", 0)]
    table = exports.build(gradebook.load(out), None, overrides)
    assert table.entries[("s001", "lesson1")].score == 5
    assert table.entries[("s002", "lesson1")].score == 0
    assert table.capped == [
        "overrides.csv line 3: s002 lesson1 is fixed at 0, below the gradebook's 9 (graded w1); set its "
        "policy to min (or remove the row) to let the higher grade count"
    ]
    # A later, higher regrade of s001 counts: the minimum does not cap it (it did: 5 for ever).
    gradebook.record(out, [Outcome("s001", "lesson1", 8, 9)], when="w2")
    table = exports.build(gradebook.load(out), None, overrides)
    entry = table.entries[("s001", "lesson1")]
    assert (entry.score, entry.status) == (8, "graded")
    assert entry.notes == ["8 -> 8 (at least 5: emailed a fixed notebook)"]
    for bad, why in (
        ("s001,lesson1,5,,most,x\n", "policy 'most' is none of min, fixed"),
        ("s001,lesson1,,1,fixed,x\n", "policy 'fixed' is for a score"),
    ):
        path = _write(out / "bad.csv", "student_id,assignment,score,adjust,policy,comment\n" + bad)
        with pytest.raises(ValueError, match=why):
            gradebook.load_overrides(path)


def test_course_grades_shows_each_override_on_the_feedback_page_it_changes(tmp_path, capsys):
    out = tmp_path / "out"
    gradebook.record(
        out,
        [Outcome(s, "lesson1", score, 9) for s, score in (("s001", 3), ("s002", 9), ("s003", 8))],
        {("s003", "lesson1"): ("s.zip:x_late_1_2_lesson1.ipynb", True)},
    )
    for student in ("s001", "s002", "s003"):
        _write(out / "feedback" / student / "lesson1.html", "<html><body><p>page</p></body></html>")
    _write(
        out / "overrides.csv",
        "student_id,assignment,score,adjust,policy,comment\n"
        "s001,lesson1,5,,,emailed a fixed notebook\ns001,lesson1,,-1,,late\n"
        "s002,lesson1,4,,fixed,copied\n",
    )
    assert cli.main(["grades", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "final grade (overrides, late work) shown on 3 feedback page(s)" in printed
    assert "warning: overrides.csv line 4: s002 lesson1 is fixed at 4" in printed
    page = (out / "feedback" / "s001" / "lesson1.html").read_text()
    assert "Automatic score (below): 3 / 9." in page and "<b>Final grade: 4 / 9</b>" in page
    assert "<li>at least 5: emailed a fixed notebook</li><li>-1: late</li>" in page
    assert page.index('id="course-grade"') < page.index("<p>page</p>")  # first thing they read
    with zipfile.ZipFile(out / "return" / "s001.zip") as zf:
        assert b"Final grade: 4 / 9" in zf.read("s001/lesson1.html")
    late = (out / "feedback" / "s003" / "lesson1.html").read_text()
    assert "Submitted late (the LMS marked it so)" in late and "Final grade: 8 / 9" in late
    # Run again: the block is replaced, never repeated; an override taken out leaves the page.
    _write(out / "overrides.csv", "student_id,assignment,score,adjust,policy,comment\n")
    assert cli.main(["grades", "--out", str(out)]) == 0
    assert (out / "feedback" / "s001" / "lesson1.html").read_text() == (
        "<html><body>\n<p>page</p></body></html>"
    )
    assert "Submitted late" in (out / "feedback" / "s003" / "lesson1.html").read_text()


# --- 4. one order of steps -------------------------------------------------------------------


def test_course_grades_puts_what_to_review_on_the_pages_it_zips(tmp_path, capsys):
    """``course grade`` rewrites a page without "What to review"; ``course grades`` (which zips
    the pages to hand back) adds it again, whether or not ``course report`` ran since."""
    out = tmp_path / "out"
    gradebook.record(out, [Outcome("s001", "lesson1", 1, 3)])
    cell = {
        "grade_id": "t1",
        "exercise": "Exercise 2",
        "section": "2. Powers",
        "score": 0.0,
        "max_score": 2.0,
        "passed": False,
        "misconception": None,
        "hidden_only": False,
    }
    record = {"student": "s001", "lesson": "lesson1", "status": "graded", "score": 1}
    _write(out / "records.jsonl", json.dumps({**record, "max_score": 3, "cells": [cell]}) + "\n")
    _write(out / "feedback" / "s001" / "lesson1.html", "<html><body><p>page</p></body></html>")
    assert cli.main(["grades", "--out", str(out)]) == 0
    assert (
        "'What to review' up to date on the feedback pages (1 changed)" in capsys.readouterr().out
    )
    with zipfile.ZipFile(out / "return" / "s001.zip") as zf:
        page = zf.read("s001/lesson1.html").decode()
    assert "What to review" in page and "Exercise 2" in page and "2. Powers" in page
