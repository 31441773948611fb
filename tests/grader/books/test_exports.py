"""Grades in and out: LMS exports, rosters, the course gradebook, exports, feedback zips.

Fast tests read export corpora laid out as Canvas, Moodle, Blackboard and
nbgrader lay them out (file contents do not matter to matching), and check
the gradebook and every export cell by cell from recorded outcomes. The slow
test grades three weeks of the fake two-lesson course through the CLI into
one gradebook, with a roster, a manual override and an unmatched file.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import nbformat
import pytest
from _grade import grade_args
from submissions import corpus, fake_course  # tests/ is on sys.path (rootdir imports)

from grader import cli
from grader._course import generate
from grader.books import exports, gradebook, roster
from grader.books.results import Outcome
from grader.classwork import intake as layout

pytestmark = [pytest.mark.long(31), pytest.mark.warm]

LESSONS = [f"lesson{i}" for i in range(1, 8)]


def _write(path: Path, text: str = "{}") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _found(result: layout.Discovery) -> list[tuple[str, str, str]]:
    return [(f.student, f.lesson, Path(f.origin.split(":")[-1]).name) for f in result.found]


# --- lesson names as students write them ----------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("lesson6", ("", "lesson6")),
        ("Lesson6", ("", "lesson6")),
        ("LESSON 06", ("", "lesson6")),
        ("lesson6-Copy1", ("", "lesson6")),
        ("lesson6 (1)", ("", "lesson6")),
        ("lesson6-1", ("", "lesson6")),
        ("Lesson6 copy", ("", "lesson6")),
        ("joe_lesson6 (1)", ("joe", "lesson6")),
        ("Fay Lee_lesson_6", ("Fay Lee", "lesson6")),
        ("lesson16", None),
        ("lesson61", None),
        ("mylesson6", None),
        ("notes", None),
    ],
)
def test_split_lesson_reads_case_spaces_and_copy_suffixes(text, expected):
    assert layout.split_lesson(text, LESSONS) == expected


def test_split_lesson_tells_lesson1_from_lesson10():
    lessons = [*LESSONS, "lesson10"]
    assert layout.split_lesson("ann_lesson10", lessons) == ("ann", "lesson10")
    assert layout.split_lesson("ann_lesson1-1", lessons) == ("ann", "lesson1")


# --- rosters ------------------------------------------------------------------------

CANVAS_ROSTER = (
    "Student,ID,SIS User ID,SIS Login ID,Section,Lesson 6 (98765),Current Score\n"
    "    Points Possible,,,,,10,\n"
    '"Lee, Fay",12345,s001,flee,Sec A,,\n'
    '"Gray, Gus",23456,s002,ggray,Sec A,,\n'
    '"Ng, Dan",34567,s003,dng,Sec B,,\n'
    '"Student, Test",99999,,,Sec A,,\n'
)
MOODLE_ROSTER = (
    "\ufeffFirst name,Last name,ID number,Institution,Department,Email address\n"
    "Fay,Lee,s001,,,fay.lee@uni.example\n"
    "Gus,Gray,s002,,,gus.gray@uni.example\n"
    "Dan,Ng,s003,,,dan.ng@uni.example\n"
    "Zoë,Ángel,s004,,,zoe.angel@uni.example\n"
)
SIMPLE_ROSTER = (
    "student_id,name,email\n"
    "s001,Fay Lee,fay.lee@uni.example\n"
    "s002,Gus Gray,gus.gray@uni.example\n"
    "s003,Dan Ng,dan.ng@uni.example\n"
    "s004,Eve Park,eve@uni.example\n"
)


def test_canvas_roster_skips_points_and_test_student(tmp_path):
    r = roster.load(_write(tmp_path / "canvas.csv", CANVAS_ROSTER))
    assert r.kind == "canvas" and r.ids == ["s001", "s002", "s003"]
    assert r.get("s001").name == "Fay Lee" and r.get("s001").lms["ID"] == "12345"
    assert r.resolve(["12345", "whoever"]) == ("s001", "")
    assert r.resolve(["0", "leefay"]) == ("s001", "")  # Canvas file names: sortable name, no spaces
    assert r.resolve(["flee"]) == ("s001", "")
    student, why = r.resolve(["77777", "nobody"])
    assert student is None and "'nobody' is not on the roster canvas.csv" in why


def test_moodle_roster_reads_bom_accents_and_names(tmp_path):
    r = roster.load(_write(tmp_path / "moodle.csv", MOODLE_ROSTER))
    assert r.kind == "moodle" and r.ids == ["s001", "s002", "s003", "s004"]
    assert r.resolve(["participant9", "Fay Lee"]) == ("s001", "")
    assert r.resolve(["Zoe Angel"]) == ("s004", "")
    assert r.resolve(["dan.ng"]) == ("s003", "")  # a Blackboard login is the e-mail's local part


def test_roster_errors_name_the_file_and_the_row(tmp_path):
    with pytest.raises(roster.RosterError, match="none of the known forms"):
        roster.load(_write(tmp_path / "a.csv", "who,what\nann,1\n"))
    with pytest.raises(roster.RosterError, match="lines 2 and 3"):
        roster.load(_write(tmp_path / "b.csv", "student_id,name\nann,A\nann,B\n"))
    with pytest.raises(roster.RosterError, match="line 2: student id 'a b'"):
        roster.load(_write(tmp_path / "c.csv", "student_id,name\na b,A\n"))
    with pytest.raises(roster.RosterError, match="no such file"):
        roster.load(tmp_path / "missing.csv")


def test_ambiguous_names_are_not_guessed(tmp_path):
    r = roster.load(_write(tmp_path / "r.csv", "student_id,name\ns1,Ann Lee\ns2,Ann Lee\n"))
    student, why = r.resolve(["Ann Lee"])
    assert student is None and "several roster students (s1, s2)" in why


# --- each LMS's export ---------------------------------------------------------------


def test_canvas_zip_with_late_resubmission_and_a_stranger(tmp_path):
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("leefay_12345_678_lesson6.ipynb", "{}")
        zf.writestr("graygus_23456_690_Lesson6.ipynb", "{}")  # submitted twice: 690, then 701
        zf.writestr("graygus_late_23456_701_Lesson6-1.ipynb", "{}")
        zf.writestr("smithamy_55555_702_lesson6.ipynb", "{}")  # not on the roster
        zf.writestr("leefay_12345_679_lesson6.pdf", "%PDF")  # an extra beside her notebook
        zf.writestr("ngdan_34567_703_Lesson6.html", "<p>")  # his only file: not a notebook
    r = roster.load(_write(tmp_path / "canvas.csv", CANVAS_ROSTER))
    found = layout.discover(archive, LESSONS, tmp_path / "u", r)
    assert _found(found) == [
        ("s001", "lesson6", "leefay_12345_678_lesson6.ipynb"),
        ("s002", "lesson6", "graygus_late_23456_701_Lesson6-1.ipynb"),
    ]
    assert [f.late for f in found.found] == [False, True]
    assert found.superseded == [
        (
            "submissions.zip:graygus_23456_690_Lesson6.ipynb",
            "older attempt; graded submissions.zip:graygus_late_23456_701_Lesson6-1.ipynb",
        )
    ]
    assert found.unmatched == [
        ("submissions.zip:smithamy_55555_702_lesson6.ipynb", found.unmatched[0][1]),
        (
            "submissions.zip:ngdan_34567_703_Lesson6.html",
            "named like a lesson but not a .ipynb notebook",
        ),
    ]
    assert "not on the roster" in found.unmatched[0][1]
    assert found.ignored == ["submissions.zip:leefay_12345_679_lesson6.pdf"]
    table = layout.not_graded_table(found)
    assert "2 file(s) NOT GRADED, 1 superseded, 1 ignored" in table
    assert "smithamy_55555_702_lesson6.ipynb" in table and "graygus_23456_690" in table


def test_moodle_folders_with_spaces_copies_and_online_text(tmp_path):
    subs = tmp_path / "moodle"
    _write(subs / "Fay Lee_101_assignsubmission_file_" / "lesson6.ipynb")
    _write(subs / "Dan Ng_103_assignsubmission_file_" / "Lesson6-Copy1.ipynb")
    _write(subs / "Zoë Ángel_104_assignsubmission_file_" / "Lesson 6 (1).ipynb")
    _write(subs / "Gus Gray_102_assignsubmission_onlinetext_" / "onlinetext.html", "<p>hi</p>")
    _write(subs / "Gus Gray_102_assignsubmission_file_" / "my notebook.ipynb")  # no lesson named
    r = roster.load(_write(tmp_path / "moodle.csv", MOODLE_ROSTER))
    found = layout.discover(subs, LESSONS, tmp_path / "u", r)
    assert _found(found) == [
        ("s001", "lesson6", "lesson6.ipynb"),
        ("s003", "lesson6", "Lesson6-Copy1.ipynb"),
        ("s004", "lesson6", "Lesson 6 (1).ipynb"),
    ]
    assert [Path(o).name for o, _ in found.unmatched] == ["my notebook.ipynb"]
    assert "no lesson in the name" in found.unmatched[0][1] and not found.ignored
    # Without a roster the names become ids, and the command says so.
    plain = layout.discover(subs, LESSONS, tmp_path / "u2")
    assert [f.student for f in plain.found] == ["Dan_Ng", "Fay_Lee", "Zoe_Angel"]
    assert plain.renamed["Fay Lee"] == "Fay_Lee"


def test_moodle_folders_named_after_the_lesson_give_the_lesson(tmp_path):
    subs = tmp_path / "lesson6"
    _write(subs / "Gus Gray_102_assignsubmission_file_" / "my notebook.ipynb")
    r = roster.load(_write(tmp_path / "moodle.csv", MOODLE_ROSTER))
    found = layout.discover(tmp_path, LESSONS, tmp_path / "u", r)
    assert _found(found) == [("s002", "lesson6", "my notebook.ipynb")] and not found.unmatched


def test_zips_made_on_windows_keep_folders_and_accents(tmp_path):
    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as zf:  # ASCII placeholders, patched to what Windows writes
        zf.writestr("ZoeX Angel_104_assignsubmission_file_@lesson6.ipynb", "{}")
    raw = archive.read_bytes().replace(b"ZoeX", "Zoë".encode()).replace(b"_@", b"_\\")
    archive.write_bytes(raw)
    r = roster.load(_write(tmp_path / "moodle.csv", MOODLE_ROSTER))
    found = layout.discover(archive, LESSONS, tmp_path / "u", r)
    assert _found(found) == [("s004", "lesson6", "lesson6.ipynb")]
    assert found.found[0].origin == "moodle.zip:Zoë Angel_104_assignsubmission_file_/lesson6.ipynb"


def test_blackboard_attempts_latest_wins_and_receipts_are_ignored(tmp_path):
    subs = tmp_path / "gradebook_Lesson6"
    stamp1, stamp2 = "2026-03-01-10-22-33", "2026-03-02-08-00-00"
    _write(subs / f"Lesson 6_dan.ng_attempt_{stamp1}_lesson6.ipynb")
    _write(subs / f"Lesson 6_dan.ng_attempt_{stamp1}.txt", "Name: Dan Ng")
    _write(subs / f"Lesson 6_dan.ng_attempt_{stamp2}_Lesson6 (1).ipynb")
    _write(subs / f"Lesson 6_dan.ng_attempt_{stamp2}.txt", "Name: Dan Ng")
    _write(subs / f"Lesson_6_gus_gray_attempt_{stamp1}_notebook.ipynb")
    r = roster.load(
        _write(
            tmp_path / "r.csv",
            "student_id,name,email\ns3,Dan Ng,dan.ng@x.org\ns2,Gus Gray,gus_gray@x.org\n",
        )
    )
    found = layout.discover(subs, LESSONS, tmp_path / "u", r)
    assert _found(found) == [
        ("s2", "lesson6", f"Lesson_6_gus_gray_attempt_{stamp1}_notebook.ipynb"),
        ("s3", "lesson6", f"Lesson 6_dan.ng_attempt_{stamp2}_Lesson6 (1).ipynb"),
    ]
    assert [Path(o).name for o, _ in found.superseded] == [
        f"Lesson 6_dan.ng_attempt_{stamp1}_lesson6.ipynb"
    ]
    assert not found.unmatched and not found.ignored


def test_nbgrader_bookkeeping_files_are_not_listed_as_ignored(tmp_path):
    # nbgrader's submit (and course collect) leave timestamp.txt and submission_secret.txt
    # beside each notebook: grading must not list them as "ignored" work (issue 23)
    subs = tmp_path / "subs"
    for student in ("ann", "ben"):
        folder = subs / "submitted" / student / "lesson6"
        _write(folder / "lesson6.ipynb")
        _write(folder / "timestamp.txt", "2026-03-01 10:00:00")
        _write(folder / "submission_secret.txt", "f3a1")
    _write(subs / "submitted" / "ann" / "lesson6" / "notes.txt", "mine")
    found = layout.discover(subs, LESSONS, tmp_path / "u")
    assert [student for student, _, _ in _found(found)] == ["ann", "ben"]
    assert [str(Path(o).relative_to(subs)) for o in found.ignored] == [
        "submitted/ann/lesson6/notes.txt"
    ]
    assert "submission_secret" not in "".join(map(str, layout.not_graded_rows(found)))


def test_nbgrader_trees_and_folders_with_odd_names(tmp_path):
    subs = tmp_path / "subs"
    _write(subs / "submitted" / "ann" / "lesson6" / "lesson6.ipynb")
    _write(subs / "submitted" / "ann" / "lesson6" / "timestamp.txt", "2026-03-01 10:00:00")
    _write(subs / "inbound" / "ben+lesson6+2026-03-01 10:00:00.1 UTC+a1" / "lesson6.ipynb")
    _write(subs / "inbound" / "ben+lesson6+2026-03-02 09:00:00.1 UTC+b2" / "lesson6.ipynb")
    _write(subs / "eve" / "Lesson6.ipynb")
    _write(subs / "dan" / "lesson6-Copy1.ipynb")
    _write(subs / "joe_lesson6 (1).ipynb")
    _write(subs / "kim" / "lesson6.ipynb")  # two copies of one student: nothing orders them
    _write(subs / "kim" / "lesson6 (1).ipynb")
    _write(subs / "lesson6.ipynb")  # nobody's
    _write(subs / "amy" / "Lesson6_final.ipynb")  # the lesson first: not guessed
    _write(subs / "README.md", "notes")
    found = layout.discover(subs, LESSONS, tmp_path / "u")
    assert _found(found) == [
        ("ann", "lesson6", "lesson6.ipynb"),
        ("ben", "lesson6", "lesson6.ipynb"),
        ("dan", "lesson6", "lesson6-Copy1.ipynb"),
        ("eve", "lesson6", "Lesson6.ipynb"),
        ("joe", "lesson6", "joe_lesson6 (1).ipynb"),
    ]
    assert "09:00" in found.found[1].origin and "10:00" in found.superseded[0][0]
    unmatched = {str(Path(o).relative_to(subs)): why for o, why in found.unmatched}
    assert set(unmatched) == {
        "kim/lesson6.ipynb",
        "kim/lesson6 (1).ipynb",
        "lesson6.ipynb",
        "amy/Lesson6_final.ipynb",
    }
    assert unmatched["amy/Lesson6_final.ipynb"].startswith("starts with lesson6 but does not end")
    assert (
        "kim lesson6 twice" in unmatched["kim/lesson6.ipynb"]
        and "keep one" in unmatched["kim/lesson6.ipynb"]
    )
    assert "no student in the name" in unmatched["lesson6.ipynb"]
    assert [Path(o).name for o in found.ignored] == ["README.md"]


# --- the gradebook over three weeks ----------------------------------------------------


def _week(out: Path, when: str, outcomes: list[Outcome], sources=None):
    return gradebook.record(out, outcomes, sources, when=when)


def test_three_weeks_accumulate_and_regrading_replaces_only_what_was_regraded(tmp_path):
    out = tmp_path / "out"
    r = roster.load(_write(tmp_path / "roster.csv", SIMPLE_ROSTER))
    # week 1: lesson1; s004 submitted nothing
    _week(
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
    _week(
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
    path, replaced, added, kept, _ = _week(
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
    _write(
        out / "overrides.csv",
        "student_id,assignment,score,adjust,comment\n"
        "s003,lesson1,3,,reviewed the flagged notebook\n"
        "s002,lesson1,,-1,late penalty\n",
    )
    table = exports.build(gradebook.load(out), r, gradebook.load_overrides(out / "overrides.csv"))
    assert _rows(exports.long_csv(table)) == [
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
    assert _rows(exports.wide_csv(table, r)) == [
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
    assert _rows(exports.canvas_csv(table, r)) == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "lesson1", "lesson2"],
        ["Points Possible", "", "", "", "", "4", "6"],
        ["Fay Lee", "", "s001", "", "", "3", "5"],
        ["Gus Gray", "", "s002", "", "", "3", "6"],
        ["Dan Ng", "", "s003", "", "", "3", ""],  # missing: blank, Canvas keeps what it has
        ["Eve Park", "", "s004", "", "", "2", "2"],
    ]
    assert _rows(exports.moodle_csv(table, r)) == [
        ["First name", "Last name", "ID number", "Email address", "lesson1", "lesson2"],
        ["Fay", "Lee", "s001", "fay.lee@uni.example", "3", "5"],
        ["Gus", "Gray", "s002", "gus.gray@uni.example", "3", "6"],
        ["Dan", "Ng", "s003", "dan.ng@uni.example", "3", ""],
        ["Eve", "Park", "s004", "eve@uni.example", "2", "2"],
    ]


def test_exports_keep_the_lms_own_ids_and_columns(tmp_path):
    out = tmp_path / "out"
    _week(out, "w1", [Outcome("s001", "lesson6", 7, 10), Outcome("s009", "lesson6", 5, 10)])
    r = roster.load(_write(tmp_path / "canvas.csv", CANVAS_ROSTER))
    table = exports.build(gradebook.load(out), r, [])
    assert table.students == ["s001", "s002", "s003", "s009"] and table.unlisted == ["s009"]
    assert _rows(exports.canvas_csv(table, r)) == [
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
    wide = _rows(exports.wide_csv(table, r))
    assert wide[2][-2:] == ["lesson6", ""] and wide[4][-1] == "not on the roster"
    m = roster.load(_write(tmp_path / "moodle.csv", MOODLE_ROSTER))
    assert _rows(exports.moodle_csv(exports.build(gradebook.load(out), m, []), m))[1:3] == [
        ["Fay", "Lee", "s001", "fay.lee@uni.example", "7"],
        ["Gus", "Gray", "s002", "gus.gray@uni.example", ""],
    ]


def test_overrides_that_name_nobody_are_refused(tmp_path):
    out = tmp_path / "out"
    _week(out, "w1", [Outcome("s001", "lesson1", 3, 4)])
    bad = _write(out / "overrides.csv", "student_id,assignment,score,adjust\ns001,lesson9,4,\n")
    with pytest.raises(
        ValueError, match="overrides.csv line 2: no grade for student 's001' and lesson 'lesson9'"
    ):
        exports.build(gradebook.load(out), None, gradebook.load_overrides(bad))
    both = _write(out / "o2.csv", "student_id,assignment,score,adjust\ns001,lesson1,4,1\n")
    with pytest.raises(ValueError, match="o2.csv line 2: give exactly one of score"):
        gradebook.load_overrides(both)


def test_feedback_is_zipped_per_student_and_for_moodle(tmp_path):
    out = tmp_path / "out"
    _write(out / "feedback" / "s001" / "lesson6.html", "<p>fay 6</p>")
    _write(out / "feedback" / "s001" / "lesson1.html", "<p>fay 1</p>")
    _write(out / "feedback" / "s002" / "lesson6.html", "<p>gus 6</p>")
    source = "/x/moodle/Fay Lee_101_assignsubmission_file_/lesson6.ipynb"
    _week(
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


# --- the commands' errors, before any grading ---------------------------------------------


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return fake_course.make(tmp_path_factory.mktemp("fake") / "course")


def test_a_lesson_nobody_submitted_is_an_error_naming_what_was_found(course, tmp_path, capsys):
    subs = tmp_path / "subs"
    _write(subs / "ann" / "intro.ipynb")
    _write(subs / "ben_intro.ipynb")
    code = cli.main(
        [
            "grade",
            "--root",
            str(course),
            "--submissions",
            str(subs),
            "--out",
            str(tmp_path / "out"),
            "--lessons",
            "basics",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 2 and not (tmp_path / "out").exists()
    assert "--lessons basics: no submission for basics" in printed
    assert f"lessons found there: intro: 2 file(s) ({subs / 'ann' / 'intro.ipynb'}, " in printed
    assert "ben_intro.ipynb)" in printed


def test_only_unmatched_files_is_an_error_naming_them(course, tmp_path, capsys):
    subs = tmp_path / "subs"
    _write(subs / "ann" / "intro10.ipynb")
    _write(subs / "notes" / "homework.ipynb")
    code = cli.main(
        ["grade", "--root", str(course), "--submissions", str(subs), "--out", str(tmp_path / "out")]
    )
    printed = capsys.readouterr().out
    assert code == 2
    assert "2 file(s) NOT GRADED" in printed
    assert "ann/intro10.ipynb" in printed and "notes/homework.ipynb" in printed


def test_a_damaged_gradebook_stops_grading_before_it_starts(course, tmp_path, capsys):
    _write(tmp_path / "subs" / "ann" / "intro.ipynb")
    _write(tmp_path / "out" / "gradebook.csv", "student,lesson\nann,intro\n")
    code = cli.main(
        [
            "grade",
            "--root",
            str(course),
            "--submissions",
            str(tmp_path / "subs"),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2 and "Restore it from OUT/history/" in capsys.readouterr().out


def test_grades_without_a_gradebook_says_what_to_run(tmp_path, capsys):
    assert cli.main(["grades", "--out", str(tmp_path)]) == 2
    assert "run `course grade --out" in capsys.readouterr().out


# --- three weeks through the CLI ---------------------------------------------------------


def _save(nb, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_three_weeks_of_grading_into_one_gradebook(course, tmp_path, capsys):
    scratch = generate(course, list(fake_course.LESSONS), tmp_path / "gen")
    pair = {
        name: (
            nbformat.read(scratch.release(name) / f"{name}.ipynb", as_version=4),
            nbformat.read(course / "solutions" / name / f"{name}.ipynb", as_version=4),
        )
        for name in fake_course.LESSONS
    }
    r = _write(
        tmp_path / "roster.csv",
        "student_id,name,email\nann,Ann Ash,ann@x.org\n"
        "fay,Fay Lee,fay.lee@x.org\ngus,Gus Gray,gus@x.org\n",
    )
    out = tmp_path / "out"
    plain = grade_args(course, out, jobs=2, cell_timeout=30)
    base = [*plain, "--roster", str(r)]

    # week 1, intro, as a Moodle download: gus submits nothing; a stray file is not graded
    week1 = tmp_path / "week1"
    _save(
        corpus.answered(*pair["intro"]), week1 / "Ann Ash_7_assignsubmission_file_" / "Intro.ipynb"
    )
    _save(pair["intro"][0], week1 / "Fay Lee_8_assignsubmission_file_" / "intro-Copy1.ipynb")
    _save(pair["intro"][0], week1 / "Someone Else_9_assignsubmission_file_" / "intro.ipynb")
    assert cli.main([*base, "--submissions", str(week1)]) == 1
    printed = capsys.readouterr().out
    end = printed[printed.index("NOT GRADED") :]
    assert "Someone Else_9_assignsubmission_file_/intro.ipynb" in end
    assert "'Someone Else' is not on the roster" in end and "--allow-unmatched" in end
    saved = _rows((out / "not_graded.csv").read_text())
    assert saved[0] == ["kind", "file", "why"] and saved[1][:2] == [
        "NOT GRADED",
        str(week1 / "Someone Else_9_assignsubmission_file_" / "intro.ipynb"),
    ]
    assert (out / "grades.csv").read_text() == (
        "student_id,assignment,score,max_score,status\n"
        "ann,intro,3,3,graded\nfay,intro,0,3,graded\ngus,intro,0,3,missing\n"
    )

    # week 2, basics, as a flat zip with odd names; the stray file accepted
    week2 = tmp_path / "week2.zip"
    with zipfile.ZipFile(week2, "w") as zf:
        zf.writestr("ann_Basics (1).ipynb", nbformat.writes(corpus.answered(*pair["basics"])))
        zf.writestr("gus_basics.ipynb", nbformat.writes(corpus.answered(*pair["basics"])))
        zf.writestr("zed_basics.ipynb", "{}")
    assert cli.main([*base, "--submissions", str(week2), "--allow-unmatched"]) == 0
    printed = capsys.readouterr().out
    assert "zed_basics.ipynb" in printed[printed.index("NOT GRADED") :]

    # week 3: fay hands intro in again, answered; only her intro is re-graded, with the kept roster
    week3 = tmp_path / "week3"
    _save(corpus.answered(*pair["intro"]), week3 / "Fay Lee" / "intro.ipynb")
    assert cli.main([*plain, "--submissions", str(week3)]) == 0
    printed = capsys.readouterr().out
    assert "1 row(s) replaced" in printed and f"roster: {out / 'roster.csv'}" in printed
    # grades.csv of this one-file run: ann keeps her 3 (it was 0 before the fix), gus is missing
    assert (out / "grades.csv").read_text() == (
        "student_id,assignment,score,max_score,status\n"
        "ann,intro,3,3,graded\nfay,intro,3,3,graded\ngus,intro,0,3,missing\n"
    )
    assert (out / "not_graded.csv").read_text() == "kind,file,why\n"  # all graded this time
    book = [row[:5] for row in _rows((out / "gradebook.csv").read_text())]
    assert book == [
        ["student_id", "assignment", "score", "max_score", "status"],
        ["ann", "basics", "3", "3", "graded"],
        ["ann", "intro", "3", "3", "graded"],
        ["fay", "basics", "0", "3", "missing"],
        ["fay", "intro", "3", "3", "graded"],
        ["gus", "basics", "3", "3", "graded"],
        ["gus", "intro", "0", "3", "missing"],
    ]

    # a manual override, then the exports
    _write(
        out / "overrides.csv",
        "student_id,assignment,score,adjust,comment\ngus,intro,2,,emailed the notebook\n",
    )
    assert cli.main(["grades", "--out", str(out)]) == 0
    assert _rows((out / "exports" / "grades_wide.csv").read_text())[1:] == [
        ["ann", "Ann Ash", "3", "3", "6", "6", "100.0", "100.0", "100.0", "", ""],
        ["fay", "Fay Lee", "0", "3", "3", "6", "50.0", "0.0", "100.0", "basics", ""],
        [
            "gus",
            "Gus Gray",
            "3",
            "2",
            "5",
            "6",
            "83.3",
            "100.0",
            "66.7",
            "",
            "intro: 0 -> 2 (at least 2: emailed the notebook)",
        ],
    ]
    assert _rows((out / "exports" / "moodle_import.csv").read_text())[3] == [
        "Gus",
        "Gray",
        "gus",
        "gus@x.org",
        "3",
        "2",
    ]
    with zipfile.ZipFile(out / "return" / "ann.zip") as zf:
        assert zf.namelist() == ["ann/basics.html", "ann/intro.html"]
    with zipfile.ZipFile(out / "return" / "moodle-intro.zip") as zf:
        assert zf.namelist() == ["Ann Ash_7_assignsubmission_file_/intro.html"]


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
    _week(out, "w1", [Outcome("s001", "lesson1", 1, 3), Outcome("s002", "lesson1", 3, 3)])
    table = exports.build(gradebook.load(out), None, found)
    assert _rows(exports.long_csv(table))[1:] == [
        ["s001", "lesson1", "3", "3", "override"],
        ["s002", "lesson1", "3", "3", "graded"],
    ]


# --- what the README promises (issue 16) ------------------------------------------------

ROOT = Path(__file__).resolve().parents[3]


def test_make_lab_adds_allow_root_only_for_root():
    import os
    import subprocess

    dry = subprocess.run(
        ["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    line = next(x for x in dry.stdout.splitlines() if "--ServerApp.root_dir" in x)
    assert ("--allow-root" in line) == (os.getuid() == 0)


def test_readme_matches_pyproject_and_the_repository():
    import tomllib

    readme = (ROOT / "README.md").read_text()
    python = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert python.startswith(">=") and f"Python {python[2:]} or newer" in readme
    assert "issue notes" not in readme
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for dep in deps:  # the CPU-only install line keeps to the course's torch range
        if dep.startswith(("torch>", "torchvision>")):
            assert f'"{dep}"' in readme, dep
    for promise in (
        "--allow-root",
        "--ip=0.0.0.0 --no-browser",
        ".venv/bin/course",
        "pip install -e .",
        "--index-url https://download.pytorch.org/whl/cpu",
    ):
        assert promise in readme, promise


@pytest.mark.slow
def test_release_check_does_not_advise_a_release_that_would_refuse(course, tmp_path, capsys):
    import shutil

    root = tmp_path / "course"
    shutil.copytree(course, root)
    assert cli.main(["release", "--root", str(root)]) == 0
    student = root / "notebooks" / "intro" / "intro.ipynb"
    nb = nbformat.read(student, as_version=4)
    nb.cells[0].source += "\nmy notes"  # a person edited the generated notebook
    nbformat.write(nb, student)
    capsys.readouterr()
    assert cli.main(["release", "--root", str(root), "--check"]) == 1
    printed = capsys.readouterr().out
    assert "need attention first" in printed and "then run `course release`" in printed
    assert cli.main(["release", "--root", str(root)]) == 1  # release refuses, as --check said
