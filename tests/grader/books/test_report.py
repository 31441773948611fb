"""``course report`` and the grading records it reads (``grader.books.report``, ``grader.job.records``).

Fast tests build records and output folders by hand. The slow ones grade a
small class for real: a test-only lesson whose checks name registered
misconceptions (``powers``) plus the fake ``basics`` lesson, then the report
must count every misconception exactly, with the right students, and show
nothing from the hidden tests; the same report opens in headless Chromium.
The cases of every ``tests/misconception_cases/lessonN.py`` are graded and
reported in ``tests/grader/job/test_misconception_corpus.py``, which grades them once for both.
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
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from submissions import corpus, fake_course  # tests/ is on sys.path (rootdir imports)

from course_utils.checks import Misconception, all_misconceptions
from course_utils.checks._feedback import GENERIC
from grader import cli
from grader._course import generate
from grader.books import report, results
from grader.job import feedback
from grader.job import records as grading

pytestmark = [pytest.mark.long(28), pytest.mark.warm]

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "artifacts" / "report"
CHROMIUM = Path("/usr/bin/chromium")

# --- a test-only lesson whose checks name registered misconceptions --------------------------

FAKE = {
    m.id: m
    for m in (
        Misconception(
            "powers.wrong_power", "the power is not the one asked for", "2. Powers of a number"
        ),
        Misconception(
            "powers.head_sets_input", "the head decides the input size", "3. What the head does"
        ),
    )
}
GENERIC_IDS = {m.id: m for m in GENERIC.values()}
KNOWN = {**GENERIC_IDS, **FAKE}  # what the fast tests look ids up in (no torch import)
HIDDEN_MESSAGE = "HIDDEN-ONLY the negative case"

SETUP = (
    "from course_utils.checks import Misconception, check_choice, correct, fail\n"
    "from course_utils.checks._feedback import call_student\n"
    + "".join(
        f"{m.id.split('.')[1].upper()} = Misconception({m.id!r}, {m.text!r}, {m.section!r})\n"
        for m in FAKE.values()
    )
)
POWER_TESTS = (
    "value = call_student(power_of, 2, what='power_of(2)')\n"
    "if value != 4:\n"
    "    fail('4 for power_of(2)', repr(value), 'multiply x by itself', WRONG_POWER)\n"
    "correct('power_of(2) is 4')\n"
    "### BEGIN HIDDEN TESTS\n"
    f"assert power_of(-3) == 9, {HIDDEN_MESSAGE!r}\n"
    "### END HIDDEN TESTS"
)
Q1_TESTS = (
    "check_choice(answer_q1, 'B', {'A': ('tempting: the head is the first layer', "
    "HEAD_SETS_INPUT), 'C': 'tempting: swapping shrinks the model'}, "
    "question='what does the head do?', confirmation='the head maps features to class scores')\n"
    "### BEGIN HIDDEN TESTS\n"
    "assert str.__str__(answer_q1).strip().upper() == 'B', 'HIDDEN-ONLY q1 is B'\n"
    "### END HIDDEN TESTS"
)
EX1 = "Exercise 1 — write power_of"
EX2 = "Exercise 2: what does the head do?"


def powers_lesson():
    """Lesson ``powers``: write ``power_of`` (2 points), then pick option B (1 point)."""
    cell = fake_course._cell
    nb = new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        new_markdown_cell("# Powers: a test-only lesson"),
        cell(new_code_cell, SETUP, "setup", locked=True),
        new_markdown_cell("## 2. Powers of a number\n\nSquaring multiplies a number by itself."),
        new_markdown_cell("### Exercise 1 — write power_of (2 points)\n\nReturn `x` squared."),
        cell(
            new_code_cell,
            "def power_of(x):\n    ### BEGIN SOLUTION\n"
            "    return x ** 2  # the secret step\n    ### END SOLUTION",
            "power_answer",
            solution=True,
        ),
        cell(new_code_cell, POWER_TESTS, "power_tests", grade=True, locked=True, points=2),
        new_markdown_cell("## 3. What the head does"),
        new_markdown_cell("### Exercise 2 (1 point): what does the head do?\n\nA, B or C."),
        cell(
            new_code_cell,
            "### BEGIN SOLUTION\nanswer_q1 = 'B'\n### END SOLUTION",
            "q1_answer",
            solution=True,
        ),
        cell(new_code_cell, Q1_TESTS, "q1_tests", grade=True, locked=True, points=1),
    ]
    return nb


# --- fast: records from a graded notebook ---------------------------------------------------


def _graded(outputs: dict[str, list]):
    nb = powers_lesson()
    for c in nb.cells:
        grade_id = c.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in outputs:
            c.outputs = outputs[grade_id]
    return nb


def _error(evalue: str):
    return new_output("error", ename="ExerciseError", evalue=evalue, traceback=["...", evalue])


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
    graded = _graded(
        {
            "power_tests": [_error(message)],
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


def test_present_names_exercises_and_never_says_correct_in_a_failed_cell():
    graded = _graded(
        {
            "power_tests": [
                new_output("stream", name="stdout", text="Correct: power_of(2) is 4\n"),
                _error(HIDDEN_MESSAGE),
            ],
            "q1_tests": [new_output("stream", name="stdout", text="Correct: the head maps\n")],
        }
    )
    feedback.present(graded, powers_lesson())
    cells = {
        c.metadata["nbgrader"]["grade_id"]: c
        for c in graded.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }
    assert cells["power_tests"].metadata["course"]["label"] == EX1
    failed = cells["power_tests"].outputs[0].text
    assert "Correct" not in failed and failed.startswith(
        "Passed the visible check (power_of(2) is 4)"
    )
    assert "a later test in this cell failed" in failed
    assert cells["q1_tests"].outputs[0].text == "Correct: the head maps\n"  # it passed


def test_write_records_accumulates_and_keeps_a_different_earlier_file(tmp_path):
    from grader.books.results import Outcome

    first = [Outcome("ann", "powers", 2.0, 3.0, cells=[_cell("a", "Ex A", True, points=2)])]
    path, backup = results.write_records(tmp_path, first)
    assert backup is None and results.write_records(tmp_path, first) == (path, None)
    first[0].score = 3.0
    path, backup = results.write_records(tmp_path, first)
    assert backup is not None and '"score": 2.0' in backup.read_text()
    assert [r["score"] for r in results.read_records(tmp_path)] == [3.0]
    # Next week, another lesson into the same folder: last week's records stay.
    week2 = [Outcome("ann", "basics", 1.0, 1.0), Outcome("bob", "basics", 0.0, 1.0)]
    results.write_records(tmp_path, week2)
    kept = {(r["student"], r["lesson"]): r["score"] for r in results.read_records(tmp_path)}
    assert kept == {("ann", "powers"): 3.0, ("ann", "basics"): 1.0, ("bob", "basics"): 0.0}
    path.write_text("not json\n")
    with pytest.raises(ValueError, match="line 1: not JSON"):
        results.read_records(tmp_path)


def test_feedback_template_names_exercises_and_marks_pass_and_fail():
    import nbgrader
    from nbconvert.exporters import HTMLExporter
    from traitlets.config import Config

    nb = _graded({"power_tests": [_error("wrong")]})
    feedback.present(nb, powers_lesson())
    for c in nb.cells:
        meta = c.metadata.get("nbgrader", {})
        if meta.get("grade"):
            meta["score"] = 0 if meta["grade_id"] == "power_tests" else meta["points"]
    config = Config()
    feedback.template_config(config)
    config.HTMLExporter.extra_template_paths = [
        str(  # what nbgrader's GenerateFeedback adds
            Path(nbgrader.__file__).parent
            / "server_extensions"
            / "formgrader"
            / "static"
            / "node_modules"
            / "bootstrap"
            / "dist"
            / "css"
        )
    ]
    page, _ = HTMLExporter(config=config).from_notebook_node(
        nb,
        resources={
            "nbgrader": {"notebook": "powers", "score": 1, "max_score": 3, "late_penalty": 0}
        },
    )
    text = feedback.visible_text(page)
    contents = text[text.index("powers (Score") : text.index("Powers: a test-only lesson")]
    assert "Test cell" not in contents
    assert f"✗ Failed{EX1} (Score: 0.0 / 2.0)" in contents
    assert f"✓ Passed{EX2} (Score: 1.0 / 1.0)" in contents
    assert page.count("course-cell-fail") >= 1 and page.count("course-cell-pass") >= 1
    # Offline by design: nothing loaded from elsewhere (nbconvert's mathjax() loads a CDN).
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page, re.IGNORECASE)
    assert "mathjax" not in page.lower()


# --- fast: the report from a hand-made output folder ----------------------------------------


def _cell(
    grade_id, exercise, passed, misconception=None, points=1.0, section="s", hidden_only=False
):
    return {
        "grade_id": grade_id,
        "exercise": exercise,
        "section": section,
        "score": points if passed else 0.0,
        "max_score": points,
        "passed": passed,
        "misconception": misconception,
        "hidden_only": hidden_only,
    }


def _folder(tmp_path: Path, with_records: bool = True) -> Path:
    out = tmp_path / "out"
    rows = [
        (
            "ann",
            "l1",
            3,
            3,
            "graded",
            [_cell("a", "Ex A", True, points=2), _cell("b", "Ex B", True)],
        ),
        (
            "ben",
            "l1",
            0,
            3,
            "graded",
            [
                _cell("a", "Ex A", False, "powers.wrong_power", 2),
                _cell("b", "Ex B", False, "course.invalid_option"),
            ],
        ),
        (
            "cat",
            "l1",
            2,
            3,
            "flagged",
            [_cell("a", "Ex A", True, points=2), _cell("b", "Ex B", False, "powers.wrong_power")],
        ),
        ("dan", "l1", 0, 3, "timeout", []),
        ("ann", "l2", 1, 1, "graded", [_cell("c", "Ex C", True)]),
        ("ben", "l2", 0, 1, "missing", []),
        ("cat", "l2", 0, 1, "missing", []),
        ("dan", "l2", 0, 1, "graded", [_cell("c", "Ex C", False, hidden_only=True)]),
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
                    "cells": [_cell("a", "Ex A", False, points=2), _cell("b", "Ex B", False)],
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


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """The class above graded with `course grade` (two jobs), then `course report`."""
    tmp = tmp_path_factory.mktemp("class")
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
    for student, answers in CLASS.items():
        nb = (
            released["powers"]
            if answers is None
            else corpus.answered(released["powers"], sources["powers"])
        )
        for grade_id, source in (answers or {}).items():
            nb = _answer(nb, grade_id, source)
        _save(nb, subs / student / "powers.ipynb")
    _save(corpus.answered(released["basics"], sources["basics"]), subs / "ann" / "basics.ipynb")
    args = grade_args(course, out, submissions=subs, jobs=2)
    assert cli.main(args) == 0
    secrets = {
        name: feedback.Secrets.from_notebooks(sources[name], released[name]) for name in sources
    }
    return {"out": out, "secrets": secrets, "course": course}


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
    assert [c["passed"] for c in records[("ann", "powers")]["cells"]] == [True, True]
    eve = records[("eve", "powers")]["cells"]
    # eve's power_of(2) is 4, so the visible check passed; the hidden power_of(-3) failed.
    assert [(c["exercise"], c["passed"], c["misconception"], c["hidden_only"]) for c in eve] == [
        (EX1, False, None, True),
        (EX2, False, "powers.head_sets_input", False),
    ]
    ben = records[("ben", "powers")]["cells"]
    assert [c["hidden_only"] for c in ben] == [False, False]  # failed the visible checks
    dan = records[("dan", "powers")]["cells"]
    assert [(c["passed"], c["misconception"]) for c in dan] == [(False, None), (False, None)]


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
