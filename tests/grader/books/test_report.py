"""``course report`` (``grader.books.report``) from the grading records of a class.

Fast tests build records and output folders by hand. The slow ones grade a
small class for real: a test-only lesson whose checks name registered
misconceptions (``powers``) plus the fake ``basics`` lesson, then the report
must count every misconception exactly, with the right students, and show
nothing from the hidden tests; the same report opens in headless Chromium.
The cases of every ``tests/misconception_cases/lessonN.py`` are graded and
reported in ``tests/grader/job/test_misconception_corpus.py``, which grades them once for both. The records themselves are tested in
tests/grader/job/test_records.py and tests/grader/books/test_results.py.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from _browser import DRIVER_DIR, run_driver
from _grade import grade_args
from submissions import corpus, fake_course  # tests/ is on sys.path (rootdir imports)
from submissions.powers import (
    EX1,
    EX2,
    FAKE,
    GENERIC_IDS,
    KNOWN,
    powers_lesson,
    record_cell,
)

from course_utils.checks import all_misconceptions
from grader import cli
from grader._course import generate
from grader.books import report, results
from grader.job import feedback

pytestmark = [pytest.mark.long(28), pytest.mark.warm]

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "artifacts" / "report"
CHROMIUM = Path("/usr/bin/chromium")

# --- fast: the report from a hand-made output folder ----------------------------------------


def _folder(tmp_path: Path, with_records: bool = True) -> Path:
    out = tmp_path / "out"
    rows = [
        (
            "ann",
            "l1",
            3,
            3,
            "graded",
            [record_cell("a", "Ex A", True, points=2), record_cell("b", "Ex B", True)],
        ),
        (
            "ben",
            "l1",
            0,
            3,
            "graded",
            [
                record_cell("a", "Ex A", False, "powers.wrong_power", 2),
                record_cell("b", "Ex B", False, "course.invalid_option"),
            ],
        ),
        (
            "cat",
            "l1",
            2,
            3,
            "flagged",
            [
                record_cell("a", "Ex A", True, points=2),
                record_cell("b", "Ex B", False, "powers.wrong_power"),
            ],
        ),
        ("dan", "l1", 0, 3, "timeout", []),
        ("ann", "l2", 1, 1, "graded", [record_cell("c", "Ex C", True)]),
        ("ben", "l2", 0, 1, "missing", []),
        ("cat", "l2", 0, 1, "missing", []),
        ("dan", "l2", 0, 1, "graded", [record_cell("c", "Ex C", False, hidden_only=True)]),
    ]
    out.mkdir()
    (out / "grades.csv").write_text(
        "student_id,assignment,score,max_score\n"
        + "".join(f"{s},{lesson},{score},{best}\n" for s, lesson, score, best, _, _ in rows)
    )
    if with_records:
        (out / "records.jsonl").write_text(
            "".join(
                json.dumps(
                    {
                        "student": s,
                        "lesson": lesson,
                        "status": status,
                        "score": score,
                        "max_score": best,
                        "cells": cells,
                    }
                )
                + "\n"
                for s, lesson, score, best, status, cells in rows
            )
        )
    for student in ("ann", "ben"):
        page = out / "feedback" / student / "l1.html"
        page.parent.mkdir(parents=True)
        page.write_text("<html><body><p>nbgrader's page</p>\n</body></html>\n")
    return out


def test_report_counts_misconceptions_and_lists_students_who_need_attention(tmp_path):
    built = report.build(_folder(tmp_path), registry=KNOWN)
    assert [(o.student, o.exercise, o.id) for o in built.occurrences()] == [
        ("ben", "Ex A", "powers.wrong_power"),
        ("ben", "Ex B", "course.invalid_option"),
        ("cat", "Ex B", "powers.wrong_power"),
    ]
    rows = list(csv.reader(io.StringIO(report.misconceptions_csv(built))))
    assert rows[0] == list(report.CSV_COLUMNS)
    assert rows[1] == ["ben", "l1", "Ex A", "powers.wrong_power", FAKE["powers.wrong_power"].text]
    zero = "0 of {} points (a blank notebook, or nothing right)"
    assert built.attention() == {
        "ben": [
            f"l1: {zero.format(3)}",
            "l2: missing work",
            "2 different misconceptions: course.invalid_option, powers.wrong_power",
        ],
        "cat": ["l1: " + report.ATTENTION_STATUS["flagged"], "l2: missing work"],
        "dan": ["l1: timed out", f"l2: {zero.format(1)}"],
    }
    page = report.render(built)
    text = feedback.visible_text(page)
    assert "2 / 4 (50%)" in text  # powers.wrong_power: ben and cat, of 4 students
    assert "2. Powers of a number" in text and "Ex A" in text
    assert "1 / 3 (33%)" in text  # Ex A passed by ann and cat, of three graded l1 notebooks
    assert page.count("data:image/png;base64,") == 2  # one histogram per lesson
    assert "<script" not in page and "http" not in page  # nothing loaded from elsewhere


def test_report_names_students_hides_paths_flags_blank_work_and_shows_overrides(tmp_path):
    from grader.books import gradebook
    from grader.books.results import Outcome

    out = _folder(tmp_path)
    (out / "roster.csv").write_text(
        "student_id,name,email\nann,Ann Ash,a@x.org\nben,Ben Bo,b@x.org\n"
        "cat,Cat Cole,c@x.org\ndan,Dan Dee,d@x.org\neve,Eve Eck,e@x.org\n"
    )
    grades = list(csv.DictReader((out / "grades.csv").open()))
    gradebook.record(
        out,
        [
            Outcome(g["student_id"], g["assignment"], float(g["score"]), float(g["max_score"]))
            for g in grades
        ],
        when="w1",
    )
    (out / "overrides.csv").write_text(
        "student_id,assignment,score,adjust,policy,comment\ndan,l1,2,,fixed,graded by hand\n"
    )
    # eve handed in the released notebook untouched: graded, 0 points, no misconception named
    with (out / "records.jsonl").open("a") as fh:
        fh.write(
            json.dumps(
                {
                    "student": "eve",
                    "lesson": "l1",
                    "status": "graded",
                    "score": 0,
                    "max_score": 3,
                    "cells": [
                        record_cell("a", "Ex A", False, points=2),
                        record_cell("b", "Ex B", False),
                    ],
                }
            )
            + "\n"
        )
    gradebook.record(out, [Outcome("eve", "l1", 0, 3)], when="w1")
    built = report.build(out, registry=KNOWN)
    page = report.render(built)
    assert str(tmp_path) not in page and "<code>out</code>" in page
    assert "Eve Eck (eve)" in built.label("eve") and built.label("zed") == "zed"
    assert built.attention()["eve"] == ["l1: 0 of 3 points (a blank notebook, or nothing right)"]
    text = feedback.visible_text(page)
    attention = text[text.index("Students who need attention") :]
    assert "Eve Eck (eve)" in attention and "Ben Bo (ben)" in attention
    overrides = text[text.index("Grades set by hand") :]
    assert "Dan Dee (dan)" in overrides and "fixed at 2" in overrides
    assert "graded by hand" in overrides


def test_report_counts_who_passed_the_visible_check_but_not_the_hidden_tests(tmp_path):
    page = report.render(report.build(_folder(tmp_path), registry=KNOWN))
    assert "passed the visible check only" in page
    rows = {name: cells for name, cells in re.findall(r"<tr><td>(Ex [ABC])</td>(.*?)</tr>", page)}
    assert rows["Ex C"].endswith('<td class="num">1</td>')  # dan: told right, graded wrong
    assert rows["Ex A"].endswith('<td class="num">0</td>')  # ben failed Ex A visibly


def test_report_on_an_unregistered_id_says_so(tmp_path):
    built = report.build(_folder(tmp_path), registry=GENERIC_IDS)
    assert report.UNREGISTERED in report.misconceptions_csv(built)


def test_what_to_review_is_added_once_and_updated(tmp_path):
    out = _folder(tmp_path)
    built = report.build(out, registry=KNOWN)
    assert [p.relative_to(out).as_posix() for p in report.update_feedback(built)] == [
        "feedback/ann/l1.html",
        "feedback/ben/l1.html",
    ]
    ben = (out / "feedback" / "ben" / "l1.html").read_text()
    assert ben.count(report.REVIEW_START) == 1 and ben.index(report.REVIEW_END) < ben.index(
        "</body>"
    )
    text = feedback.visible_text(ben)
    assert "Ex A (0 / 2 points): the power is not the one asked for. Reread: “2. Powers" in text
    assert "Nothing to review" in feedback.visible_text((out / "feedback/ann/l1.html").read_text())
    assert report.update_feedback(built) == []  # the same block again: the pages are unchanged
    assert (out / "feedback" / "ben" / "l1.html").read_text() == ben
    assert report.add_review(ben, "<p>new</p>").count("<p>new</p>") == 1
    assert report.REVIEW_START not in report.add_review(ben, "<p>new</p>")


def test_course_report_on_an_older_folder_says_so_and_reports_scores(tmp_path, capsys):
    out = _folder(tmp_path, with_records=False)
    pages = {p: p.read_text() for p in (out / "feedback").rglob("*.html")}
    assert cli.main(["report", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "has no records.jsonl" in printed and "scores only" in printed
    page = (out / "report.html").read_text()
    assert 'id="no-records"' in page and page.count("data:image/png;base64,") == 2
    assert "4 score(s), missing work counted as 0; mean score 1.25 of 3" in feedback.visible_text(
        page
    )
    assert (out / "misconceptions.csv").read_text() == ",".join(report.CSV_COLUMNS) + "\n"
    assert {p: p.read_text() for p in pages} == pages  # feedback untouched


def test_course_report_needs_a_grading_folder(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path)]) == 2
    assert "has no grades.csv" in capsys.readouterr().out


# --- slow: a class graded for real, then reported -------------------------------------------


def _save(nb, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def _answer(nb, grade_id: str, source: str):
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    next(
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id
    ).source = source
    return nb


# student -> powers answers (None: the solution); ann also submits basics, nobody else does.
CLASS = {
    "ann": {},
    "ben": {"power_answer": "def power_of(x):\n    return x ** 3", "q1_answer": "answer_q1 = 'Z'"},
    "cat": {
        "power_answer": "def power_of(x):\n    raise ValueError('not yet')",
        "q1_answer": "answer_q1 = 'A'",
    },
    "dan": None,  # the blank student notebook
    "eve": {
        "power_answer": "def power_of(x):\n    return 4 if x == 2 else 0",
        "q1_answer": "answer_q1 = 'A'",
    },
}
EXPECTED_ROWS = [
    ("ben", "powers", EX1, "powers.wrong_power"),
    ("ben", "powers", EX2, "course.invalid_option"),
    ("cat", "powers", EX1, "course.code_error"),
    ("cat", "powers", EX2, "powers.head_sets_input"),
    ("eve", "powers", EX2, "powers.head_sets_input"),
]


def _grade_class(tmp: Path, students: dict, basics: bool = True) -> dict:
    """``students`` (name -> answers, as ``CLASS``) graded with `course grade` (two jobs)."""
    course = fake_course.make(tmp / "course")
    _save(powers_lesson(), course / "solutions" / "powers" / "powers.ipynb")
    scratch = generate(course, ["powers", "basics"], tmp / "gen")
    released = {
        name: nbformat.read(scratch.release(name) / f"{name}.ipynb", as_version=4)
        for name in ("powers", "basics")
    }
    sources = {
        name: nbformat.read(course / "solutions" / name / f"{name}.ipynb", as_version=4)
        for name in ("powers", "basics")
    }
    subs, out = tmp / "subs", tmp / "out"
    for student, answers in students.items():
        nb = (
            released["powers"]
            if answers is None
            else corpus.answered(released["powers"], sources["powers"])
        )
        for grade_id, source in (answers or {}).items():
            nb = _answer(nb, grade_id, source)
        _save(nb, subs / student / "powers.ipynb")
    if basics:
        _save(corpus.answered(released["basics"], sources["basics"]), subs / "ann" / "basics.ipynb")
    args = grade_args(course, out, submissions=subs, jobs=2)
    assert cli.main(args) == 0
    secrets = {
        name: feedback.Secrets.from_notebooks(sources[name], released[name]) for name in sources
    }
    return {"out": out, "secrets": secrets, "course": course}


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """The class above graded with `course grade` (two jobs), then `course report`."""
    return _grade_class(tmp_path_factory.mktemp("class"), CLASS)


@pytest.fixture(scope="module")
def reported(graded_class):
    from unittest import mock

    with mock.patch(
        "course_utils.checks.all_misconceptions", lambda: {**all_misconceptions(), **FAKE}
    ):
        assert cli.main(["report", str(graded_class["out"])]) == 0
        first = {p: p.read_text() for p in (graded_class["out"] / "feedback").rglob("*.html")}
        assert cli.main(["report", str(graded_class["out"])]) == 0  # again: nothing added twice
    return {**graded_class, "first": first}


@pytest.mark.slow
def test_grading_records_say_which_cells_failed_and_why(graded_class):
    records = {(r["student"], r["lesson"]): r for r in results.read_records(graded_class["out"])}
    assert records[("ben", "basics")]["status"] == "missing"
    assert [c.passed for c in records[("ann", "powers")]["cells"]] == [True, True]
    eve = records[("eve", "powers")]["cells"]
    # eve's power_of(2) is 4, so the visible check passed; the hidden power_of(-3) failed.
    assert [(c.exercise, c.passed, c.misconception, c.hidden_only) for c in eve] == [
        (EX1, False, None, True),
        (EX2, False, "powers.head_sets_input", False),
    ]
    ben = records[("ben", "powers")]["cells"]
    assert [c.hidden_only for c in ben] == [False, False]  # failed the visible checks
    dan = records[("dan", "powers")]["cells"]
    assert [(c.passed, c.misconception) for c in dan] == [(False, None), (False, None)]


@pytest.mark.slow
def test_class_report_counts_each_misconception_exactly(reported):
    out = reported["out"]
    rows = list(csv.DictReader((out / "misconceptions.csv").open()))
    assert [
        (r["student_id"], r["lesson"], r["exercise"], r["misconception_id"]) for r in rows
    ] == EXPECTED_ROWS
    assert {r["misconception_id"]: r["text"] for r in rows}["powers.wrong_power"] == FAKE[
        "powers.wrong_power"
    ].text
    text = feedback.visible_text((out / "report.html").read_text())
    assert "the head decides the input size" in text and "2 / 5 (40%)" in text
    assert "1 / 5 (20%)" in text and "3. What the head does" in text
    attention = text[text.index("Students who need attention") :]
    for student in ("ben", "cat", "dan", "eve"):
        assert f"{student}basics: missing work" in attention
    assert "ann" not in attention
    assert "2 different misconceptions: course.invalid_option, powers.wrong_power" in attention


@pytest.mark.slow
def test_class_report_shows_nothing_from_hidden_tests(reported):
    out = reported["out"]
    page = (out / "report.html").read_text()
    table = (out / "misconceptions.csv").read_text()
    kept = (out / "records.jsonl").read_text()
    for secrets in reported["secrets"].values():
        assert feedback.leaks(page, secrets.hidden | secrets.solution) == []
        assert [s for s in secrets.hidden | secrets.solution if s in table + kept] == []
    for text in (page, table, kept):
        assert "HIDDEN-ONLY" not in text and "power_of(-3)" not in text


@pytest.mark.slow
def test_feedback_pages_say_what_to_review_once(reported):
    out = reported["out"]
    pages = {p: p.read_text() for p in (out / "feedback").rglob("*.html")}
    assert pages == reported["first"]  # the second run changed nothing
    for page in pages.values():
        assert page.count(report.REVIEW_START) == 1
    ben = feedback.visible_text(pages[out / "feedback" / "ben" / "powers.html"])
    review = ben[ben.index("What to review") :]
    assert f"{EX1} (0 / 2 points): the power is not the one asked for. Reread: “2. Powers" in review
    assert f"{EX2} (0 / 1 points): not a valid option" in review
    eve = feedback.visible_text(pages[out / "feedback" / "eve" / "powers.html"])
    assert "Correct: power_of(2) is 4" not in eve  # the visible check passed, the cell did not
    assert (
        "Passed the visible check (power_of(2) is 4), but a later test in this cell failed" in eve
    )
    assert f"✗ Failed{EX1}" in eve and "Test cell" not in eve
    ann = feedback.visible_text(pages[out / "feedback" / "ann" / "powers.html"])
    assert "Correct: power_of(2) is 4" in ann and f"✓ Passed{EX1}" in ann


def _skip_without_browser() -> None:
    fix = "run .ci/install-browser.sh"
    if not CHROMIUM.exists():
        pytest.skip(f"needs Debian's chromium at {CHROMIUM}: {fix}")
    if shutil.which("node") is None:
        pytest.skip(f"needs node >= 20 on PATH: {fix}")
    if not (DRIVER_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.skip(f"needs playwright-core in {DRIVER_DIR / 'node_modules'}: {fix}")


def _open_in_chromium(page: Path, screenshot: Path, tmp_path: Path) -> dict:
    """What headless Chromium shows for ``page`` (only the file itself may load); skip without it."""
    _skip_without_browser()
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    plan = {
        "chromium": str(CHROMIUM),
        "path": str(page),
        "screenshot": str(screenshot),
        "resultPath": str(tmp_path / f"{screenshot.stem}.json"),
        "timeoutMs": 60_000,
    }
    result = run_driver(
        "open_page.mjs", plan, tmp_path / f"{screenshot.stem}-plan.json", timeout=180
    )
    print(f"screenshot: {screenshot}")
    assert screenshot.stat().st_size > 10_000
    return result


@pytest.mark.slow
@pytest.mark.browser
def test_report_opens_in_headless_chromium(reported, tmp_path):
    seen = _open_in_chromium(reported["out"] / "report.html", ARTIFACTS / "report.png", tmp_path)
    assert seen["refused"] == [] and seen["scripts"] == 0 and seen["consoleErrors"] == []
    assert seen["headings"][:3] == ["Class report", "Pass rate per lesson and exercise", "basics"]
    assert "Most frequent misconceptions" in seen["headings"]
    assert len(seen["images"]) == 2
    assert all(i["complete"] and i["width"] > 100 and i["height"] > 100 for i in seen["images"])
    assert "the head decides the input size" in seen["text"]
    # A student's page: failed in red and in words, no "Correct" over a lost point, what to review.
    seen = _open_in_chromium(
        reported["out"] / "feedback" / "eve" / "powers.html",
        ARTIFACTS / "feedback-eve.png",
        tmp_path,
    )
    assert f"✗ Failed{EX1}" in seen["text"].replace("\n", "") and "What to review" in seen["text"]
    assert "Correct: power_of(2) is 4" not in seen["text"]


# --- misconceptions come from the guard's signed data, which a student cannot forge -----------

# A wrong answer whose error claims another misconception than its checker's (or none at all).
FORGED = {
    # The hidden test calls power_of(-3): it raises the checker's own error, naming a
    # misconception of its choice (before: the record named powers.head_sets_input).
    "mal": {
        "power_answer": "def power_of(x):\n    if x == 2:\n        return 4\n"
        "    fail('9', 'nine', 'trust me', HEAD_SETS_INPUT)",
        # An answer whose repr() raises the checker's error naming powers.wrong_power (before
        # check_choice showed answers with repr(), and the record named it). Now check_choice
        # runs no method of an answer that is not a str: it refuses it itself.
        "q1_answer": "class Answer:\n    def __repr__(self):\n"
        "        fail('B', 'B', 'none', WRONG_POWER)\nanswer_q1 = Answer()",
    },
    # An error whose text ends with a Review line, and a subclass of the checker's error.
    "max": {
        "power_answer": "def power_of(x):\n    if x == 2:\n        return 4\n"
        "    raise AssertionError('Review: 3. What the head does [powers.head_sets_input]')",
        "q1_answer": "from course_utils.checks import ExerciseError\n"
        "class Mine(ExerciseError):\n    pass\n"
        "class Answer:\n    def __repr__(self):\n"
        "        raise Mine('B', 'B', 'none', WRONG_POWER)\nanswer_q1 = Answer()",
    },
    # IPython's traceback text without its "Cell In[N], line L" lines (%xmode Minimal): the
    # hidden-only failure is still found (before: hidden_only was False).
    "fay": {
        "power_answer": "get_ipython().run_line_magic('xmode', 'Minimal')\n"
        "def power_of(x):\n    return 4 if x == 2 else 0",
        "q1_answer": "answer_q1 = 'A'",
    },
}


@pytest.fixture(scope="module")
def forged_class(tmp_path_factory):
    return _grade_class(tmp_path_factory.mktemp("forged"), FORGED, basics=False)


@pytest.mark.slow
def test_a_student_cannot_forge_the_misconception_or_a_pass_in_the_records(forged_class):
    records = {r["student"]: r for r in results.read_records(forged_class["out"])}
    seen = {
        student: [(c.exercise, c.passed, c.misconception, c.hidden_only) for c in r["cells"]]
        for student, r in records.items()
    }
    refused = "course.invalid_option"  # the checker's own refusal of an answer that is no str
    for student in ("mal", "max"):
        assert seen[student] == [(EX1, False, None, True), (EX2, False, refused, False)], student
        assert records[student]["score"] == 0 and records[student]["status"] == "graded"
    assert seen["fay"] == [(EX1, False, None, True), (EX2, False, "powers.head_sets_input", False)]


@pytest.mark.slow
def test_the_report_names_the_misconception_whatever_ipythons_traceback_text(forged_class):
    """``fay`` turned IPython's tracebacks to one line (no ``Cell In[N], line L``)."""
    built = report.build(forged_class["out"], registry=KNOWN)
    assert {(o.student, o.exercise, o.id) for o in built.occurrences()} == {
        ("fay", EX2, "powers.head_sets_input"),
        ("mal", EX2, "course.invalid_option"),  # the checker's own refusals, not the forgeries
        ("max", EX2, "course.invalid_option"),
    }
    page = feedback.visible_text(report.render(built))
    assert "passed the visible check only" in page


def test_pages_from_templates_escape_what_they_show(tmp_path):
    """The report and the plain feedback page come from Jinja templates that escape every value."""
    hostile = "<script>alert(1)</script>"
    page = feedback.fallback_page(hostile, "l1", 2, 8.5, f"why: {hostile} & more")
    assert hostile not in page and "&lt;script&gt;" in page
    assert "Score: 2 / 8.5" in feedback.visible_text(page)
    assert f"why: {hostile} & more" in feedback.visible_text(page)
    out = _folder(tmp_path)
    (out / "roster.csv").write_text(f"student_id,name,email\nben,{hostile},b@x.org\n")
    built = report.build(out, registry=KNOWN)
    page = report.render(built)
    assert hostile not in page and page.endswith("</body></html>\n")
    assert f"{hostile} (ben)" in feedback.visible_text(page)
