"""``course grade`` and ``course grades`` through the CLI: their errors before any grading, and three
weeks of the fake two-lesson course graded into one gradebook, with a roster, a manual override
and an unmatched file.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import nbformat
import pytest
from _grade import grade_args
from _lms import rows, write
from submissions import corpus, fake_course  # tests/ is on sys.path (rootdir imports)

from grader import cli
from grader._course import generate
from grader.commands.grade import progress_bar

pytestmark = [pytest.mark.long(26), pytest.mark.warm]

# --- the commands' errors, before any grading ---------------------------------------------


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return fake_course.make(tmp_path_factory.mktemp("fake") / "course")


def test_a_lesson_nobody_submitted_is_an_error_naming_what_was_found(course, tmp_path, capsys):
    subs = tmp_path / "subs"
    write(subs / "ann" / "intro.ipynb")
    write(subs / "ben_intro.ipynb")
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
    write(subs / "ann" / "intro10.ipynb")
    write(subs / "notes" / "homework.ipynb")
    code = cli.main(
        ["grade", "--root", str(course), "--submissions", str(subs), "--out", str(tmp_path / "out")]
    )
    printed = capsys.readouterr().out
    assert code == 2
    assert "2 file(s) NOT GRADED" in printed
    assert "ann/intro10.ipynb" in printed and "notes/homework.ipynb" in printed


def test_a_damaged_gradebook_stops_grading_before_it_starts(course, tmp_path, capsys):
    write(tmp_path / "subs" / "ann" / "intro.ipynb")
    write(tmp_path / "out" / "gradebook.csv", "student,lesson\nann,intro\n")
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
    r = write(
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
    saved = rows((out / "not_graded.csv").read_text())
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
    book = [row[:5] for row in rows((out / "gradebook.csv").read_text())]
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
    write(
        out / "overrides.csv",
        "student_id,assignment,score,adjust,comment\ngus,intro,2,,emailed the notebook\n",
    )
    assert cli.main(["grades", "--out", str(out)]) == 0
    assert rows((out / "exports" / "grades_wide.csv").read_text())[1:] == [
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
    assert rows((out / "exports" / "moodle_import.csv").read_text())[3] == [
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


def test_progress_bar_shows_the_time_left():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    with progress_bar(3, file=screen) as bar:
        bar.update(1)
        bar.update(1)
    assert "2/3" in screen.getvalue() and "<" in screen.getvalue()
    quiet = io.StringIO()  # not a terminal (a log file): no bar
    with progress_bar(3, file=quiet) as bar:
        bar.update(3)
    assert quiet.getvalue() == ""
