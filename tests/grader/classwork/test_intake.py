"""Submission intake (``grader.classwork.intake``): lesson names as students write them, and each
LMS's export (Canvas, Moodle, Blackboard zips, nbgrader trees) matched to the roster, file by file.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from _lms import CANVAS_ROSTER, LESSONS, MOODLE_ROSTER, matched, write

from grader.books import roster
from grader.classwork import intake as layout

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
    r = roster.load(write(tmp_path / "canvas.csv", CANVAS_ROSTER))
    found = layout.discover(archive, LESSONS, tmp_path / "u", r)
    assert matched(found) == [
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
    write(subs / "Fay Lee_101_assignsubmission_file_" / "lesson6.ipynb")
    write(subs / "Dan Ng_103_assignsubmission_file_" / "Lesson6-Copy1.ipynb")
    write(subs / "Zoë Ángel_104_assignsubmission_file_" / "Lesson 6 (1).ipynb")
    write(subs / "Gus Gray_102_assignsubmission_onlinetext_" / "onlinetext.html", "<p>hi</p>")
    write(subs / "Gus Gray_102_assignsubmission_file_" / "my notebook.ipynb")  # no lesson named
    r = roster.load(write(tmp_path / "moodle.csv", MOODLE_ROSTER))
    found = layout.discover(subs, LESSONS, tmp_path / "u", r)
    assert matched(found) == [
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
    write(subs / "Gus Gray_102_assignsubmission_file_" / "my notebook.ipynb")
    r = roster.load(write(tmp_path / "moodle.csv", MOODLE_ROSTER))
    found = layout.discover(tmp_path, LESSONS, tmp_path / "u", r)
    assert matched(found) == [("s002", "lesson6", "my notebook.ipynb")] and not found.unmatched


def test_zips_made_on_windows_keep_folders_and_accents(tmp_path):
    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as zf:  # ASCII placeholders, patched to what Windows writes
        zf.writestr("ZoeX Angel_104_assignsubmission_file_@lesson6.ipynb", "{}")
    raw = archive.read_bytes().replace(b"ZoeX", "Zoë".encode()).replace(b"_@", b"_\\")
    archive.write_bytes(raw)
    r = roster.load(write(tmp_path / "moodle.csv", MOODLE_ROSTER))
    found = layout.discover(archive, LESSONS, tmp_path / "u", r)
    assert matched(found) == [("s004", "lesson6", "lesson6.ipynb")]
    assert found.found[0].origin == "moodle.zip:Zoë Angel_104_assignsubmission_file_/lesson6.ipynb"


def test_blackboard_attempts_latest_wins_and_receipts_are_ignored(tmp_path):
    subs = tmp_path / "gradebook_Lesson6"
    stamp1, stamp2 = "2026-03-01-10-22-33", "2026-03-02-08-00-00"
    write(subs / f"Lesson 6_dan.ng_attempt_{stamp1}_lesson6.ipynb")
    write(subs / f"Lesson 6_dan.ng_attempt_{stamp1}.txt", "Name: Dan Ng")
    write(subs / f"Lesson 6_dan.ng_attempt_{stamp2}_Lesson6 (1).ipynb")
    write(subs / f"Lesson 6_dan.ng_attempt_{stamp2}.txt", "Name: Dan Ng")
    write(subs / f"Lesson_6_gus_gray_attempt_{stamp1}_notebook.ipynb")
    r = roster.load(
        write(
            tmp_path / "r.csv",
            "student_id,name,email\ns3,Dan Ng,dan.ng@x.org\ns2,Gus Gray,gus_gray@x.org\n",
        )
    )
    found = layout.discover(subs, LESSONS, tmp_path / "u", r)
    assert matched(found) == [
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
        write(folder / "lesson6.ipynb")
        write(folder / "timestamp.txt", "2026-03-01 10:00:00")
        write(folder / "submission_secret.txt", "f3a1")
    write(subs / "submitted" / "ann" / "lesson6" / "notes.txt", "mine")
    found = layout.discover(subs, LESSONS, tmp_path / "u")
    assert [student for student, _, _ in matched(found)] == ["ann", "ben"]
    assert [str(Path(o).relative_to(subs)) for o in found.ignored] == [
        "submitted/ann/lesson6/notes.txt"
    ]
    assert "submission_secret" not in "".join(map(str, layout.not_graded_rows(found)))


def test_nbgrader_trees_and_folders_with_odd_names(tmp_path):
    subs = tmp_path / "subs"
    write(subs / "submitted" / "ann" / "lesson6" / "lesson6.ipynb")
    write(subs / "submitted" / "ann" / "lesson6" / "timestamp.txt", "2026-03-01 10:00:00")
    write(subs / "inbound" / "ben+lesson6+2026-03-01 10:00:00.1 UTC+a1" / "lesson6.ipynb")
    write(subs / "inbound" / "ben+lesson6+2026-03-02 09:00:00.1 UTC+b2" / "lesson6.ipynb")
    write(subs / "eve" / "Lesson6.ipynb")
    write(subs / "dan" / "lesson6-Copy1.ipynb")
    write(subs / "joe_lesson6 (1).ipynb")
    write(subs / "kim" / "lesson6.ipynb")  # two copies of one student: nothing orders them
    write(subs / "kim" / "lesson6 (1).ipynb")
    write(subs / "lesson6.ipynb")  # nobody's
    write(subs / "amy" / "Lesson6_final.ipynb")  # the lesson first: not guessed
    write(subs / "README.md", "notes")
    found = layout.discover(subs, LESSONS, tmp_path / "u")
    assert matched(found) == [
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


# --- discovery ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, found",
    [
        (("ann", "intro.ipynb"), ("ann", "intro")),
        (("submitted", "ann", "intro", "intro.ipynb"), ("ann", "intro")),
        (("export", "ann.lee_intro.ipynb"), ("ann.lee", "intro")),
        (("ann_x_basics.ipynb",), ("ann_x", "basics")),
        (("intro.ipynb",), None),
        (("submitted", "intro.ipynb"), None),
        (("ann", "notes.ipynb"), None),
        (("ann", "intro.py"), None),
    ],
)
def test_claim_finds_the_student_and_lesson_in_a_path(path, found):
    claimed = layout.claim(path, ["intro", "basics"])
    if found is None:  # why not, in words
        assert isinstance(claimed, str) and "expected" in claimed
    else:
        assert (claimed.default_id, claimed.lesson) == found


def _write(path: Path, text: str = "{}") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_discover_folder_skips_litter_and_names_odd_files(tmp_path):
    subs = tmp_path / "subs"
    _write(subs / "ann" / "intro.ipynb")
    _write(subs / "submitted" / "ben" / "basics" / "basics.ipynb")
    _write(subs / "ann" / ".ipynb_checkpoints" / "intro-checkpoint.ipynb")
    _write(subs / "Fay Lee" / "intro.ipynb")
    _write(subs / "ann" / "notes.ipynb")
    found = layout.discover(subs, ["intro", "basics"], tmp_path / "unpacked")
    assert [(f.student, f.lesson) for f in found.found] == [
        ("Fay_Lee", "intro"),
        ("ann", "intro"),
        ("ben", "basics"),
    ]
    assert found.renamed == {"Fay Lee": "Fay_Lee"}
    assert found.unmatched == [(str(subs / "ann" / "notes.ipynb"), found.unmatched[0][1])]
    assert "no lesson in the name" in found.unmatched[0][1]


def test_discover_lists_two_unordered_submissions_for_one_student_and_lesson(tmp_path):
    _write(tmp_path / "s" / "ann" / "intro.ipynb")
    _write(tmp_path / "s" / "ann_intro.ipynb")
    _write(tmp_path / "s" / "ben" / "intro.ipynb")
    found = layout.discover(tmp_path / "s", ["intro"], tmp_path / "u")
    assert [(f.student, f.lesson) for f in found.found] == [("ben", "intro")]
    assert sorted(Path(o).name for o, _ in found.unmatched) == ["ann_intro.ipynb", "intro.ipynb"]
    assert all("ann intro twice" in why for _, why in found.unmatched)


def test_discover_zip_never_writes_outside_its_folder(tmp_path):
    archive = tmp_path / "lms.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("export/ann_intro.ipynb", "{}")
        zf.writestr("/etc/ben_intro.ipynb", "{}")
        zf.writestr("../../cat_intro.ipynb", "{}")
        zf.writestr("ann/basics.ipynb", "{}")
        zf.writestr("__MACOSX/ann/._basics.ipynb", "junk")
    unpacked = tmp_path / "deep" / "unpacked"
    found = layout.discover(archive, ["intro", "basics"], unpacked)
    assert [(f.student, f.lesson) for f in found.found] == [
        ("ann", "basics"),
        ("ann", "intro"),
        ("ben", "intro"),
    ]
    assert all(f.path.parent == unpacked for f in found.found)
    assert found.unmatched == [("lms.zip:../../cat_intro.ipynb", found.unmatched[0][1])]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep", "lms.zip"]


def test_discover_rejects_what_is_neither_folder_nor_zip(tmp_path):
    with pytest.raises(layout.LayoutError, match="neither a folder nor a zip"):
        layout.discover(_write(tmp_path / "x.txt"), ["intro"], tmp_path / "u")
